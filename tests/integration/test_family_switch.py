"""The family switch on real daemons, chained on one lab host at the mid set (Engine 26.1.5, containerd 1.7.24):
Debian's packages asked to become Docker's without upgrade_package_family_switch is a blocker that changes nothing;
check mode lists apt's own plan of the switch; a fault after the removal (dpkg cannot unpack docker-ce: a folder where
its dockerd goes, which no simulation sees) rolls back to Debian's packages from the kept .deb files; then Debian ->
docker-ce and back, at the same releases, with a container running before and after, its volume's checksum unchanged,
the images kept and the new family held. The host keeps no apt source of its own."""
from __future__ import annotations

import json
import uuid
from datetime import datetime

import lab
import pytest
from _roles import save_figures
from _upgrade import checksum, drop_host_sources, play, running, seed, versions

pytestmark = pytest.mark.xdist_group("test_family_switch")

DEBIAN = ("docker.io", "docker-cli", "containerd", "runc")
CE = ("docker-ce", "docker-ce-cli", "containerd.io")
SWITCH = {"upgrade_package_family_switch": True, "upgrade_extra_packages": {}}
FIGURES: dict = {}


@pytest.fixture(scope="module")
def host():
    lab.build()
    h = lab.LabHost(f"{lab.PREFIX}-it-switch-{uuid.uuid4().hex[:6]}")
    h.start("mid")
    drop_host_sources(h)
    h.data = seed(h)
    # held, as an earlier run of the role leaves Debian's packages
    h.exec(["apt-mark", "hold", *DEBIAN])
    yield h
    h.remove()


def installed(host) -> dict[str, str]:
    out = host.exec(["dpkg-query", "-W", "-f=${Package}\t${db:Status-Abbrev}\t${Version}\n"]).stdout
    return {p: v for p, s, v in (line.split("\t") for line in out.splitlines())
            if s[1:2] == "i" and p in DEBIAN + CE + ("docker-ce-rootless-extras",)}


def held(host) -> set[str]:
    return set(host.exec(["apt-mark", "showhold"]).stdout.split()) & set(DEBIAN + CE)


def images(host) -> list[str]:
    return sorted(host.exec(["docker", "image", "ls", "-q", "--no-trunc"]).stdout.split())


def keeper_down_seconds(host) -> float:
    """The container's downtime in the last stop/start, from the engine's own timestamps."""
    state = json.loads(host.exec(["docker", "inspect", "--format", "{{json .State}}", "keeper"]).stdout)

    def at(stamp: str) -> datetime:
        return datetime.fromisoformat(stamp[:26].rstrip("Z") + "+00:00")
    return round((at(state["StartedAt"]) - at(state["FinishedAt"])).total_seconds(), 2)


def test_without_the_variable_a_mismatch_is_a_blocker_and_check_mode_shows_apts_plan(host, ansible_env):
    before, pid = installed(host), host.exec(["systemctl", "show", "-P", "MainPID", "docker"]).stdout
    run = play(host, ansible_env, "mid", upgrade_package_family="docker-ce", upgrade_extra_packages={})
    assert run.result.get("status") == "blocked", run
    mismatch = [b for b in run.result["blockers"] if b["id"] == "package_family_mismatch"]
    assert mismatch and "upgrade_package_family_switch: true" in mismatch[0]["remedy"], run.result["blockers"]
    # with the variable, check mode: apt's own plan of the one transaction, nothing changed
    run = play(host, ansible_env, "mid", check=True, upgrade_package_family="docker-ce", **SWITCH)
    assert run.rc == 0, run
    [step] = run.result["plan"]
    assert step["action"] == "switch_family" and (step["from"], step["to"]) == ("debian", "docker-ce"), step
    assert set(step["packages"]) == set(CE) and sorted(step["remove"]) == sorted(DEBIAN), step
    removed = sorted(line.split()[0] for line in step["apt_plan"] if line.endswith(" removed"))
    new = sorted(line.split()[0] for line in step["apt_plan"] if " (new) " in line)
    assert removed == sorted(DEBIAN) and new == sorted(CE), step["apt_plan"]
    assert installed(host) == before and host.exec(["systemctl", "show", "-P", "MainPID", "docker"]).stdout == pid
    assert host.exec(["test", "-e", "/var/backups/fleetsafe-container-engine"], check=False).returncode != 0


# A site drop-in written for Debian's unit: its ExecStart names Debian's /usr/sbin/dockerd, which docker-ce does not
# ship (its dockerd is /usr/bin/dockerd). apt's simulation cannot see it; dockerd fails to start after the removal.
DROPIN = "/etc/systemd/system/docker.service.d/site.conf"
SITE = "[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock\n"


def test_a_fault_after_the_removal_rolls_back_to_debians_packages(host, ansible_env):
    host.exec(["mkdir", "-p", DROPIN.rsplit("/", 1)[0]])
    host.exec(["sh", "-c", f"cat > {DROPIN} && systemctl daemon-reload"], input=SITE)
    before, holds = installed(host), held(host)
    try:
        run = play(host, ansible_env, "mid", upgrade_package_family="docker-ce", upgrade_timeout=30, **SWITCH)
    finally:
        host.exec(["sh", "-c", f"rm -f {DROPIN} && systemctl daemon-reload"])
    assert run.rc != 0 and run.result.get("status") == "rolled_back", run
    assert run.result["failed_step"]["step"] == "switch_family", run.result["failed_step"]
    rollback = run.result["rollback"]
    assert set(rollback["packages_restored"]) == set(DEBIAN), rollback
    assert set(rollback["packages_removed"]) == set(CE), rollback
    assert installed(host) == before and held(host) == holds
    assert versions(host) == ("26.1.5+dfsg1", "1.7.24~ds1")
    assert running(host) == {"keeper": "running"} and checksum(host) == host.data
    FIGURES["rollback"] = {"run_seconds": run.result["seconds"]["total"], "rollback_seconds": rollback["seconds"]}


def test_debian_to_docker_ce_and_back_keeps_containers_images_and_volumes(host, ansible_env):
    imgs = images(host)
    run = play(host, ansible_env, "mid", upgrade_package_family="docker-ce", **SWITCH)
    assert run.rc == 0 and run.result["status"] == "upgraded", run
    [step] = run.result["steps"]
    assert step["action"] == "switch_family" and set(step["result"]["removed"]) == set(DEBIAN), step
    mid = "5:26.1.5-1~debian.12~bookworm"
    assert installed(host) == {"docker-ce": mid, "docker-ce-cli": mid, "containerd.io": "1.7.24-1"}
    assert held(host) == set(CE)
    # docker.io's prerm left its purge script in /var/lib/docker; the switch took it away again
    assert step["result"]["leftovers_removed"] == ["/var/lib/docker/nuke-graph-directory.sh"]
    assert host.exec(["test", "-e", "/var/lib/docker/nuke-graph-directory.sh"], check=False).returncode != 0
    assert running(host) == {"keeper": "running"} and checksum(host) == host.data and images(host) == imgs
    assert host.exec(["systemctl", "is-enabled", "docker", "containerd"]).stdout.split() == ["enabled", "enabled"]
    FIGURES["debian_to_docker_ce"] = {"keeper_down_seconds": keeper_down_seconds(host),
                                      "restarted_by_role": step["result"]["restarted_by_role"],
                                      "step_seconds": step["seconds"], "run_seconds": run.result["seconds"]["total"]}

    run = play(host, ansible_env, "mid", upgrade_package_family="debian", **SWITCH)
    assert run.rc == 0 and run.result["status"] == "upgraded", run
    [step] = run.result["steps"]
    assert set(step["result"]["removed"]) == set(CE), step
    now = installed(host)
    assert set(now) == set(DEBIAN) and now["docker.io"].startswith("26.1.5+dfsg1") and now["containerd"].startswith(
        "1.7.24~ds1"), now
    assert held(host) == {"docker.io", "docker-cli", "containerd"}
    # docker-ce's postrm masked docker.service and docker.socket on removal; docker.io's postinst unmasked them
    assert host.exec(["systemctl", "is-enabled", "docker", "containerd"]).stdout.split() == ["enabled", "enabled"]
    assert running(host) == {"keeper": "running"} and checksum(host) == host.data and images(host) == imgs
    FIGURES["docker_ce_to_debian"] = {"keeper_down_seconds": keeper_down_seconds(host),
                                      "restarted_by_role": step["result"]["restarted_by_role"],
                                      "step_seconds": step["seconds"], "run_seconds": run.result["seconds"]["total"]}
    save_figures("family_switch", FIGURES)
