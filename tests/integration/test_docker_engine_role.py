"""The docker_engine role on real lab hosts, beyond molecule's converge/idempotence/verify sequence:
check mode on a host with nothing installed, bad input, and an upgrade that restarts the daemons so the
running engine is the installed one (Debian's docker.io alone would leave the old dockerd running)."""
from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import lab

ROOT = Path(__file__).resolve().parents[2]

PLAY = """
- hosts: all
  gather_facts: false
  roles:
    - role: fleetsafe.container_engine.docker_engine
      vars:
        docker_engine_apt_source: "{{ fleetsafe_lab_apt_source }}"
        docker_engine_version: "{{ engine_version | default(fleetsafe_lab_sets[set].docker_engine_version) }}"
        docker_engine_cli_version: "{{ fleetsafe_lab_sets[set].docker_engine_cli_version }}"
        docker_engine_containerd_version: "{{ fleetsafe_lab_sets[set].docker_engine_containerd_version }}"
        docker_engine_extra_packages: "{{ fleetsafe_lab_sets[set].docker_engine_extra_packages }}"
"""


def play(host: lab.LabHost, env: dict, extra: dict, check: bool = False) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "inv.yml").write_text(lab.inventory_text([host.name]))
        (Path(tmp) / "play.yml").write_text(PLAY)
        (Path(tmp) / "vars.json").write_text(json.dumps(extra))
        cmd = [str(ROOT / ".venv/bin/ansible-playbook"), "-i", f"{tmp}/inv.yml", "-e", f"@{tmp}/vars.json",
               f"{tmp}/play.yml"] + (["--check"] if check else [])
        return subprocess.run(cmd, env=dict(env, ANSIBLE_NOCOLOR="1"), capture_output=True, text=True, check=False)


def installed(host: lab.LabHost) -> dict:
    out = host.exec(["dpkg-query", "-W", "-f=${Package} ${Status} ${Version}\n"]).stdout
    return {p: v for p, *status, v in (line.split(" ") for line in out.splitlines())
            if "installed" in status and p in ("docker.io", "docker-cli", "containerd", "runc", "tini")}


def test_check_mode_on_a_fresh_host_reports_changes_and_installs_nothing(lab_host_factory, ansible_env):
    host = lab_host_factory()
    res = play(host, ansible_env, {"set": "old"}, check=True)
    assert res.returncode == 0, res.stdout[-3000:]
    assert "changed=" in res.stdout and "changed=0" not in res.stdout
    assert installed(host) == {}
    assert host.exec(["test", "-e", "/etc/apt/sources.list.d/fleetsafe-docker-engine.list"], check=False).returncode


def test_malformed_version_is_one_clear_error_and_changes_nothing(lab_host_factory, ansible_env):
    host = lab_host_factory("old")
    before = installed(host)
    res = play(host, ansible_env, {"set": "old", "engine_version": "twenty.ten"})
    assert res.returncode != 0
    assert "docker_engine: nothing to install or a malformed version" in res.stdout
    assert res.stdout.count("fatal:") == 1 and "Traceback" not in res.stdout + res.stderr
    assert installed(host) == before


def test_unknown_version_fails_before_touching_the_engine(lab_host_factory, ansible_env):
    host = lab_host_factory("old")
    before = installed(host)
    pid = host.exec(["systemctl", "show", "-p", "MainPID", "--value", "docker"]).stdout.strip()
    res = play(host, ansible_env, {"set": "old", "engine_version": "99.0.0+dfsg1-1"})
    assert res.returncode != 0
    assert "99.0.0+dfsg1-1" in res.stdout  # apt's own words name the missing version
    assert installed(host) == before
    assert host.exec(["systemctl", "show", "-p", "MainPID", "--value", "docker"]).stdout.strip() == pid


def test_upgrade_restarts_so_the_running_engine_is_the_installed_one(lab_host_factory, ansible_env):
    host = lab_host_factory("old")
    res = play(host, ansible_env, {"set": "mid"})
    assert res.returncode == 0, res.stdout[-3000:]
    assert "docker_engine: running 26.1.5+dfsg1, API 1.45 (min 1.24)" in res.stdout
    server = json.loads(host.exec(["docker", "version", "--format", "{{json .Server}}"]).stdout)
    assert server["Version"] == "26.1.5+dfsg1"
    assert installed(host)["docker.io"] == lab.MANIFEST["sets"]["mid"]["docker.io"]
    held = set(host.exec(["apt-mark", "showhold"]).stdout.split())
    assert held == set(lab.MANIFEST["sets"]["mid"])
    res = play(host, ansible_env, {"set": "mid"})
    assert res.returncode == 0 and "changed=0" in res.stdout, res.stdout[-3000:]
