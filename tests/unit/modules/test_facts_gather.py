"""The facts gatherers against responses recorded from real daemons (fixtures/*.json, made by
record_fixtures.py in lab hosts). Each assertion names a value the daemon or package itself gave."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _gather as G
from kb_lookup import runc_shim_version, shim_protocols
from recording import ReplayHost

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ALL = sorted(p.stem for p in FIXTURES.glob("*.json"))


def load(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def gather(name: str, host_class=ReplayHost, planned: bool = False) -> tuple[dict, G.Context, dict]:
    """Replay a recording through the gatherers; planned: start the planned commands first, as
    run_facts_module does."""
    data = load(name)
    ctx = G.Context(host_class(data["calls"]))
    socket = data.get("docker_socket", G.DEFAULT_DOCKER_SOCKET)
    if planned:
        ctx.start_commands(G.planned_commands(ctx, ["docker", "containerd", "rootless", "clients"], socket,
                                              G.DEFAULT_CONTAINERD_SOCKET))
    facts = {"docker": G.gather_docker(ctx, socket)}
    facts["containerd"] = G.gather_containerd(ctx, engine_components=facts["docker"]["components"])
    facts["rootless"] = G.gather_rootless(ctx)
    # fixtures recorded before host processes were listed hold no answers for it: replay them without
    facts["clients"] = G.gather_clients(ctx, socket, declared=data["declared"],
                                        host_processes=data.get("host_processes", False),
                                        registries=data.get("registries"))
    return facts, ctx, data


def raw(data: dict, method: str, *args, **kwargs):
    from recording import call_key
    return data["calls"][call_key(method, args, kwargs)]


def test_fixtures_present():
    assert {"nodocker", "old", "mid", "mid_upgraded_no_restart", "mid_upgraded_containerd_restarted",
            "new_after_upgrade", "new_rootless_builtin", "new_rootless_slirp4netns", "old_stopped",
            "old_stopped_socket_active", "old_unprivileged", "old_socket_elsewhere"} <= set(ALL)


@pytest.mark.parametrize("name", ALL)
def test_replay_gives_the_recorded_facts(name):
    facts, ctx, data = gather(name)
    assert facts == data["facts"]
    assert ctx.notes == data["notes"]


@pytest.mark.parametrize("name,version,api,min_api", [
    ("old", "20.10.24+dfsg1", "1.41", "1.12"),
    ("mid", "26.1.5+dfsg1", "1.45", "1.24"),
    ("new_after_upgrade", "28.5.2+dfsg4", "1.51", "1.24"),
])
def test_api_range_is_what_the_unversioned_version_says(name, version, api, min_api):
    facts, _ctx, data = gather(name)
    answer = raw(data, "api", "/var/run/docker.sock", "/version")["result"]
    docker = facts["docker"]
    assert (docker["version"], docker["api_version"], docker["min_api_version"]) == (version, api, min_api)
    assert (answer["Version"], answer["ApiVersion"], answer["MinAPIVersion"]) == (version, api, min_api)
    assert docker["can_talk_to_docker"] is True and docker["error"] is None
    assert docker["stale"] is False and docker["exe_deleted"] is False
    assert docker["package_family"] == "debian"
    assert docker["installed_version"] == version.split("+")[0]
    assert set(docker["components"]) >= {"engine", "containerd", "runc", "docker-init"}


def test_old_engine_details_and_packages():
    docker = gather("old")[0]["docker"]
    assert docker["packages"] == {"docker.io": "20.10.24+dfsg1-1+deb12u1+b6", "containerd": "1.6.20~ds1-1+deb12u3",
                                  "runc": "1.1.5+ds1-1+deb12u1", "tini": "0.19.0-1+b3"}
    assert docker["storage_driver"] == "overlay2"
    assert docker["cgroup_driver"] == "cgroupfs"
    assert docker["live_restore"] is False
    assert docker["containers"] == {"total": 1, "running": 1, "paused": 0, "stopped": 0}
    assert docker["components"]["containerd"]["version"] == "1.6.20~ds1"
    assert docker["min_api_overrides"] == []


def test_mid_min_api_overrides_running_env_and_dropin():
    docker = gather("mid")[0]["docker"]
    sources = {(o["source"], o["value"]) for o in docker["min_api_overrides"]}
    assert sources == {("environment", "1.24"), ("systemd_dropin", "1.24")}
    dropin = [o for o in docker["min_api_overrides"] if o["source"] == "systemd_dropin"][0]
    assert dropin["where"] == "/etc/systemd/system/docker.service.d/min-api.conf"
    assert docker["daemon_json"] == {"live-restore": True}
    assert docker["live_restore"] is True


@pytest.mark.parametrize("name,line,accepted,produced", [
    ("old", "1.6.20", [1], 1),
    ("mid", "1.7.24", [1, 2], 1),
    ("new_after_upgrade", "2.1.9", [1, 2, 3], 3),
])
def test_containerd_in_step(name, line, accepted, produced):
    c = gather(name)[0]["containerd"]
    assert c["installed_version"] == c["running_version"] == line
    assert c["restart_required"] is False and c["restart_reasons"] == [] and c["exe_deleted"] is False
    # the facts report the versions; the knowledge base says which shim protocols they speak
    assert "shim_protocol_accepted" not in c and "shim_protocol_produced" not in c
    assert runc_shim_version(c) == line
    assert shim_protocols(c["running_version"])[0] == accepted and shim_protocols(runc_shim_version(c))[1] == produced
    assert c["config_version"] == 2
    assert c["error"] is None


def test_containerd_2_installed_under_running_1_7():
    facts, _ctx, data = gather("mid_upgraded_no_restart")
    c = facts["containerd"]
    ctr = raw(data, "run", ["/usr/bin/ctr", "--address", "/run/containerd/containerd.sock", "--timeout", "10s",
                            "version"])["result"][1]
    assert "Version:  2.1.9+unknown" in ctr and "Version:  1.7.24~ds1" in ctr  # client, server as ctr printed
    assert (c["running_version_raw"], c["installed_version_raw"]) == ("1.7.24~ds1", "2.1.9+unknown")
    assert c["restart_required"] is True
    assert c["exe_deleted"] is True
    assert c["restart_reasons"][0] == "running 1.7.24 != installed 2.1.9"
    assert shim_protocols(runc_shim_version(c))[1] not in shim_protocols(c["running_version"])[0]
    assert c["shims"] == [{"name": "containerd-shim-runc-v2", "path": "/usr/bin/containerd-shim-runc-v2",
                           "version": "2.1.9+unknown", "version_normalized": "2.1.9"}]
    docker = facts["docker"]
    assert docker["version"] == "26.1.5+dfsg1" and docker["installed_version"] == "28.5.2"
    assert docker["stale"] is True and docker["exe_deleted"] is True


def test_containerd_restarted_engine_still_stale():
    facts = gather("mid_upgraded_containerd_restarted")[0]
    assert facts["containerd"]["restart_required"] is False
    assert facts["containerd"]["running_version"] == "2.1.9"
    assert facts["docker"]["stale"] is True


@pytest.mark.parametrize("name,port_driver", [("new_rootless_builtin", "builtin"),
                                              ("new_rootless_slirp4netns", "slirp4netns")])
def test_rootless(name, port_driver):
    facts, _ctx, data = gather(name)
    [daemon] = facts["rootless"]["daemons"]
    answer = raw(data, "api", "/run/user/1000/docker.sock", "/version")["result"]
    kit = [c for c in answer["Components"] if c["Name"] == "rootlesskit"][0]
    assert kit["Details"]["PortDriver"] == port_driver  # what rootlesskit told dockerd
    kit_pid = daemon["rootlesskit_pid"]
    kit_argv = raw(data, "read", f"/proc/{kit_pid}/cmdline", binary=True)["result"]["__bytes__"]
    assert f"--port-driver={port_driver}" in kit_argv.split("\0")  # rootlesskit's own command line
    assert daemon["port_driver"] == port_driver and daemon["net_driver"] == "slirp4netns"
    assert daemon["driver_source"] == "engine"
    assert (daemon["user"], daemon["uid"], daemon["socket"]) == ("alice", 1000, "/run/user/1000/docker.sock")
    assert (daemon["engine_version"], daemon["api_version"], daemon["min_api_version"]) == ("28.5.2+dfsg4", "1.51",
                                                                                            "1.24")
    assert daemon["rootlesskit_version"] == "2.0.2" and daemon["slirp4netns_version"] == "1.2.0"
    assert daemon["systemd_unit"] == "docker.service" and daemon["linger"] is True
    # started from docker.io's contrib script (Debian's family), as rootlesskit's command line says
    assert (daemon["script"], daemon["script_family"]) == ("/usr/share/docker.io/contrib/dockerd-rootless.sh", "debian")
    # the rootless daemon's own containerd (uid 1000) is not taken for the system one
    assert facts["containerd"]["pid"] != daemon["pid"]
    assert facts["docker"]["pid"] != daemon["pid"] and facts["docker"]["api_version"] == "1.51"


def test_client_container_with_pinned_api():
    clients = gather("old")[0]["clients"]
    [mount] = clients["socket_mounts"]
    assert mount["name"] == "fsf-client" and mount["api_version_env"] == "1.23"
    assert (mount["image"], mount["image_name"], mount["image_tag"]) == ("busybox:lab", "busybox", "lab")
    assert mount["state"] == "running" and mount["socket_path"] == "/var/run/docker.sock"
    assert mount["labels"] == {"fleetsafe.test": "client"}
    assert clients["declared"][0] == {"name": "ecs-agent", "api_version": "1.21", "image": None, "image_name": None,
                                      "image_tag": None}
    assert clients["declared"][1]["image_tag"] == "1.12.0"


def test_no_docker_installed():
    facts = gather("nodocker")[0]
    assert facts["docker"]["can_talk_to_docker"] is False
    assert facts["docker"]["error"].startswith("Docker is not installed on this host")
    assert "install the docker.io or docker-ce package" in facts["docker"]["error"]
    assert facts["containerd"]["installed"] is False and "not installed" in facts["containerd"]["error"]
    assert facts["rootless"] == {"daemons": [], "error": None}
    assert facts["docker"]["packages"] == {}


def test_stopped_daemon_socket_activation_not_triggered():
    facts, _ctx, data = gather("old_stopped_socket_active")
    assert facts["docker"]["can_talk_to_docker"] is False
    assert "systemctl start docker" in facts["docker"]["error"]
    # the socket was never asked (asking would have started dockerd through docker.socket)
    assert not any(json.loads(k)[0] == "api" for k in data["calls"])


def test_stopped_daemon():
    docker = gather("old_stopped")[0]["docker"]
    assert docker["can_talk_to_docker"] is False and docker["pid"] is None
    assert docker["error"] == ("The Docker daemon is not running (connection refused on /var/run/docker.sock): "
                               "start it with `systemctl start docker`.")
    assert docker["installed_version"] == "20.10.24"  # packages are still reported


def test_unprivileged_user():
    facts, ctx, _data = gather("old_unprivileged")
    assert facts["docker"]["error"].startswith("User bob may not use /var/run/docker.sock (permission denied)")
    assert facts["containerd"]["restart_required"] is None
    assert facts["containerd"]["installed_version"] == "1.6.20"
    assert any("environ" in note for note in ctx.notes)


class PlanningReplayHost(ReplayHost):
    """A replay that also keeps what start_commands was given and which commands run() was asked for."""

    def __init__(self, calls):
        super().__init__(calls)
        self.started, self.ran = [], []

    def start_commands(self, argvs):
        self.started += [list(argv) for argv in argvs]

    def run(self, argv):
        self.ran.append(list(argv))
        return self.__getattr__("run")(argv)


@pytest.mark.parametrize("name", ALL)
def test_commands_started_together_are_the_ones_the_gatherers_run(name):
    """run_facts_module starts the planned commands side by side: every one of them is a command the gatherers
    really run (nothing speculative runs on a host), and the facts are the recorded ones."""
    facts, ctx, data = gather(name, PlanningReplayHost, planned=True)
    host = ctx.host
    assert facts == data["facts"]
    assert host.started and all(argv in host.ran for argv in host.started)
    assert len({tuple(argv) for argv in host.started}) == len(host.started)


def test_unparsable_daemon_json_is_an_error():
    data = load("mid")
    calls = copy.deepcopy(data["calls"])
    from recording import call_key
    calls[call_key("read", ("/etc/docker/daemon.json",), {"binary": False})] = {"result": '{"live-restore": true,'}
    docker = G.gather_docker(G.Context(ReplayHost(calls)))
    assert docker["daemon_json"] == {}
    assert "/etc/docker/daemon.json is not valid JSON" in docker["error"]
    assert docker["can_talk_to_docker"] is True


# the pid dockerd had when the recording was made
PID = load("old_socket_elsewhere")["facts"]["docker"]["pid"]
ELSEWHERE = (f"There is no socket at /run/nope/docker.sock, but dockerd runs (pid {PID}) and listens at "
             "unix:///run/docker.sock: point docker_host at unix:///run/docker.sock.")


def test_socket_missing_while_dockerd_listens_elsewhere():
    """docker_host names a socket that does not exist while dockerd runs: the error says where it listens,
    not that it is stopped (Debian's dockerd is started with -H fd://, systemd's docker.socket holds the socket)."""
    facts, _ctx, data = gather("old_socket_elsewhere")
    argv = raw(data, "read", f"/proc/{PID}/cmdline", binary=True)["result"]["__bytes__"].split("\0")
    assert argv[:3] == ["/usr/sbin/dockerd", "-H", "fd://"]
    unit = raw(data, "read", "/usr/lib/systemd/system/docker.socket", binary=False)["result"]
    assert "ListenStream=/run/docker.sock" in unit.splitlines()
    docker = facts["docker"]
    assert docker["pid"] == PID and docker["can_talk_to_docker"] is False
    assert docker["error"] == ELSEWHERE
    assert facts["clients"]["error"] == ELSEWHERE
    assert "not running" not in docker["error"] and "systemctl start" not in docker["error"]


def variant(name: str, changes: dict) -> dict:
    """A recording with some answers replaced (each key: method and arguments as recorded)."""
    from recording import call_key
    calls = copy.deepcopy(load(name)["calls"])
    for (method, args, kwargs), result in changes.items():
        calls[call_key(method, args, dict(kwargs))] = result
    return calls


CMDLINE = ("read", (f"/proc/{PID}/cmdline",), (("binary", True),))
DAEMON_JSON = ("read", ("/etc/docker/daemon.json",), (("binary", False),))


@pytest.mark.parametrize("argv,daemon_json,expected", [
    # -H given on the command line: every one, in order
    ("/usr/sbin/dockerd\0-H\0unix:///run/alt.sock\0-H\0tcp://127.0.0.1:2375\0", None,
     "listens at unix:///run/alt.sock, tcp://127.0.0.1:2375: point docker_host at unix:///run/alt.sock."),
    # no -H: "hosts" of daemon.json
    ("/usr/sbin/dockerd\0", '{"hosts": ["unix:///srv/docker.sock"]}',
     "listens at unix:///srv/docker.sock: point docker_host at unix:///srv/docker.sock."),
    # neither: dockerd's default socket
    ("/usr/sbin/dockerd\0", None,
     "listens at unix:///var/run/docker.sock: point docker_host at unix:///var/run/docker.sock."),
    # TCP only: this module will not follow it there
    ("/usr/sbin/dockerd\0--host=tcp://0.0.0.0:2375\0", None,
     "listens at tcp://0.0.0.0:2375 only: give it a unix socket as well (-H unix:///var/run/docker.sock), this "
     "module never opens a network connection."),
])
def test_where_dockerd_listens(argv, daemon_json, expected):
    calls = variant("old_socket_elsewhere", {CMDLINE: {"result": {"__bytes__": argv}},
                                             DAEMON_JSON: {"result": daemon_json}})
    docker = G.gather_docker(G.Context(ReplayHost(calls)), "/run/nope/docker.sock")
    assert docker["error"] == (f"There is no socket at /run/nope/docker.sock, but dockerd runs (pid {PID}) and "
                               + expected)


def test_refused_socket_while_dockerd_listens_elsewhere():
    calls = variant("old_socket_elsewhere", {("socket_state", ("/run/nope/docker.sock",), ()): {"result": "ok"}})
    from recording import call_key
    calls[call_key("api", ("/run/nope/docker.sock", "/version"), {})] = {
        "engine_error": ["refused", "connection refused on /run/nope/docker.sock", None]}
    docker = G.gather_docker(G.Context(ReplayHost(calls)), "/run/nope/docker.sock")
    assert docker["error"] == ("Nothing answers on /run/nope/docker.sock (connection refused), but dockerd runs "
                               f"(pid {PID}) and listens at unix:///run/docker.sock: point docker_host at "
                               "unix:///run/docker.sock.")


# --- clients on floating tags (scenario floating: tests/integration/_floating.py) -------------------------------

FLOATING = "old_floating_tags"


def test_floating_tags_learn_the_release_from_the_label_and_the_registry():
    facts, ctx, data = gather(FLOATING)
    learned = {m["name"]: m["version_learned"] for m in facts["clients"]["socket_mounts"]}
    assert learned == {
        "fs-labelled": {"version": "3.0.0", "source": "label:org.opencontainers.image.version"},
        "fs-pushed": {"version": "2.0.0", "source": "registry:127.0.0.1:5000/fleetsafe-lab/agent:2.0.0"},
        "fs-stable": None, "fs-thing": None}
    # what the engine and the registry answered: the label in the container's configuration, the digest in RepoDigests
    labelled = next(m for m in facts["clients"]["socket_mounts"] if m["name"] == "fs-labelled")
    full_id = next(c["Id"] for c in raw(data, "api", "/var/run/docker.sock", "/containers/json",
                                        params={"all": 1})["result"] if c["Id"].startswith(labelled["id"]))
    detail = raw(data, "api", "/var/run/docker.sock", f"/containers/{full_id}/json")["result"]
    assert detail["Config"]["Labels"]["org.opencontainers.image.version"] == "3.0.0"
    registry_calls = [key for key in ctx.host.used if "registry_" in key]
    assert len(registry_calls) == 2     # one tag listing, one digest: 2.0.0, the newest release tag, matched


def test_floating_tags_without_registries_ask_none():
    data = load(FLOATING)
    ctx = G.Context(ReplayHost(data["calls"]))
    clients = G.gather_clients(ctx, G.DEFAULT_DOCKER_SOCKET, declared=[], host_processes=False)
    learned = {m["name"]: m["version_learned"] for m in clients["socket_mounts"]}
    assert learned["fs-pushed"] is None and learned["fs-labelled"]["version"] == "3.0.0"
    assert not [key for key in ctx.host.used if "registry_" in key or "/images/" in key]
