"""Docker API clients that run on the host (not in containers), against answers recorded from a real lab host
(fixtures/new_host_clients.json, record_fixtures.py hostclients) and a real sock_diag dump (netlink/).

The lab host ran Docker 28.5.2 with `docker events` as the transient service fs-events.service (DOCKER_API_VERSION=
1.24), a python3 process streaming events with docker-py 2.0.0 from PyPI outside any unit, and fs-prune.service
(never started) whose unit sets DOCKER_HOST and DOCKER_API_VERSION=1.41."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetsafe.container_engine.plugins.filter.compat_findings import FilterModule
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _gather as G
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _parse as P
from recording import ReplayHost, call_key

HERE = Path(__file__).resolve().parent
FIXTURE = json.loads((HERE / "fixtures" / "new_host_clients.json").read_text())
DUMP = json.loads((HERE / "netlink" / "unix_diag_dump.json").read_text())
compat_findings = FilterModule().filters()["compat_findings"]


def gather(calls=None):
    ctx = G.Context(ReplayHost(calls or FIXTURE["calls"]))
    return G.gather_clients(ctx, G.DEFAULT_DOCKER_SOCKET, declared=[], host_processes=True), ctx


def answer(method, *args, **kwargs):
    return FIXTURE["calls"][call_key(method, args, kwargs)]["result"]


def by_name(clients):
    return {entry["name"]: entry for entry in clients["host_processes"]}


def test_both_real_clients_are_found_with_exe_unit_and_release():
    clients, ctx = gather()
    found = by_name(clients)
    sdk_pid = next(e["pid"] for e in clients["host_processes"] if e["program"] == "docker-py")
    assert sorted(found) == ["fs-events.service", f"python3.11[{sdk_pid}]"]   # no unit: executable and pid
    cli = found["fs-events.service"]
    assert (cli["exe"], cli["cmdline"], cli["user"], cli["systemd_unit"], cli["systemd_scope"]) == (
        "/usr/bin/docker", ["/usr/bin/docker", "events"], "root", "fs-events.service", "system")
    # the version is the one dpkg gave for the package that owns /usr/bin/docker
    owner = answer("run", ["/usr/bin/dpkg-query", "-S", "/usr/bin/docker"])[1]
    assert owner.startswith("docker-cli: ")
    package_version = answer("run", ["/usr/bin/dpkg-query", "-W", "-f=${Version}", "docker-cli"])[1]
    assert package_version.startswith("28.5.2+")
    assert (cli["program"], cli["version"], cli["version_source"]) == ("docker", "28.5.2", "package docker-cli")
    assert cli["api_version_env"] == "1.24" and cli["socket_path"] == "/run/docker.sock"
    sdk = next(e for e in clients["host_processes"] if e["program"] == "docker-py")
    assert sdk["exe"].startswith("/usr/bin/python3") and sdk["systemd_unit"] is None
    assert (sdk["version"], sdk["api_version_env"]) == ("2.0.0", None)   # docker-py reads no DOCKER_API_VERSION
    assert "docker-2.0.0.dist-info" in answer("listdir", "/opt/fs-pyclients/docker-2.0.0")
    assert clients["host_processes_error"] is None and ctx.notes == []


def test_every_client_is_a_real_peer_of_the_docker_socket():
    """Each reported pid holds a socket whose peer (sock_diag) is a server end bound to /run/docker.sock
    (/proc/net/unix); the gatherer's own connection is left out."""
    servers = {inode for inode, path in P.parse_proc_net_unix(answer("read", "/proc/net/unix", binary=False))
               if path == "/run/docker.sock"}
    peers = dict(map(tuple, answer("unix_peers")["pairs"]))
    held = dict((pid, inodes) for pid, inodes in answer("process_sockets")["sockets"])
    clients, _ctx = gather()
    for entry in clients["host_processes"]:
        assert any(peers.get(inode) in servers for inode in held[entry["pid"]]), entry
    connected = {pid for pid, inodes in held.items() if any(peers.get(i) in servers for i in inodes)}
    own = answer("own_pid")
    reported = {entry["pid"] for entry in clients["host_processes"]}
    assert connected - reported <= {own}


def test_a_unit_that_only_declares_docker_host_is_listed():
    clients, _ctx = gather()
    assert clients["declared_by_unit"] == [{
        "unit": "fs-prune.service", "where": "/etc/systemd/system/fs-prune.service",
        "docker_host": "unix:///run/docker.sock", "socket_path": "/run/docker.sock", "api_version_env": "1.41",
        "exec_start": ["/usr/bin/docker", "system", "prune", "-f"], "connected": False}]


def test_without_sock_diag_the_facts_say_so_and_list_nothing():
    calls = copy.deepcopy(FIXTURE["calls"])
    calls[call_key("unix_peers", (), {})]["result"] = {"pairs": None, "error": "no sock_diag netlink socket "
                                                       "([Errno 93] Protocol not supported)"}
    clients, _ctx = gather(calls)
    assert clients["host_processes"] == []
    assert "Protocol not supported" in clients["host_processes_error"]
    assert "CONFIG_UNIX_DIAG" in clients["host_processes_error"]


def test_unreadable_processes_become_a_warning():
    calls = copy.deepcopy(FIXTURE["calls"])
    calls[call_key("process_sockets", (), {})]["result"]["unreadable"] = 7
    _clients, ctx = gather(calls)
    assert any("7 processes" in note and "become: true" in note for note in ctx.notes)


# --- the netlink parser against a real dump ----------------------------------------------------------------------
def ss_pairs(text):
    pairs = {}
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 8 and fields[0] == "u_str" and fields[5].isdigit() and fields[7].isdigit():
            pairs[int(fields[5])] = int(fields[7])
    return pairs


def test_unix_diag_parser_agrees_with_ss_on_a_real_dump():
    pairs, done = [], False
    for chunk in DUMP["chunks"]:
        done, error = P.parse_unix_diag(bytes.fromhex(chunk), pairs)
        assert error is None
    assert done
    ours = dict(map(tuple, pairs))
    theirs = {ino: peer for ino, peer in ss_pairs(DUMP["ss_xan"]).items() if peer}
    both = set(ours) & set(theirs)
    assert len(both) >= 10
    assert {ino: ours[ino] for ino in both} == {ino: theirs[ino] for ino in both}


def test_unix_diag_parser_reports_a_netlink_error():
    import struct
    message = struct.pack("=IHHII", 36, 2, 0, 1, 0) + struct.pack("=i", -93) + b"\0" * 16
    assert P.parse_unix_diag(message, []) == (True, "sock_diag answered Protocol not supported")


# --- parsers ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text,expected", [
    ("0::/system.slice/gitlab-runner.service\n", ("gitlab-runner.service", "system")),
    ("0::/user.slice/user-1000.slice/user@1000.service/app.slice/ci-watch.service\n", ("ci-watch.service", "user")),
    ("0::/user.slice/user-1000.slice/session-3.scope\n", ("session-3.scope", "system")),
    ("12:perf_event:/\n9:name=systemd:/docker/91fb/system.slice/fs-events.service\n", ("fs-events.service", "system")),
    ("0::/docker/91fb42cf66ed\n", (None, None)),
    ("", (None, None)),
])
def test_unit_from_cgroup(text, expected):
    assert P.unit_from_cgroup(text) == expected


@pytest.mark.parametrize("names,project,expected", [
    (["docker", "docker-7.1.0.dist-info", "requests"], "docker", "7.1.0"),
    (["docker", "docker-5.0.3.egg-info"], "docker", "5.0.3"),
    (["compose", "docker_compose-1.29.2.dist-info"], "docker-compose", "1.29.2"),
    (["docker_pycreds-0.4.0.dist-info", "docker"], "docker", None),
    (["dockerfile-3.3.1.dist-info"], "docker", None),
])
def test_dist_version(names, project, expected):
    assert P.dist_version(names, project) == expected


@pytest.mark.parametrize("text,expected", [
    ("docker-cli: /usr/bin/docker\n", "docker-cli"),
    ("docker-ce-cli: /usr/bin/docker\n", "docker-ce-cli"),
    ("diversion by foo from: /usr/bin/docker\ndiversion by foo to: /usr/bin/docker.real\n", None),
    ("", None),
])
def test_parse_dpkg_search(text, expected):
    assert P.parse_dpkg_search(text) == expected


def test_parse_docker_cli_version():
    # what /usr/local/bin/docker (a static 28.2.2 client) prints for --version on these machines
    assert P.parse_docker_cli_version("Docker version 28.2.2, build e6534b4\n") == "28.2.2"
    assert P.parse_docker_cli_version("bash: docker: command not found") is None


# --- the findings ------------------------------------------------------------------------------------------------
def facts_with(clients):
    return {"container_engine": {"clients": clients}}


def client_findings(clients, target):
    return [f for f in compat_findings(facts_with(clients), target) if f["component"].startswith("client")]


def test_host_clients_are_judged_like_containers():
    clients, _ctx = gather()
    found = {(f["id"], f["component"]) for f in client_findings(clients, {"engine": "29.0.0"})}
    sdk = next(e["name"] for e in clients["host_processes"] if e["program"] == "docker-py")
    assert found == {("client_api_too_old", "client:fs-events.service"), ("client_api_too_old", "client:" + sdk),
                     ("client_api_too_old", "client:fs-prune.service")}
    assert client_findings(clients, {"engine": "28.5.2"}) == []


def test_a_host_client_pinned_by_its_environment_is_told_to_unpin():
    clients, _ctx = gather()
    found = {f["component"]: f for f in client_findings(clients, {"engine": "29.0.0"})}
    cli = found["client:fs-events.service"]["remedy"]
    assert cli.startswith("unpin it: remove the API version 1.24 from its environment (DOCKER_API_VERSION")
    assert "or raise it to 1.44" in cli
    prune = found["client:fs-prune.service"]["remedy"]
    assert "in the unit fs-prune.service, or raise it to 1.44" in prune
    sdk = next(f for name, f in found.items() if name.startswith("client:python3"))
    assert sdk["remedy"].startswith("upgrade docker-py first")    # pinned by its release, not its environment


def test_a_host_program_the_knowledge_base_cannot_judge_is_reported():
    clients, _ctx = gather()
    clients = copy.deepcopy(clients)
    cli = by_name(clients)["fs-events.service"]
    cli.update(program=None, version=None, version_source=None, api_version_env=None,
               exe="/opt/agent/bin/agent", cmdline=["/opt/agent/bin/agent"])
    sdk = next(e for e in clients["host_processes"] if e["program"] == "docker-py")
    sdk.update(version=None, version_source=None, exe="/usr/bin/python3.11 (deleted)")
    clients["declared_by_unit"][0]["api_version_env"] = None
    found = {f["component"]: f for f in client_findings(clients, {"engine": "29.0.0"})}
    assert {f["id"] for f in found.values()} == {"client_api_unknown"}
    assert "a program the knowledge base does not know" in found["client:fs-events.service"]["message"]
    assert "/opt/agent/bin/agent" in found["client:fs-events.service"]["message"]
    assert "its docker-py release could not be read" in found["client:" + sdk["name"]]["message"]
    assert "its unit points it at the socket" in found["client:fs-prune.service"]["message"]
    assert "under the name fs-prune.service" in found["client:fs-prune.service"]["remedy"]


def test_a_declaration_under_the_same_name_completes_a_host_client():
    clients, _ctx = gather()
    clients = copy.deepcopy(clients)
    clients["declared_by_unit"][0]["api_version_env"] = None
    clients["declared"] = [{"name": "fs-prune.service", "api_version": "1.44", "image": None, "image_name": None,
                            "image_tag": None}]
    found = client_findings(clients, {"engine": "29.0.0"})
    assert "client:fs-prune.service" not in {f["component"] for f in found}


def test_a_tcp_unit_is_listed_not_judged():
    clients, _ctx = gather()
    clients = copy.deepcopy(clients)
    clients["declared_by_unit"][0].update(docker_host="tcp://10.0.0.5:2376", socket_path=None)
    assert "client:fs-prune.service" not in {f["component"] for f in client_findings(clients, {"engine": "29.0.0"})}


@pytest.mark.parametrize("key,value,message", [
    ("name", None, "clients.host_processes[0].name must name the client"),
    ("version", 28, "clients.host_processes[0].version must be a string or null"),
    ("api_version_env", "1.x", "clients.host_processes[0].api_version_env"),
])
def test_bad_host_process_facts_name_the_value(key, value, message):
    clients, _ctx = gather()
    clients = copy.deepcopy(clients)
    clients["host_processes"][0][key] = value
    with pytest.raises(AnsibleFilterError, match=message.replace("[", r"\[").replace("]", r"\]")):
        client_findings(clients, None)


def test_facts_without_host_processes_still_read():
    clients, _ctx = gather()
    old = {key: value for key, value in clients.items()
           if key not in ("host_processes", "declared_by_unit", "host_processes_error")}
    assert client_findings(old, {"engine": "29.0.0"}) == []


# --- a docker CLI no package owns (/usr/local/bin/docker, a static client) -------------------------------------
def unowned_cli_calls(owner):
    """The recording, with dpkg owning nothing at /usr/bin/docker (what `dpkg-query -S` says for a file no package
    ships) and the given [uid, mode] for the file."""
    calls = copy.deepcopy(FIXTURE["calls"])
    calls[call_key("run", (["/usr/bin/dpkg-query", "-S", "/usr/bin/docker"],), {})]["result"] = [
        1, "", "dpkg-query: no path found matching pattern /usr/bin/docker\n"]
    calls[call_key("file_owner", ("/usr/bin/docker",), {})] = {"result": owner}
    # what the 28.2.2 static client of these machines prints for --version
    calls[call_key("run", (["/usr/bin/docker", "--version"],), {})] = {
        "result": [0, "Docker version 28.2.2, build e6534b4\n", ""]}
    return calls


def test_an_unowned_docker_cli_is_asked_for_its_version_when_only_root_can_write_it():
    clients, _ctx = gather(unowned_cli_calls([0, 0o100755]))
    cli = by_name(clients)["fs-events.service"]
    assert (cli["version"], cli["version_source"]) == ("28.2.2", "/usr/bin/docker --version")


@pytest.mark.parametrize("owner", [[1000, 0o100755], [0, 0o100775], [0, 0o100757], None])
def test_an_unowned_docker_cli_a_user_could_replace_is_never_run(owner):
    calls = unowned_cli_calls(owner)
    replay = ReplayHost(calls)
    clients = G.gather_clients(G.Context(replay), G.DEFAULT_DOCKER_SOCKET, declared=[], host_processes=True)
    cli = by_name(clients)["fs-events.service"]
    assert (cli["program"], cli["version"], cli["version_source"]) == ("docker", None, None)
    assert call_key("run", (["/usr/bin/docker", "--version"],), {}) not in replay.used
