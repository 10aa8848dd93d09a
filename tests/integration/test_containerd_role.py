"""The containerd role on real lab hosts: a downgrade with a running container (the newer containerd's shims),
a daemon left stale under a newer binary (healed with one restart and a readiness wait), bad input and an
unknown version (one clear error, nothing changed, no apt source left), and check mode."""
from __future__ import annotations

import lab
from _roles import (
    container_state,
    fact,
    holds,
    installed,
    main_pid,
    run_play,
    source_files,
    start_workload,
    starts,
    volume_checksum,
)

PLAY = """
- hosts: all
  gather_facts: false
  roles:
    - role: fleetsafe.container_engine.containerd
      vars:
        containerd_apt_source: "{{ apt_source | default(fleetsafe_lab_apt_source) }}"
        containerd_version: "{{ version | default(fleetsafe_lab_sets[set].docker_engine_containerd_version) }}"
  post_tasks:
    - name: Show the outcome
      ansible.builtin.debug:
        var: containerd_result
"""
NEW_LINE = lab.REPO_LINE.replace("file:/srv/repo ", "file:/srv/repo/ ")


def play(host, env, extra, check=False):
    return run_play(host, env, PLAY, extra, check=check)


def ctr_versions(host) -> tuple[str, str]:
    out = host.exec(["ctr", "version"]).stdout
    client, server = out.split("Server:")
    return client.split("Version:")[1].split()[0], server.split("Version:")[1].split()[0]


def stale_shims(host) -> list[str]:
    return host.sh("for p in $(pgrep -f containerd-shim-runc-v2); do readlink /proc/$p/exe; done || true"
                   ).stdout.split("\n")


def test_downgrade_stops_and_restarts_exactly_the_running_containers(lab_host_factory, ansible_env):
    host = lab_host_factory("new")
    checksum = start_workload(host)
    host.sh("docker run -d --name fleetsafe-stopped busybox:lab sleep 1d >/dev/null; "
            "docker stop -t 1 fleetsafe-stopped")
    res = play(host, ansible_env, {"set": "mid"})
    assert res.returncode == 0, res.stdout[-3000:]
    result = fact(res, "containerd_result")
    assert result["containers_stopped"] == ["fleetsafe-data"] and result["containers_started"] == ["fleetsafe-data"]
    assert result["package_before"] == "2.1.9+ds1-5" and result["package_after"] == "1.7.24~ds1-6+deb13u1"
    # the container that ran before runs again (not Exited 137), the one that was stopped stays stopped
    assert container_state(host, "fleetsafe-data") == "running 0"
    assert container_state(host, "fleetsafe-stopped").startswith("exited")
    assert volume_checksum(host, "fleetsafe-data-vol") == checksum
    # no shim of the newer containerd is left, and new containers start
    assert not [exe for exe in stale_shims(host) if exe.endswith("(deleted)")]
    host.exec(["docker", "run", "--rm", "busybox:lab", "true"])
    assert ctr_versions(host) == ("1.7.24~ds1", "1.7.24~ds1")


def test_stale_daemon_is_restarted_once_and_answers_right_after(lab_host_factory, ansible_env):
    host = lab_host_factory("mid")
    # containerd 2.1.9 installed while 1.7.24 keeps running (a policy-rc.d kept the package from restarting it)
    host.install_set("new", restart=False, no_restart_policy=True)
    assert ctr_versions(host) == ("2.1.9+unknown", "1.7.24~ds1")
    before = starts(host, "containerd")
    res = play(host, ansible_env, {"set": "new"})
    assert res.returncode == 0, res.stdout[-3000:]
    result = fact(res, "containerd_result")
    assert result["restarted_by"] == "role" and not result["packages"]
    assert starts(host, "containerd") - before == 1
    # the readiness wait: the daemon answers as the installed version the moment the role is done
    assert ctr_versions(host) == ("2.1.9+unknown", "2.1.9+unknown")
    res = play(host, ansible_env, {"set": "new"})
    assert res.returncode == 0 and "changed=0" in res.stdout, res.stdout[-3000:]
    assert starts(host, "containerd") - before == 1


def test_upgrade_restarted_by_the_package_is_not_restarted_again(lab_host_factory, ansible_env):
    host = lab_host_factory("mid")
    before = starts(host, "containerd")
    res = play(host, ansible_env, {"set": "new"})
    assert res.returncode == 0, res.stdout[-3000:]
    result = fact(res, "containerd_result")
    assert result["restarted_by"] == "package" and result["version_after"] == "2.1.9+unknown"
    assert starts(host, "containerd") - before == 1
    assert holds(host) == {"containerd"}


def test_bad_input_is_one_clear_error_and_changes_nothing(lab_host_factory, ansible_env):
    host = lab_host_factory("mid")
    before = (installed(host), holds(host), main_pid(host, "containerd"))
    res = play(host, ansible_env, {"set": "mid", "version": "one.seven"})
    assert res.returncode != 0
    assert "containerd: version 'one.seven' of containerd is not a Debian package version" in res.stdout
    assert res.stdout.count("fatal:") == 1 and "Traceback" not in res.stdout + res.stderr
    assert (installed(host), holds(host), main_pid(host, "containerd")) == before


def test_unknown_version_leaves_no_apt_source_and_changes_nothing(lab_host_factory, ansible_env):
    host = lab_host_factory("mid")
    start_workload(host)
    before = (installed(host), holds(host), main_pid(host, "containerd"))
    # a downgrade (its containers would be stopped first) to a version the source lacks
    # shaped as Debian's containerd versions are (1.6.99-1 would be refused first as a version of Docker's
    # containerd.io, before apt is asked)
    res = play(host, ansible_env, {"set": "mid", "version": "1.6.99~ds1-1", "apt_source": NEW_LINE})
    assert res.returncode != 0
    assert "containerd: apt cannot install containerd=1.6.99~ds1-1" in res.stdout
    assert "Nothing was changed" in res.stdout
    assert container_state(host, "fleetsafe-data") == "running 0"
    assert res.stdout.count("fatal:") == 1
    assert (installed(host), holds(host), main_pid(host, "containerd")) == before
    assert source_files(host) == []


def test_check_mode_prints_the_change_and_changes_nothing(lab_host_factory, ansible_env):
    host = lab_host_factory("new")
    start_workload(host)
    before = (installed(host), holds(host), main_pid(host, "containerd"), source_files(host))
    res = play(host, ansible_env, {"set": "old"}, check=True)
    assert res.returncode == 0, res.stdout[-3000:]
    assert "containerd: would change containerd 2.1.9+ds1-5 -> 1.6.20~ds1-1+deb12u3" in res.stdout
    assert "after stopping the running containers and start them again" in res.stdout
    assert (installed(host), holds(host), main_pid(host, "containerd"), source_files(host)) == before
    assert container_state(host, "fleetsafe-data") == "running 0"
