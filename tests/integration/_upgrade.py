"""Helpers for the upgrade role's tests on lab hosts: run the role, seed a host with a container that
keeps data in a named volume, and read what runs."""
from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import lab

ROOT = Path(__file__).resolve().parents[2]

TARGETS = {
    "mid": {"engine": "26.1.5", "containerd": "1.7.24"},
    "new": {"engine": "28.5.2", "containerd": "2.1.9"},
    "old": {"engine": "20.10.24", "containerd": "1.6.20"},
}
# What the sets install beside the engine (runc stays bookworm's; the new set's docker.io needs tini-static).
EXTRA = {"mid": {"runc": ""}, "new": {"runc": "", "tini-static": ""}, "old": {}}

PLAY = """
- hosts: all
  gather_facts: false
  tasks:
    - name: The role, as a user includes it in a play of their own
      block:
        - ansible.builtin.include_role:
            name: fleetsafe.container_engine.upgrade
      always:
        - ansible.builtin.copy:
            content: "{{ upgrade_result | default({}) | to_json }}"
            dest: "{{ result_file }}"
            mode: "0600"
          delegate_to: localhost
          changed_when: false
          check_mode: false
"""


class Run:
    def __init__(self, proc: subprocess.CompletedProcess, result: dict):
        self.proc, self.result = proc, result
        self.rc, self.out = proc.returncode, proc.stdout + proc.stderr

    def __repr__(self) -> str:
        fatal = [line[:3000] for line in self.out.splitlines() if "fatal:" in line or "FAILED!" in line]
        return f"rc={self.rc}\n" + "\n".join(fatal) + f"\n...\n{self.out[-1500:]}"


def play_cmd(host: lab.LabHost, tmp: str, target: str | dict, check: bool = False, tags: str | None = None,
             **role_vars) -> tuple[list[str], Path]:
    """The ansible-playbook command that runs the upgrade role against one lab host (files written in ``tmp``), and
    the file it writes upgrade_result to; the lab repository is the role's apt source."""
    vars_ = {
        "upgrade_target": TARGETS[target] if isinstance(target, str) else target,
        "upgrade_apt_source": lab.REPO_LINE,
        "upgrade_extra_packages": EXTRA[target] if isinstance(target, str) else {},
        "upgrade_smoke_image": "busybox:lab",
        "upgrade_containerd_allow_line_skip": True,
    }
    vars_.update(role_vars)
    (Path(tmp) / "inv.yml").write_text(lab.inventory_text([host.name]))
    (Path(tmp) / "play.yml").write_text(PLAY)
    vars_["result_file"] = f"{tmp}/result.json"
    (Path(tmp) / "vars.json").write_text(json.dumps(vars_))
    cmd = [str(ROOT / ".venv/bin/ansible-playbook"), "-i", f"{tmp}/inv.yml", "-e", f"@{tmp}/vars.json",
           f"{tmp}/play.yml"] + (["--check"] if check else []) + (["--tags", tags] if tags else [])
    return cmd, Path(vars_["result_file"])


def read_result(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() and path.read_text().strip() else {}


def play(host: lab.LabHost, env: dict, target: str | dict, check: bool = False, tags: str | None = None,
         **role_vars) -> Run:
    """Run the upgrade role against one lab host; the lab repository is the role's apt source."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd, res = play_cmd(host, tmp, target, check, tags, **role_vars)
        proc = subprocess.run(cmd, env=dict(env, ANSIBLE_NOCOLOR="1"), capture_output=True, text=True, check=False)
        result = read_result(res)
    return Run(proc, result)


def start(factory, set_name: str) -> lab.LabHost:
    """A lab host at a version set of the manifest (as the repository resolved it), busybox:lab loaded."""
    host = factory(set_name)
    host.load_busybox()
    return host


def drop_host_sources(host: lab.LabHost) -> None:
    """The host keeps no apt source of its own: the role's source is the only one, and the rollback must
    do without it."""
    host.sh("rm -f /etc/apt/sources.list.d/*.list")


# The keeper's loop. A shell that is a container's PID 1 ignores SIGTERM unless it traps it, so every stop of such a
# container (each engine restart, each rollback) waits out docker stop's 10 s grace before SIGKILL; the trapping loop
# exits at once (`wait` is interrupted by the trapped signal). Tests whose kill points are timed on that grace
# (test_upgrade_dead_controller) keep the loop that ignores it.
KEEPER_LOOP = "while true; do date >> /data/log; sleep 2; done"
KEEPER_LOOP_STOPS_ON_TERM = 'trap "exit 0" TERM; while true; do date >> /data/log; sleep 2 & wait $!; done'


def seed(host: lab.LabHost, stops_on_term: bool = False) -> str:
    """A container keeping data in a named volume (restart unless-stopped); returns the data's checksum. With
    STOPS_ON_TERM its loop exits on SIGTERM, so stopping it costs no grace period."""
    host.load_busybox()
    loop = KEEPER_LOOP_STOPS_ON_TERM if stops_on_term else KEEPER_LOOP
    host.sh("docker volume create keeper-data >/dev/null\n"
            "docker run --rm -v keeper-data:/data busybox:lab sh -c "
            "'head -c 65536 /dev/urandom > /data/blob; echo keep > /data/note'\n"
            "docker run -d --name keeper --restart unless-stopped -v keeper-data:/data busybox:lab "
            f"sh -c '{loop}' >/dev/null")
    return checksum(host)


def checksum(host: lab.LabHost) -> str:
    return host.sh("docker run --rm -v keeper-data:/data busybox:lab md5sum /data/blob /data/note").stdout


def running(host: lab.LabHost) -> dict[str, str]:
    out = host.exec(["docker", "ps", "-a", "--format", "{{.Names}} {{.State}}"]).stdout
    return dict(line.split(" ", 1) for line in out.splitlines())


def versions(host: lab.LabHost) -> tuple[str, str]:
    server = json.loads(host.exec(["docker", "version", "--format", "{{json .Server}}"]).stdout)
    ctr = [c["Version"] for c in server["Components"] if c["Name"] == "containerd"][0]
    return server["Version"], ctr


def packages(host: lab.LabHost) -> dict[str, str]:
    out = host.exec(["dpkg-query", "-W", "-f=${Package}\t${db:Status-Abbrev}\t${Version}\n"]).stdout
    return {p: v for p, s, v in (line.split("\t") for line in out.splitlines())
            if s[1:2] == "i" and p in ("docker.io", "docker-cli", "containerd", "runc", "tini", "tini-static")}
