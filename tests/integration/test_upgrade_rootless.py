"""The upgrade role on a lab host that also runs a rootless dockerd for a user (alice), as her systemd --user
docker.service (the unit dockerd-rootless-setuptool.sh writes), with a container keeping data in a volume.
The package upgrade does not touch her daemon: the role restarts it on the new dockerd once, starts her
container again and measures its downtime; a daemon that does not come back fails the step with its own
journal line and the host is rolled back, her daemon included; preflight blocks such a daemon before any change
when it can see why (a minimum-API override in her user unit). The same under Docker's packages: her daemon set up
from docker-ce-rootless-extras' scripts the way Docker documents it, restarted by the role onto docker-ce's new
dockerd."""
from __future__ import annotations

import json

from _facts import adhoc, facts
from _upgrade import KEEPER_LOOP_STOPS_ON_TERM, checksum, drop_host_sources, play, running, seed, start, versions

ALICE = "runuser -u alice -- env XDG_RUNTIME_DIR=/run/user/1000 DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1000/bus"
ALICE_DOCKER = f"{ALICE} DOCKER_HOST=unix:///run/user/1000/docker.sock docker"
# What dockerd-rootless-setuptool.sh install writes (Debian's contrib folder); logind is masked in lab hosts,
# so linger is its file and the user manager a unit.
# alice with a user manager (linger) and a tmpfs home (no overlay on overlay), /dev/net/tun for slirp4netns
ALICE_USER = r"""
useradd -m -s /bin/bash alice
[ -e /dev/net/tun ] || { mkdir -p /dev/net; mknod /dev/net/tun c 10 200; chmod 666 /dev/net/tun; }
mount -t tmpfs tmpfs /home/alice && chown alice:alice /home/alice
mkdir -p /var/lib/systemd/linger && touch /var/lib/systemd/linger/alice
systemctl start user@1000.service
"""
ROOTLESS_SERVICE = r"""
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq uidmap rootlesskit slirp4netns dbus-user-session fuse-overlayfs >/tmp/rl.log 2>&1 \
  || { cat /tmp/rl.log; exit 1; }
""" + ALICE_USER + r"""
units=/home/alice/.config/systemd/user
mkdir -p $units/default.target.wants $units/docker.service.d
cat > $units/docker.service <<'EOF'
[Unit]
Description=Docker Application Container Engine (Rootless)

[Service]
Environment=PATH=/usr/share/docker.io/contrib:/sbin:/usr/sbin:/usr/local/bin:/usr/bin:/bin
ExecStart=/usr/share/docker.io/contrib/dockerd-rootless.sh --iptables=false
ExecReload=/bin/kill -s HUP $MAINPID
TimeoutSec=0
RestartSec=2
Restart=always
StartLimitBurst=3
StartLimitInterval=60s
LimitNOFILE=infinity
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
Delegate=yes
Type=simple
KillMode=mixed

[Install]
WantedBy=default.target
EOF
ln -s ../docker.service $units/default.target.wants/docker.service
chown -R alice:alice /home/alice/.config
"""
# her container's loop exits on SIGTERM (see _upgrade.seed): her daemon's restarts wait out no stop grace
SEED = r"""
docker import /srv/repo/images/busybox.tar busybox:lab >/dev/null
docker volume create alice-data >/dev/null
docker run --rm -v alice-data:/data busybox:lab sh -c 'head -c 65536 /dev/urandom > /data/blob; echo keep > /data/note'
docker run -d --name alice-keeper --restart unless-stopped -v alice-data:/data busybox:lab \
  sh -c '""" + KEEPER_LOOP_STOPS_ON_TERM + """' >/dev/null
"""
# Docker's way (docs.docker.com/go/rootless/): docker-ce-rootless-extras (installed with docker-ce) ships rootlesskit,
# dockerd-rootless.sh and dockerd-rootless-setuptool.sh in /usr/bin; uidmap comes from the OS; the user runs the
# setup tool, which writes, enables and starts her docker.service (--skip-iptables: this kernel has no ip_tables
# for her namespace; the unit then passes --iptables=false) and a CLI context "rootless".
CE_ROOTLESS = r"""
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq uidmap slirp4netns >/tmp/rl.log 2>&1 || { cat /tmp/rl.log; exit 1; }
""" + ALICE_USER + f"""
{ALICE} dockerd-rootless-setuptool.sh install --skip-iptables >/tmp/setup.log 2>&1 \\
  || {{ cat /tmp/setup.log; exit 1; }}
"""
# a leftover the 20.10 daemon ignores and dockerd 26+ refuses to start with
MIN_API = "[Service]\nEnvironment=DOCKER_MIN_API_VERSION=1.17\n"


def rootless_host(factory, min_api_override=False):
    host = start(factory, "old")
    host.sh(ROOTLESS_SERVICE)
    drop_host_sources(host)
    if min_api_override:
        host.exec(["sh", "-c", "cat > /home/alice/.config/systemd/user/docker.service.d/min-api.conf"], input=MIN_API)
    host.sh(f"{ALICE} systemctl --user daemon-reload && {ALICE} systemctl --user start docker.service\n"
            f"for i in $(seq 100); do {ALICE_DOCKER} version >/dev/null 2>&1 && break; sleep 0.2; done")
    host.sh(SEED.replace("docker ", f"{ALICE_DOCKER} "))
    return host


def ce_rootless_host(factory):
    """A docker-ce host at the old set whose alice runs the rootless dockerd Docker's setup tool installed."""
    host = factory("old", "docker-ce")
    host.load_busybox()
    host.sh(CE_ROOTLESS)
    drop_host_sources(host)
    host.sh(SEED.replace("docker ", f"{ALICE_DOCKER} "))
    return host


def alice(host, *args: str) -> str:
    return host.sh(f"{ALICE_DOCKER} {' '.join(args)}").stdout


def alice_data(host) -> str:
    return alice(host, "run --rm -v alice-data:/data busybox:lab md5sum /data/blob /data/note")


def alice_state(host) -> dict:
    return json.loads(alice(host, "inspect alice-keeper --format '{{json .State}}'"))


def alice_unit(host) -> dict:
    out = host.sh(f"{ALICE} systemctl --user show docker.service -p MainPID,NRestarts,ActiveState").stdout
    return dict(line.split("=", 1) for line in out.splitlines())


def daemon_starts(host) -> int:
    """How many times alice's dockerd came up, from her unit's own journal lines."""
    out = host.exec(["journalctl", "_SYSTEMD_USER_UNIT=docker.service", "_UID=1000", "-o", "cat"]).stdout
    return out.count("Daemon has completed initialization")


def rootless_versions(host, env) -> list[tuple[str, str]]:
    daemons = facts(adhoc(host, env, module="rootless_facts", check=True))["rootless"]["daemons"]
    return [(d["user"], d["engine_version"]) for d in daemons]


def test_rootless_daemon_restarted_once_per_step_with_its_container_untouched_on_rerun(lab_host_factory, ansible_env):
    host = rootless_host(lab_host_factory)
    data, alice_before = seed(host, stops_on_term=True), alice_data(host)
    starts, unit = daemon_starts(host), alice_unit(host)
    assert rootless_versions(host, ansible_env) == [("alice", "20.10.24+dfsg1")]

    run = play(host, ansible_env, "mid")
    assert run.rc == 0, run
    r = run.result
    assert r["status"] == "upgraded"
    assert [s["action"] for s in r["steps"]] == [
        "upgrade_containerd", "upgrade_engine", "restart_engine", "restart_rootless_engine"]
    # both engines on the target
    assert versions(host) == ("26.1.5+dfsg1", "1.7.24~ds1")
    assert rootless_versions(host, ansible_env) == [("alice", "26.1.5+dfsg1")]
    # her daemon restarted exactly once, by the role (no automatic restart by systemd)
    assert daemon_starts(host) == starts + 1
    after = alice_unit(host)
    assert after["MainPID"] != unit["MainPID"] and after["NRestarts"] == "0" and after["ActiveState"] == "active"
    # her container runs again (started by the step), her volume's data unchanged; the rootful one too
    step = r["steps"][-1]
    assert step["component"] == "rootless:alice" and step["result"]["changed"] is True
    assert step["result"]["version"] == "26.1.5+dfsg1" and step["result"]["containers_started"] == ["alice-keeper"]
    state = alice_state(host)
    assert state["Running"] and state["StartedAt"] > state["FinishedAt"] > "2"
    assert alice_data(host) == alice_before
    assert running(host)["keeper"] == "running" and checksum(host) == data
    # measured, not asserted against a time: the figures are in the step's result for the report
    assert step["result"]["restart_seconds"] > 0 and step["result"]["containers_down_seconds"]["alice-keeper"] > 0

    again = play(host, ansible_env, "mid")
    assert again.rc == 0 and "changed=0" in again.out, again
    assert again.result["status"] == "unchanged" and again.result["steps"] == []
    assert alice_unit(host)["MainPID"] == after["MainPID"] and daemon_starts(host) == starts + 1
    assert alice_state(host)["StartedAt"] == state["StartedAt"]

    # mid -> new: 28.5.2 runs rootless with the RootlessKit already installed (the role does not touch it)
    run = play(host, ansible_env, "new")
    assert run.rc == 0, run
    assert run.result["steps"][-1]["action"] == "restart_rootless_engine"
    assert rootless_versions(host, ansible_env) == [("alice", "28.5.2+dfsg4")]
    assert daemon_starts(host) == starts + 2 and alice_unit(host)["NRestarts"] == "0"
    assert alice_state(host)["Running"] and alice_data(host) == alice_before


def test_rootless_override_the_target_refuses_is_blocked_and_rolled_back_when_bypassed(
        lab_host_factory, ansible_env):
    host = rootless_host(lab_host_factory, min_api_override=True)
    data, alice_before = seed(host, stops_on_term=True), alice_data(host)
    unit = alice_unit(host)

    # preflight reads her user unit's drop-in: the target would refuse it, so nothing changes
    blocked = play(host, ansible_env, "mid")
    assert blocked.rc != 0 and blocked.result.get("status") == "blocked", blocked
    [blocker] = [b for b in blocked.result["blockers"] if b.get("component") == "rootless:alice"]
    assert blocker["id"] == "min_api_override_invalid", blocked.result["blockers"]
    assert "DOCKER_MIN_API_VERSION=1.17 (/home/alice/.config/systemd/user/docker.service.d/min-api.conf)" \
        in blocker["message"]
    assert versions(host) == ("20.10.24+dfsg1", "1.6.20~ds1") and alice_unit(host)["MainPID"] == unit["MainPID"]

    # bypassed, her daemon does not come back: the step fails with dockerd's own line and everything rolls back
    run = play(host, ansible_env, "mid", upgrade_preflight_blocking=False)
    assert run.rc != 0, run
    r = run.result
    assert r["failed_step"]["step"] == "restart_rootless_engine", r["failed_step"]
    assert r["failed_step"]["component"] == "rootless:alice"
    # dockerd's own refusal, from her unit's journal, and where to read the rest
    message = r["failed_step"]["message"]
    assert "invalid DOCKER_MIN_API_VERSION" in message and "_SYSTEMD_USER_UNIT=docker.service _UID=1000" in message
    assert "invalid DOCKER_MIN_API_VERSION" in run.out
    # rolled back: the system engine and her daemon on 20.10 again, each with its container and data
    assert r["status"] == "rolled_back", r["rollback"]
    assert versions(host) == ("20.10.24+dfsg1", "1.6.20~ds1")
    assert rootless_versions(host, ansible_env) == [("alice", "20.10.24+dfsg1")]
    assert r["rollback"]["rootless"]["alice"]["restarted"] is True
    assert alice_state(host)["Running"] and alice_data(host) == alice_before
    assert running(host)["keeper"] == "running" and checksum(host) == data


def test_rootless_under_docker_ce_rootless_extras_restarted_onto_docker_ce_new_dockerd(lab_host_factory, ansible_env):
    host = ce_rootless_host(lab_host_factory)
    data, alice_before = seed(host, stops_on_term=True), alice_data(host)
    starts, unit = daemon_starts(host), alice_unit(host)
    owner = "dpkg-query -S /usr/bin/rootlesskit /usr/bin/dockerd-rootless.sh /usr/bin/dockerd-rootless-setuptool.sh"
    assert set(host.sh(f"{owner} | cut -d: -f1").stdout.split()) == {"docker-ce-rootless-extras"}
    # her unit is the setup tool's, on the package's script
    unit_file = host.sh("cat /home/alice/.config/systemd/user/docker.service").stdout
    assert "ExecStart=/usr/bin/dockerd-rootless.sh" in unit_file
    [daemon] = facts(adhoc(host, ansible_env, module="rootless_facts", check=True))["rootless"]["daemons"]
    assert (daemon["user"], daemon["engine_version"]) == ("alice", "20.10.24+dfsg1")
    assert daemon["systemd_unit"] == "docker.service"
    assert daemon["rootlesskit_pid"] and daemon["net_driver"] == "slirp4netns", daemon
    assert (daemon["script"], daemon["script_family"]) == ("/usr/bin/dockerd-rootless.sh", "docker-ce")

    run = play(host, ansible_env, "mid", upgrade_package_family="docker-ce", upgrade_extra_packages={})
    assert run.rc == 0, run
    r = run.result
    assert r["status"] == "upgraded"
    assert [s["action"] for s in r["steps"]] == [
        "upgrade_containerd", "upgrade_engine", "restart_engine", "restart_rootless_engine"], r["steps"]
    mid = "5:26.1.5-1~debian.12~bookworm"
    out = host.exec(["dpkg-query", "-W", "-f=${Package} ${Version}\n", "docker-ce", "docker-ce-rootless-extras"])
    assert out.stdout.split("\n")[:2] == [f"docker-ce {mid}", f"docker-ce-rootless-extras {mid}"]
    assert versions(host) == ("26.1.5+dfsg1", "1.7.24~ds1")
    assert rootless_versions(host, ansible_env) == [("alice", "26.1.5+dfsg1")]
    # her daemon restarted exactly once, by the role, on her unmodified unit (the package's new script)
    assert daemon_starts(host) == starts + 1
    after = alice_unit(host)
    assert after["MainPID"] != unit["MainPID"] and after["NRestarts"] == "0" and after["ActiveState"] == "active"
    assert host.sh("cat /home/alice/.config/systemd/user/docker.service").stdout == unit_file
    step = r["steps"][-1]
    assert step["component"] == "rootless:alice" and step["result"]["containers_started"] == ["alice-keeper"]
    state = alice_state(host)
    assert state["Running"] and state["StartedAt"] > state["FinishedAt"] > "2"
    assert alice_data(host) == alice_before
    assert running(host)["keeper"] == "running" and checksum(host) == data
