"""The upgrade role in Docker's package family (docker-ce, docker-ce-cli, docker-ce-rootless-extras, containerd.io) on
real daemons, on one lab host chained old -> mid -> new: bad input refused before any change (a Debian version
asked of docker-ce, Debian's family asked of a docker-ce host, a source with half the family); a stale
containerd.io daemon healed by exactly one restart, the real API client (API 1.23) moved first, then containerd.io,
then docker-ce with docker-ce-cli and the rootless extras, whose postinst restarts dockerd once; a rollback from a
mirror caught mid-sync (a fault the preflight cannot see); then the new set. A data volume's checksum never
changes. The host keeps no apt source of its own: the rollback reinstalls from the kept .deb files."""
from __future__ import annotations

import json
import uuid

import lab
import pytest
from _roles import api_down, run_play, save_figures, starts, uptime, watch_api
from _upgrade import checksum, drop_host_sources, play, running, seed, versions
from test_upgrade_incidents import health, image_of, run_agent

# one module-scoped lab host: the tests run in order on one worker (--dist loadgroup)
pytestmark = pytest.mark.xdist_group("test_upgrade_docker_ce")

CE = {"upgrade_package_family": "docker-ce", "upgrade_extra_packages": {}}
FAMILY = ("docker-ce", "docker-ce-cli", "docker-ce-rootless-extras", "containerd.io")
ENGINE_PLAY = """
- hosts: all
  gather_facts: false
  roles:
    - role: fleetsafe.container_engine.docker_engine
"""
FIGURES: dict = {}


@pytest.fixture(scope="module")
def host():
    lab.build()
    h = lab.LabHost(f"{lab.PREFIX}-it-ceup-{uuid.uuid4().hex[:6]}")
    h.start("old", "docker-ce")
    drop_host_sources(h)
    h.data = seed(h)
    yield h
    h.remove()


def family(host) -> dict[str, str]:
    out = host.exec(["dpkg-query", "-W", "-f=${Package}\t${Version}\n", *FAMILY], check=False).stdout
    return dict(line.split("\t") for line in out.splitlines() if "\t" in line)


def shrunk_source(host, *gone: str) -> str:
    """A copy of the lab repository whose index still lists every package, with the files GONE (globs) removed."""
    host.sh("rm -rf /opt/shrunk && mkdir -p /opt/shrunk && cp -s /srv/repo/*.deb /opt/shrunk/\n"
            "cp /srv/repo/Packages /srv/repo/Release /opt/shrunk/\n"
            + "".join(f"rm -f /opt/shrunk/{g}\n" for g in gone))
    return "deb [trusted=yes] file:/opt/shrunk ./"


HALF = r"""
rm -rf /opt/half && mkdir /opt/half && python3 - <<'EOF'
text = open("/srv/repo/Packages").read()
gone = ("Package: docker-ce-cli\n", "Version: 5:26.1.5")
keep = [s for s in text.split("\n\n") if s.strip() and not all(g in s for g in gone)]
open("/opt/half/Packages", "w").write("\n\n".join(keep) + "\n")
EOF
cd /opt/half && for f in $(sed -n "s/^Filename: //p" Packages); do mkdir -p $(dirname $f); ln -sf /srv/repo/$f $f; done
"""


def half_source(host) -> str:
    """A source whose index offers docker-ce 26.1.5 but not docker-ce-cli 26.1.5 (every file it lists is there)."""
    host.sh(HALF)
    return "deb [trusted=yes] file:/opt/half ./"


def test_bad_input_is_refused_before_any_change(host, ansible_env):
    before, pid = family(host), host.exec(["systemctl", "show", "-P", "MainPID", "docker"]).stdout
    # a version of Debian's package asked of docker-ce: the role's validation names the variable and the value
    res = run_play(host, ansible_env, ENGINE_PLAY, {"docker_engine_package_family": "docker-ce",
                                                    "docker_engine_version": "26.1.5+dfsg1-9+deb13u1",
                                                    "docker_engine_apt_source": lab.REPO_LINE})
    assert res.returncode != 0
    assert "docker_engine_version '26.1.5+dfsg1-9+deb13u1' is a version of Debian's package docker.io" in res.stdout
    # Debian's family asked of a docker-ce host: a blocker whose remedy names the variable
    run = play(host, ansible_env, "mid", upgrade_package_family="debian")
    assert run.result.get("status") == "blocked", run
    mismatch = [b for b in run.result["blockers"] if b["id"] == "package_family_mismatch"]
    assert mismatch and "upgrade_package_family: docker-ce" in mismatch[0]["remedy"], run.result["blockers"]
    # a source that offers docker-ce 26.1 but not docker-ce-cli 26.1
    run = play(host, ansible_env, "mid", upgrade_apt_source=half_source(host), **CE)
    host.sh("rm -rf /opt/half")
    assert run.result.get("status") == "blocked", run
    [half] = [b for b in run.result["blockers"] if b["id"] == "apt_source_lacks_family_package"]
    assert "offers docker-ce 26.1.5 but no docker-ce-cli 26.1.5" in half["message"], half
    assert family(host) == before and host.exec(["systemctl", "show", "-P", "MainPID", "docker"]).stdout == pid
    assert host.exec(["test", "-e", "/var/backups/fleetsafe-container-engine"], check=False).returncode != 0


def test_old_to_mid_heals_stale_containerd_moves_client_first(host, ansible_env):
    # containerd.io 1.7.24 installed while the 1.6 daemon keeps running (policy-rc.d forbids the restart)
    host.sh(f"echo '{lab.REPO_LINE}' > /etc/apt/sources.list.d/lab.list && apt-get update -qq\n"
            "printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d\n"
            "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq containerd.io=1.7.24-1 >/dev/null\n"
            "rm /usr/sbin/policy-rc.d /etc/apt/sources.list.d/lab.list")
    assert versions(host)[1] == "1.6.20~ds1"  # the daemon, older than containerd.io 1.7.24-1 on disk
    run_agent(host, "1.0.0")
    assert health(host, "agent")[0] == "healthy"
    # a container without a restart policy: dockerd going down with containerd would leave it exited
    host.sh("docker run -d --name plain busybox:lab sleep 86400 >/dev/null")
    containerd_starts, docker_starts = starts(host, "containerd"), starts(host, "docker")
    watch_api(host)
    t0 = uptime(host)

    run = play(host, ansible_env, "mid", upgrade_knowledge=lab.agent_knowledge(), **CE)
    assert run.rc == 0, run
    r = run.result
    steps = [s["action"] for s in r["steps"]]
    assert steps == ["upgrade_client", "restart_containerd", "upgrade_engine", "restart_engine"], steps
    # containerd restarted once, by the role (the stale one). dockerd twice: docker-ce 20.10's docker.service
    # Requires=containerd.service (26.x and later only Want it), so systemd restarts dockerd with containerd; then
    # docker-ce's postinst restarts it once more (mid -> new below: once)
    assert starts(host, "containerd") == containerd_starts + 1
    assert starts(host, "docker") == docker_starts + 2
    # the plan said so before any change (read from the host's unit by docker_facts), and the step planned for it:
    # the running containers stopped while the API answered, in the restart's own section, and started again once
    # containerd and dockerd answered (systemd brought dockerd back, the role did not restart it)
    ctd = r["steps"][1]
    assert "docker.service Requires=containerd.service, so systemd restarts dockerd with containerd" in ctd["reason"]
    cr = ctd["result"]
    assert cr["engine_follows_containerd"] == "Requires=containerd.service", cr
    assert cr["engine_restarted_with_containerd"] and cr["engine_restarted_by"] == "systemd", cr
    assert "systemd restarts dockerd when containerd restarts" in cr["engine_restart_why"]
    assert set(cr["containers_stopped"]) == {"keeper", "agent", "plain"}, cr
    assert set(cr["containers_started"]) == {"keeper", "agent", "plain"}, cr
    section = json.loads(host.exec(["cat", r["backup_dir"] + "/sections/restart-containerd.json"]).stdout)
    assert section["status"] == "done" and set(section["result"]["containers_stopped"]) == {"keeper", "agent", "plain"}
    assert running(host)["plain"] == "running"
    engine = r["steps"][2]["result"]
    assert engine["restarted_by"] == "package" and set(engine["containers_restarted"]) == {"keeper", "agent", "plain"}
    assert not r["steps"][3]["result"]["restarted"]
    assert versions(host) == ("26.1.5+dfsg1", "1.7.24~ds1")
    mid = "5:26.1.5-1~debian.12~bookworm"
    assert family(host) == {"docker-ce": mid, "docker-ce-cli": mid, "docker-ce-rootless-extras": mid,
                            "containerd.io": "1.7.24-1"}
    assert image_of(host, "agent") == f"{lab.AGENT_IMAGE}:2.0.0" and health(host, "agent")[0] == "healthy"
    assert running(host)["keeper"] == "running" and checksum(host) == host.data
    # held: what the role installed (containerd.io 1.7.24 was installed by hand; the role only restarted it)
    held = set(host.exec(["apt-mark", "showhold"]).stdout.split())
    assert held >= {"docker-ce", "docker-ce-cli", "docker-ce-rootless-extras"}, held
    kept = {d.split("_")[0] for d in host.exec(["ls", r["backup_dir"] + "/debs"]).stdout.split()}
    assert kept >= set(FAMILY), kept
    FIGURES["old_to_mid"] = {"api_down_seconds": api_down(host, t0), "downtime": r["downtime"],
                             "steps": {s["action"]: s["seconds"] for s in r["steps"]},
                             "containerd_step_containers_down_seconds": cr["containers_down_seconds"]}
    save_figures("upgrade_docker_ce", FIGURES)
    host.sh("docker rm -f plain >/dev/null")  # the later tests count the containers they started


def test_mid_to_new_rolls_back_from_a_mirror_caught_mid_sync(host, ansible_env):
    before = family(host)
    source = shrunk_source(host, "docker-ce_28.*", "docker-ce-cli_28.*", "docker-ce-rootless-extras_28.*")
    run = play(host, ansible_env, "new", upgrade_apt_source=source, upgrade_knowledge=lab.agent_knowledge(), **CE)
    host.sh("rm -rf /opt/shrunk")
    assert run.rc != 0 and run.result.get("status") == "rolled_back", run
    assert run.result["failed_step"]["step"] == "upgrade_engine", run.result["failed_step"]
    assert family(host) == before and versions(host) == ("26.1.5+dfsg1", "1.7.24~ds1")
    assert running(host) == {"keeper": "running", "agent": "running"} and checksum(host) == host.data
    assert run.result["rollback"]["smoke"] == "ok"


def test_mid_to_new(host, ansible_env):
    watch_api(host)
    t0 = uptime(host)
    containerd_starts, docker_starts = starts(host, "containerd"), starts(host, "docker")
    run = play(host, ansible_env, "new", upgrade_knowledge=lab.agent_knowledge(), **CE)
    assert run.rc == 0 and run.result["status"] == "upgraded", run
    # containerd.io's postinst restarts containerd, docker-ce's dockerd: once each
    assert (starts(host, "containerd"), starts(host, "docker")) == (containerd_starts + 1, docker_starts + 1)
    assert versions(host) == ("28.5.2+dfsg4", "2.1.9+unknown")
    new = "5:28.5.2-1~debian.12~bookworm"
    assert family(host) == {"docker-ce": new, "docker-ce-cli": new, "docker-ce-rootless-extras": new,
                            "containerd.io": "2.1.9-1~debian.12~bookworm"}
    assert running(host)["keeper"] == "running" and checksum(host) == host.data
    assert health(host, "agent")[0] == "healthy"
    FIGURES["mid_to_new"] = {"api_down_seconds": api_down(host, t0), "downtime": run.result["downtime"],
                             "steps": {s["action"]: s["seconds"] for s in run.result["steps"]}}
    save_figures("upgrade_docker_ce", FIGURES)
