"""Docker API clients that run on the host, not in containers: clients_facts finds real long-lived clients, and
the prediction for them equals what a real engine answers.

In a lab host with Docker 28.5.2: the docker CLI of the docker-cli package runs `docker events` pinned with
DOCKER_API_VERSION=1.24 from a shell loop outside any unit, and a Python program streams events with docker-py 2.0.0
(PyPI; it speaks API 1.24 and negotiates nothing) as the systemd service fs-sdk-events.service. clients_facts must
list both with the executable, unit and release the host itself shows (systemctl, ss -xp, the CLI's own version),
and nothing else. Then dockerd is restarted with DOCKER_MIN_API_VERSION=1.44 (Engine 29.0's minimum): compat_findings
on the gathered clients and what that engine reports predicts both refused, and both real clients, which reconnect
by themselves, are refused with the predicted message.
"""
from __future__ import annotations

import re
import time

import pytest
from _facts import ROOTLESS_SETUP, adhoc, facts, rootless_start
from ansible_collections.fleetsafe.container_engine.plugins.filter.compat_findings import FilterModule
from test_truth_clients import copy_tree, engine_facts, pyclient_tree, restart_with_min_api, unversioned_version

compat_findings = FilterModule().filters()["compat_findings"]

SDK_TREE = "/opt/fs-pyclients/docker-2.0.0"
SDK_LOG = "/var/log/fs-sdk-events.log"
CLI_LOG = "/var/log/fs-cli-events.log"
SDK_SCRIPT = """
import time, docker
while True:
    try:
        for event in docker.from_env().events():
            pass
    except Exception as exc:
        print('ERROR', exc, flush=True)
    time.sleep(0.5)
"""
START = rf"""
mkdir -p /opt/fs-sdk && cat > /opt/fs-sdk/events.py <<'EOF'
{SDK_SCRIPT}
EOF
cat > /etc/systemd/system/fs-sdk-events.service <<'EOF'
[Service]
Environment=PYTHONPATH={SDK_TREE}
Environment=DOCKER_HOST=unix:///run/docker.sock
ExecStart=/usr/bin/python3 /opt/fs-sdk/events.py
StandardOutput=append:{SDK_LOG}
EOF
systemctl daemon-reload
systemctl start fs-sdk-events.service
setsid bash -c 'while :; do DOCKER_API_VERSION=1.24 /usr/bin/docker events; sleep 0.5; done' \
  >/dev/null 2>>{CLI_LOG} </dev/null &
"""


def connected_pids(host) -> set[int]:
    """What `ss -xp` shows: the processes whose unix socket's peer is bound to /run/docker.sock."""
    out = host.exec(["ss", "-xpan"]).stdout
    servers, peers = set(), {}
    for line in out.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        if fields[4] in ("/run/docker.sock", "/var/run/docker.sock") and fields[1] == "ESTAB":
            servers.add(fields[5])
        pid = re.search(r"pid=(\d+)", line)
        if pid:
            peers.setdefault(fields[7], set()).add(int(pid.group(1)))
    return {pid for inode in servers for pid in peers.get(inode, set())}


def wait_for(predicate, what):
    for _attempt in range(100):
        if predicate():
            return
        time.sleep(0.2)
    pytest.fail(f"{what} did not happen")


def test_host_clients_found_and_judged_like_the_engine_answers(lab_host_factory, ansible_env):
    host = lab_host_factory("new")
    copy_tree(host, pyclient_tree("docker", "2.0.0"), SDK_TREE)
    host.sh(START)
    dockerd = int(host.exec(["systemctl", "show", "-p", "MainPID", "--value", "docker.service"]).stdout)
    wait_for(lambda: len(connected_pids(host) - {dockerd}) == 2, "two clients connected")
    seen = connected_pids(host) - {dockerd}

    result = adhoc(host, ansible_env, module="clients_facts", check=True)
    assert result["changed"] is False
    clients = facts(result)["clients"]
    assert clients["host_processes_error"] is None and clients["error"] is None
    found = {entry["pid"]: entry for entry in clients["host_processes"]}
    assert set(found) == seen, (found, seen)

    sdk_pid = int(host.exec(["systemctl", "show", "-p", "MainPID", "--value", "fs-sdk-events.service"]).stdout)
    sdk = found[sdk_pid]
    assert sdk["exe"] == host.exec(["readlink", f"/proc/{sdk_pid}/exe"]).stdout.strip()
    assert (sdk["name"], sdk["systemd_unit"], sdk["systemd_scope"]) == (
        "fs-sdk-events.service", "fs-sdk-events.service", "system")
    assert (sdk["program"], sdk["version"], sdk["api_version_env"]) == ("docker-py", "2.0.0", None)
    assert sdk["cmdline"] == ["/usr/bin/python3", "/opt/fs-sdk/events.py"]
    assert sdk["docker_host_env"] == "unix:///run/docker.sock"

    [cli] = [entry for pid, entry in found.items() if pid != sdk_pid]
    # the CLI says 28.5.2+dfsg4 (Debian's build): the release is what precedes the "+"
    real_cli = host.exec(["docker", "version", "--format", "{{.Client.Version}}"]).stdout.strip().split("+")[0]
    assert (cli["exe"], cli["program"], cli["version"]) == ("/usr/bin/docker", "docker", real_cli)
    assert cli["version_source"] == "package docker-cli"
    assert (cli["systemd_unit"], cli["api_version_env"], cli["user"]) == (None, "1.24", "root")
    assert cli["name"] == f"docker[{cli['pid']}]"

    assert [(u["unit"], u["socket_path"], u["connected"]) for u in clients["declared_by_unit"]] == [
        ("fs-sdk-events.service", "/run/docker.sock", True)]

    # before: the engine's own minimum (1.24) accepts both, and both are connected
    before = unversioned_version(host)
    predicted = [f for f in compat_findings(engine_facts(before, [])["container_engine"] | {"clients": clients}, {})
                 if f["component"].startswith("client")]
    assert predicted == []

    try:
        restart_with_min_api(host, "1.44")
        after = unversioned_version(host)
        assert after["MinAPIVersion"] == "1.44"
        facts_after = engine_facts(after, [])["container_engine"] | {"clients": clients}
        predicted = {f["component"]: f for f in compat_findings(facts_after, {})
                     if f["component"].startswith("client") and f["severity"] == "blocker"}
        assert set(predicted) == {"client:fs-sdk-events.service", f"client:{cli['name']}"}
        assert {f["id"] for f in predicted.values()} == {"client_api_too_old"}
        message = "client version 1.24 is too old. Minimum supported API version is 1.44"
        assert all(message in f["message"] for f in predicted.values())
        # the real clients reconnect by themselves and are refused with that message
        wait_for(lambda: message in host.exec(["cat", SDK_LOG]).stdout, "docker-py refused")
        wait_for(lambda: message in host.exec(["cat", CLI_LOG]).stdout, "docker CLI refused")
    finally:
        restart_with_min_api(host, None)


def test_a_client_of_a_rootless_daemon(lab_host_factory, ansible_env):
    """A user's `docker events` as a unit of her systemd manager, connected to her rootless dockerd 28.5.2, whose
    socket lives in rootlesskit's network namespace: found with her name, her unit and her socket."""
    host = lab_host_factory("new")
    host.sh(ROOTLESS_SETUP)
    host.sh(rootless_start("builtin"))
    user = ("runuser -u alice -- env XDG_RUNTIME_DIR=/run/user/1000 "
            "DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1000/bus")
    host.sh(f"{user} systemd-run --user --unit fs-alice-events "
            "--setenv=DOCKER_HOST=unix:///run/user/1000/docker.sock /usr/bin/docker events")
    pid = int(host.exec(["runuser", "-u", "alice", "--", "env", "XDG_RUNTIME_DIR=/run/user/1000",
                         "systemctl", "--user", "show", "-p", "MainPID", "--value", "fs-alice-events"]).stdout)
    assert pid > 0

    def connected():
        clients = facts(adhoc(host, ansible_env, module="clients_facts"))["clients"]
        return [entry for entry in clients["host_processes"] if entry["pid"] == pid], clients

    found, clients = connected()
    for _attempt in range(20):
        if found:
            break
        time.sleep(0.5)
        found, clients = connected()
    assert clients["host_processes_error"] is None
    [entry] = found
    assert (entry["user"], entry["systemd_unit"], entry["systemd_scope"]) == (
        "alice", "fs-alice-events.service", "user")
    assert (entry["socket_path"], entry["docker_host_env"]) == (
        "/run/user/1000/docker.sock", "unix:///run/user/1000/docker.sock")
    assert (entry["exe"], entry["program"], entry["version"]) == ("/usr/bin/docker", "docker", "28.5.2")
