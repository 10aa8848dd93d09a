"""The upgrade role on real lab hosts: the upgrade path old -> mid -> new with a container keeping data in a
named volume, and rollbacks from real faults (preflight bypassed so the fault is reached): a leftover
DOCKER_MIN_API_VERSION drop-in, a daemon.json option the target engine refuses, and an apt source that loses
the target packages mid-upgrade. Every host keeps no apt source of its own: the role's source is the only
one, and the rollback reinstalls from the debs kept on the host with no source at all."""
from __future__ import annotations

import pytest
from _upgrade import checksum, drop_host_sources, packages, play, running, seed, start, versions

MIN_API_DROPIN = "/etc/systemd/system/docker.service.d/fleetsafe-test-min-api.conf"


def docker_pid(host) -> str:
    return host.exec(["systemctl", "show", "-p", "MainPID", "--value", "docker"]).stdout.strip()


def test_upgrade_path_old_mid_new_keeps_containers_and_volume(lab_host_factory, ansible_env):
    host = start(lab_host_factory, "old")
    drop_host_sources(host)
    data = seed(host, stops_on_term=True)

    run = play(host, ansible_env, "mid")
    assert run.rc == 0, run
    r = run.result
    assert r["status"] == "upgraded" and r["failed_step"] is None
    assert [s["action"] for s in r["steps"]] == ["upgrade_containerd", "upgrade_engine", "restart_engine"]
    assert versions(host) == ("26.1.5+dfsg1", "1.7.24~ds1")
    assert running(host)["keeper"] == "running" and checksum(host) == data
    assert r["verify"]["smoke"] == "ok" and r["verify"]["containers_running"] == ["keeper"]
    # containerd restarted once, within its upgrade step (its package restarts it), and the container kept running
    # across it: same process
    containerd_up = r["steps"][0]["result"]
    assert containerd_up["restarted"] and containerd_up["containers_kept_running"] == ["keeper"], r["steps"][0]
    assert r["steps"][2]["result"]["restarted"] and r["steps"][2]["result"]["containers_restarted"] == ["keeper"]
    # measured, not asserted against a time: the figures are there for the report
    assert r["downtime"]["api_seconds"] > 0 and "keeper" in r["downtime"]["containers_seconds"]
    kept = host.exec(["ls", r["backup_dir"] + "/debs"]).stdout.split()
    assert {d.split("_")[0] for d in kept} >= {"docker.io", "containerd", "runc"}
    assert set(host.exec(["apt-mark", "showhold"]).stdout.split()) >= {"docker.io", "docker-cli", "containerd"}

    again = play(host, ansible_env, "mid")
    assert again.rc == 0 and "changed=0" in again.out, again
    assert again.result["status"] == "unchanged" and again.result["steps"] == []

    # mid -> new: Debian serves no containerd 2.0, the skip is allowed by variable (the finding
    # apt_source_lacks_containerd_line is a warning); the new set's tini-static replaces the old set's (held) tini
    run = play(host, ansible_env, "new")
    assert run.rc == 0, run
    assert [(s["action"], s["from"], s["to"]) for s in run.result["plan"]][:2] == [
        ("upgrade_containerd", "1.7.24", "2.1.9"), ("upgrade_engine", "26.1.5", "28.5.2")], run.result["plan"]
    assert [s["action"] for s in run.result["plan"]] == ["upgrade_containerd", "upgrade_engine", "restart_engine"]
    assert versions(host) == ("28.5.2+dfsg4", "2.1.9+unknown")
    assert running(host)["keeper"] == "running" and checksum(host) == data
    assert packages(host)["tini-static"] and "tini" not in packages(host)


def test_check_mode_prints_the_plan_and_changes_nothing(lab_host_factory, ansible_env):
    host = start(lab_host_factory, "old")
    drop_host_sources(host)
    before, pid = packages(host), docker_pid(host)
    run = play(host, ansible_env, "mid", check=True)
    assert run.rc == 0, run
    assert run.result["status"] == "planned"
    assert "upgrade_containerd containerd 1.6.20 -> 1.7.24 [containerd=1.7.24~ds1-6+deb13u1]" in run.out
    assert packages(host) == before and docker_pid(host) == pid
    assert host.exec(["test", "-e", "/var/backups/fleetsafe-container-engine"], check=False).returncode != 0


def test_intermediate_containerd_line_missing_is_a_preflight_blocker(lab_host_factory, ansible_env):
    host = start(lab_host_factory, "mid")
    drop_host_sources(host)
    before, pid = packages(host), docker_pid(host)
    run = play(host, ansible_env, "new", upgrade_containerd_allow_line_skip=False)
    assert run.rc != 0
    assert run.result.get("status") == "blocked", run
    assert [b["id"] for b in run.result["blockers"]] == ["apt_source_lacks_containerd_line"]
    assert "upgrade_containerd_allow_line_skip" in run.out
    assert packages(host) == before and docker_pid(host) == pid


def test_a_step_apt_cannot_make_is_a_preflight_blocker_naming_the_packages_in_the_way(lab_host_factory, ansible_env):
    # new -> mid goes down: Debian's docker.io 28.5.2 pulls tini-static, 26.1.5 needs tini, which tini-static
    # breaks. Before, containerd went down first and the engine step failed ("pkgProblemResolver::Resolve generated
    # breaks"), then a rollback; now preflight asks apt about every step and nothing changes
    host = start(lab_host_factory, "new")
    drop_host_sources(host)
    before, pid = packages(host), docker_pid(host)
    run = play(host, ansible_env, "mid")
    assert run.rc != 0 and run.result.get("status") == "blocked", run
    [blocker] = [b for b in run.result["blockers"] if b["id"] == "apt_cannot_make_step"]
    assert "tini-static, tini" in blocker["remedy"] and "upgrade_engine" in blocker["message"], blocker
    assert "tini-static: Breaks: tini" in run.out
    assert packages(host) == before and docker_pid(host) == pid
    assert host.exec(["test", "-e", "/var/backups/fleetsafe-container-engine"], check=False).returncode != 0


def assert_rolled_back(host, run, data, step, engine="20.10.24+dfsg1", containerd="1.6.20~ds1"):
    assert run.rc != 0, run
    r = run.result
    assert r.get("status") == "rolled_back", run
    assert r["failed_step"]["step"] == step, r["failed_step"]
    assert f"({step} " in run.out  # the failure message names the step
    assert versions(host) == (engine, containerd)
    assert running(host)["keeper"] == "running" and checksum(host) == data
    assert r["rollback"]["smoke"] == "ok"


FAULTS = {
    # a leftover minimum-API drop-in: Engine 20.10 ignores the variable, dockerd 26.1.5 refuses to start
    "min-api-dropin": (
        f"mkdir -p /etc/systemd/system/docker.service.d\n"
        f"printf '[Service]\\nEnvironment=DOCKER_MIN_API_VERSION=1.17\\n' > {MIN_API_DROPIN}\n"
        "systemctl daemon-reload && systemctl restart docker",
        "DOCKER_MIN_API_VERSION", "invalid DOCKER_MIN_API_VERSION"),
    # a daemon.json option: 20.10.24 runs the legacy overlay driver, 26.1.5 refuses to start with it
    "overlay-storage-driver": (
        "echo '{\"storage-driver\": \"overlay\"}' > /etc/docker/daemon.json && systemctl restart docker",
        "overlay", "overlay storage-driver has been deprecated and removed"),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault_the_target_refuses_is_blocked_and_rolled_back_when_bypassed(fault, lab_host_factory, ansible_env):
    setup, blocker_words, daemon_error = FAULTS[fault]
    host = start(lab_host_factory, "old")
    drop_host_sources(host)
    host.sh(setup)
    data = seed(host, stops_on_term=True)
    before, pid = packages(host), docker_pid(host)

    blocked = play(host, ansible_env, "mid")
    assert blocked.rc != 0 and blocked.result.get("status") == "blocked", blocked
    assert any(blocker_words in b["message"] for b in blocked.result["blockers"]), blocked.result["blockers"]
    assert packages(host) == before and docker_pid(host) == pid

    run = play(host, ansible_env, "mid", upgrade_preflight_blocking=False)
    assert_rolled_back(host, run, data, "restart_engine")
    assert daemon_error in run.result["failed_step"]["message"]
    assert packages(host) == before


def test_source_losing_the_engine_packages_mid_upgrade_rolls_back_containerd(lab_host_factory, ansible_env):
    host = start(lab_host_factory, "mid")
    drop_host_sources(host)
    data = seed(host, stops_on_term=True)
    before = packages(host)
    # a mirror caught mid-sync: its index still lists the new engine, the files are gone
    host.sh("mkdir -p /opt/shrunk && cp -s /srv/repo/*.deb /opt/shrunk/\n"
            "cp /srv/repo/Packages /srv/repo/Release /opt/shrunk/\n"
            "rm /opt/shrunk/docker.io_28.* /opt/shrunk/docker-cli_28.*")
    run = play(host, ansible_env, "new", upgrade_apt_source="deb [trusted=yes] file:/opt/shrunk ./")
    # containerd went 1.7 -> 2.1 before the engine's packages failed; the downgrade back kills the
    # containers and orphans 2.1 shims: the rollback clears them and starts what ran before
    assert [s["action"] for s in run.result["steps"]][:1] == ["upgrade_containerd"]
    assert_rolled_back(host, run, data, "upgrade_engine", engine="26.1.5+dfsg1", containerd="1.7.24~ds1")
    assert packages(host) == before
    # and it runs again afterwards: a re-run with the full source completes
    host.sh("rm -rf /opt/shrunk")
    again = play(host, ansible_env, "new")
    assert again.rc == 0 and again.result["status"] == "upgraded", again
    assert running(host)["keeper"] == "running" and checksum(host) == data
