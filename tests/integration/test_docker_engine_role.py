"""The docker_engine role on real lab hosts, beyond molecule's converge/idempotence/verify sequence:
check mode on a host with nothing installed and on one that would move, bad input, an upgrade that restarts
the daemons so the running engine is the installed one (Debian's docker.io alone would leave the old dockerd
running), the lab's whole path old -> mid -> new -> old with a container and its volume, and the services
left stopped when asked."""
from __future__ import annotations

import json
import subprocess
import time

import lab
from _roles import (
    api_down,
    container_state,
    fact,
    holds,
    installed,
    longest_gap,
    main_pid,
    run_play,
    save_figures,
    source_files,
    start_workload,
    starts,
    uptime,
    volume_checksum,
    watch_api,
)

PLAY = """
- hosts: all
  gather_facts: false
  roles:
    - role: fleetsafe.container_engine.docker_engine
      vars:
        docker_engine_apt_source: "{{ apt_source | default(fleetsafe_lab_apt_source) }}"
        docker_engine_version: "{{ engine_version | default(fleetsafe_lab_sets[set].docker_engine_version) }}"
        docker_engine_cli_version: "{{ fleetsafe_lab_sets[set].docker_engine_cli_version }}"
        docker_engine_containerd_version: "{{ fleetsafe_lab_sets[set].docker_engine_containerd_version }}"
        docker_engine_extra_packages: "{{ fleetsafe_lab_sets[set].docker_engine_extra_packages }}"
        docker_engine_service_state: "{{ service_state | default('started') }}"
  post_tasks:
    - name: Show the outcome
      ansible.builtin.debug:
        var: "{{ item }}"
      loop: [docker_engine_result, containerd_result]
      when: item in vars
"""


NEW_LINE = lab.REPO_LINE.replace("file:/srv/repo ", "file:/srv/repo/ ")


def play(host: lab.LabHost, env: dict, extra: dict, check: bool = False,
         tags: str | None = None) -> subprocess.CompletedProcess:
    return run_play(host, env, PLAY, extra, check=check, tags=tags)


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
    # a source line the host does not have yet (the lab's own line, spelt differently), so the role writes its file
    res = play(host, ansible_env, {"set": "old", "engine_version": "99.0.0+dfsg1-1", "apt_source": NEW_LINE})
    assert res.returncode != 0
    assert "99.0.0+dfsg1-1" in res.stdout  # apt's own words name the missing version
    assert installed(host) == before
    assert host.exec(["systemctl", "show", "-p", "MainPID", "--value", "docker"]).stdout.strip() == pid
    assert source_files(host) == [], "a failed install left the role's apt source behind"
    assert "Nothing was changed" in res.stdout and res.stdout.count("fatal:") == 1


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


def pins(set_name: str) -> dict:
    return dict(lab.MANIFEST["sets"][set_name])


def test_check_mode_on_a_host_that_would_move_changes_nothing(lab_host_factory, ansible_env):
    host = lab_host_factory("old")
    assert play(host, ansible_env, {"set": "old"}).returncode == 0  # the role holds the old set
    before = (installed(host), holds(host), main_pid(host, "containerd"), main_pid(host, "docker"), source_files(host))
    res = play(host, ansible_env, {"set": "new"}, check=True)
    assert res.returncode == 0, res.stdout[-3000:]
    # apt's own plan, holds in the way included
    assert "containerd: would change containerd 1.6.20~ds1-1+deb12u3 -> 2.1.9+ds1-5" in res.stdout
    assert "tini 0.19.0-1+b3 removed" in res.stdout and "lifting the holds on docker.io, tini" in res.stdout
    assert "would restart docker (running 20.10.24+dfsg1, installed 28.5.2+dfsg4-5)" in res.stdout
    # and from a source the host does not have yet, what it can tell without apt
    res = play(host, ansible_env, {"set": "new", "apt_source": NEW_LINE}, check=True)
    assert res.returncode == 0, res.stdout[-3000:]
    assert f"would add the apt source '{NEW_LINE}' and install containerd=2.1.9+ds1-5" in res.stdout
    after = (installed(host), holds(host), main_pid(host, "containerd"), main_pid(host, "docker"), source_files(host))
    assert after == before


def test_check_mode_verify_tag_alone_works(lab_host_factory, ansible_env):
    host = lab_host_factory("old")
    res = play(host, ansible_env, {"set": "old"}, check=True, tags="docker_engine_verify")
    assert res.returncode == 0, res.stdout[-3000:]
    assert "docker_engine: running 20.10.24+dfsg1, API 1.41 (min 1.12)" in res.stdout


def test_service_state_stopped_is_never_started_again(lab_host_factory, ansible_env):
    host = lab_host_factory("old")
    res = play(host, ansible_env, {"set": "mid", "service_state": "stopped"})
    assert res.returncode == 0, res.stdout[-3000:]
    assert installed(host)["docker.io"] == pins("mid")["docker.io"]
    for unit in ("docker", "docker.socket", "containerd"):
        state = host.exec(["systemctl", "is-active", unit], check=False).stdout.strip()
        assert state == "inactive", (unit, state)


def test_old_mid_new_and_back_keep_the_container_its_volume_and_restart_each_daemon_once(
        lab_host_factory, ansible_env):
    host = lab_host_factory("old")
    checksum = start_workload(host)
    watch_api(host)
    figures = {}
    for step in ("mid", "new", "old"):
        before = {unit: starts(host, unit) for unit in ("containerd", "docker")}
        since, t0 = uptime(host), time.monotonic()
        res = play(host, ansible_env, {"set": step})
        total = time.monotonic() - t0
        assert res.returncode == 0, res.stdout[-3000:]
        engine, ctrd = fact(res, "docker_engine_result"), fact(res, "containerd_result")
        # the container that ran before runs after, with its data as it was
        assert container_state(host, "fleetsafe-data") == "running 0"
        assert volume_checksum(host, "fleetsafe-data-vol") == checksum
        assert engine["containers_restarted"] == ["fleetsafe-data"] and engine["containers_gone"] == []
        # exactly the set's versions, held; nothing else of the other sets held
        assert installed(host) == pins(step)
        assert holds(host) == set(pins(step))
        # each daemon changed and restarted exactly once (containerd by its package, dockerd by the role)
        assert {unit: starts(host, unit) - n for unit, n in before.items()} == {"containerd": 1, "docker": 1}
        assert ctrd["restarted"] and engine["restarted"]
        assert engine["version_after"].split("+")[0] == pins(step)["docker.io"].split("+")[0]
        host.exec(["docker", "run", "--rm", "busybox:lab", "true"])
        figures[step] = {"total_s": round(total, 1), "api_down_s": api_down(host, since),
                         "api_down_role_s": engine["api_down_seconds"],
                         "container_down_s": longest_gap(host, since=since),
                         "containerd_restart_s": ctrd["seconds"], "containerd_restarted_by": ctrd["restarted_by"]}
    save_figures("old-mid-new-old", figures)
    res = play(host, ansible_env, {"set": "old"})
    assert res.returncode == 0 and "changed=0" in res.stdout, res.stdout[-3000:]
    assert not fact(res, "docker_engine_result")["restarted"] and not fact(res, "containerd_result")["restarted"]


def test_live_restore_keeps_containers_running_across_a_patch_restart(lab_host_factory, ansible_env):
    host = lab_host_factory("mid")
    host.sh("""echo '{"live-restore": true}' > /etc/docker/daemon.json; systemctl restart docker""")
    start_workload(host)
    # the same release's package unpacked again: the running dockerd's binary is replaced on disk
    host.sh("DEBIAN_FRONTEND=noninteractive apt-get install -qq --reinstall docker.io >/dev/null")
    since, before = uptime(host), starts(host, "docker")
    res = play(host, ansible_env, {"set": "mid"})
    assert res.returncode == 0, res.stdout[-3000:]
    engine = fact(res, "docker_engine_result")
    assert engine["restarted"] and engine["live_restore_kept_containers"] and engine["containers_restarted"] == []
    assert starts(host, "docker") - before == 1
    assert container_state(host, "fleetsafe-data") == "running 0"
    save_figures("live-restore-patch", {"api_down_s": engine["api_down_seconds"],
                                        "container_down_s": longest_gap(host, since=since)})


def test_engine_failure_after_a_containerd_downgrade_starts_the_containers_again(lab_host_factory, ansible_env):
    host = lab_host_factory("new")
    checksum = start_workload(host)
    res = play(host, ansible_env, {"set": "mid", "engine_version": "26.9.9+dfsg1-1"})
    assert res.returncode != 0
    assert "docker_engine: apt cannot install docker.io=26.9.9+dfsg1-1" in res.stdout
    # containerd went down (its containers stopped for it); the engine step failed: they run again all the same
    assert installed(host)["containerd"] == pins("mid")["containerd"]
    assert container_state(host, "fleetsafe-data") == "running 0"
    assert volume_checksum(host, "fleetsafe-data-vol") == checksum
