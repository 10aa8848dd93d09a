"""The roles' step modules: package_step (one apt step) read on apt-get -s output recorded from a real lab host
(tests/unit/data/engine_host_recorded.json), the one upstream_version filter the roles use instead of Jinja
regexes, and the engine API's start / stop of a set of containers all at once (module_utils/_engine_api.py)
against a small HTTP server on a real unix socket answering as dockerd does (204, 304, 404 with its message)."""
from __future__ import annotations

import json
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetsafe.container_engine.plugins.filter.upstream_version import upstream_version
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _apt as A
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _daemon as D
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _run as R
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._engine_api import (
    answers,
    containers_act,
    kept_and_restarted,
    running_pids,
    server_version,
)
from ansible_collections.fleetsafe.container_engine.plugins.modules import package_step as P

REC = json.loads((Path(__file__).parent / "data/engine_host_recorded.json").read_text())
REC_STATE = json.loads((Path(__file__).parent / "data/daemon_state_recorded.json").read_text())


def test_the_plan_reads_apts_own_lines():
    sim = REC["sim_new_to_mid_engine_tini"]
    _ok, _problems, actions = A.parse_simulation(sim["rc"], sim["stdout"], sim["stderr"])
    assert A.plan_lines(actions) == [
        "docker-cli 28.5.2+dfsg4-5 -> 26.1.5+dfsg1-9+deb13u1+b1",
        "docker.io 28.5.2+dfsg4-5 -> 26.1.5+dfsg1-9+deb13u1+b1",
        "tini-static 0.19.0-6+b2 removed",
        "tini (new) 0.19.0-1+b3",
    ]
    # the holds in the way are those of the packages the change moves, removed ones included
    assert P.moved_names(actions) == ["docker-cli", "docker.io", "tini-static", "tini"]


def test_bad_input_names_every_value():
    bad = P.bad_input({"pins": {"Docker.io": "26.1.5", "containerd": "latest; rm -rf /"}, "source": "http://x",
                       "source_file": "../etc/passwd"})
    assert bad == [
        "package name 'Docker.io' is not a Debian package name",
        "version 'latest; rm -rf /' of containerd is not a Debian package version",
        "source 'http://x' is not an apt source line (deb [options] URI suite [components])",
        "source_file '../etc/passwd' is not a file name",
    ]
    assert P.bad_input({"pins": {"containerd": "1.7.24~ds1-6+deb13u1", "runc": ""},
                        "source": "deb [trusted=yes] file:/srv/repo ./", "source_file": "fleetsafe-upgrade"}) == []


@pytest.mark.parametrize("version,upstream", [
    ("5:28.0.1-1~debian.12~bookworm", "28.0.1"), ("1.7.24~ds1-6+deb13u1", "1.7.24"),
    ("20.10.24+dfsg1-1+deb12u1+b6", "20.10.24"), ("2.1.9+unknown", "2.1.9"), ("", "")])
def test_one_upstream_version_filter(version, upstream):
    assert upstream_version(version) == upstream


def test_upstream_version_filter_names_a_value_that_is_no_version():
    with pytest.raises(AnsibleFilterError, match=r"^upstream_version: 'latest' is not a version"):
        upstream_version("latest")


class Engine(BaseHTTPRequestHandler):
    """POST /containers/ID/start|stop as dockerd answers: 204 done, 304 already so, 404 no such container; a
    start is refused (500) ``refuse`` times first, as while dockerd reconnects to a restarted containerd."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):  # noqa: N802 - http.server's name
        srv = self.server
        with srv.lock:
            srv.inflight += 1
            srv.most = max(srv.most, srv.inflight)
        time.sleep(0.2)
        cid, action = self.path.split("/")[2:4]
        with srv.lock:
            srv.inflight -= 1
            srv.seen.append((cid, action))
            refused = srv.refuse.get(cid, 0)
            if refused:
                srv.refuse[cid] = refused - 1
        if cid == "gone":
            status, body = 404, {"message": "No such container: gone"}
        elif refused:
            status, body = 500, {"message": "connection error: desc = transport: error while dialing"}
        else:
            status, body = (304 if cid == "running" else 204), None
        data = json.dumps(body).encode() if body else b""
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 - http.server's name
        # GET /containers/json lists the running ones (Id, Names); /containers/ID/json inspects one (Name, State)
        listed = self.server.listed
        if self.path in ("/version", "/_ping"):
            # the answer of a real 26.1.5 engine (tests/unit/data/daemon_state_recorded.json), and its plain OK
            data = (REC_STATE["docker_version_json_server"].encode() if self.path == "/version" else b"OK")
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if self.path == "/containers/json":
            body = [{"Id": cid, "Names": ["/" + name], "State": "running"} for cid, (name, _pid) in listed.items()]
        elif self.path.startswith("/containers/") and self.path.split("/")[2] in listed:
            name, pid = listed[self.path.split("/")[2]]
            body = {"Id": self.path.split("/")[2], "Name": "/" + name, "State": {"Running": pid > 0, "Pid": pid}}
        else:
            body = {"message": f"No such container: {self.path.split('/')[2]}"}
        data = json.dumps(body).encode()
        self.send_response(404 if "message" in body else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    request_queue_size = 8   # smaller than the set: the client must wait for room, not fail

    def __init__(self, path):
        super().__init__(path, Engine)
        self.lock, self.inflight, self.most, self.seen, self.refuse = threading.Lock(), 0, 0, [], {}
        self.listed = {}


@pytest.fixture
def engine(tmp_path):
    srv = Server(str(tmp_path / "docker.sock"))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_a_set_of_containers_starts_all_at_once(engine):
    ids = [f"c{i:02d}" for i in range(40)]
    done = containers_act(engine.server_address, ids + ["running"], "start", timeout=10)
    assert done == dict.fromkeys(ids + ["running"])
    # every request was in flight together: not one after another as docker start does
    assert engine.most > 8 and sorted(engine.seen) == sorted((c, "start") for c in ids + ["running"])


def test_the_daemons_refusal_is_returned_and_a_refused_start_is_tried_again(engine):
    engine.refuse["late"] = 2
    done = containers_act(engine.server_address, ["gone", "late"], "start", timeout=10, retry_for=5)
    assert done == {"gone": "No such container: gone", "late": None}
    assert engine.seen.count(("late", "start")) == 3
    engine.refuse["late"] = 1
    assert containers_act(engine.server_address, ["late"], "stop", timeout=10) == {
        "late": "connection error: desc = transport: error while dialing"}


def test_running_containers_and_their_processes_on_one_connection(engine, tmp_path):
    engine.listed = {"a1": ("keeper", 4242), "b2": ("agent", 4343), "c3": ("exited-meanwhile", 0)}
    assert running_pids(engine.server_address) == {"keeper": 4242, "agent": 4343}
    # a daemon that does not answer: no container is known to run
    assert running_pids(str(tmp_path / "nothing.sock")) == {}


def test_the_engines_version_and_ping_on_its_socket_without_a_client_program(engine, tmp_path):
    assert server_version(engine.server_address) == "26.1.5+dfsg1" and answers(engine.server_address)
    # nothing listening: no answer, not an error
    assert server_version(str(tmp_path / "nothing.sock")) is None and not answers(str(tmp_path / "nothing.sock"))


def test_containers_started_as_soon_as_the_engine_answers_without_listing_them_first(engine, monkeypatch):
    monkeypatch.setattr(R, "run", lambda *a, **k: pytest.fail(f"no client program: {a}"))
    daemon = D.Daemon("docker.service", socket=engine.server_address)
    engine.refuse["late"] = 1
    got = D.start_containers(daemon, ["c1", "running", "gone", "late"], timeout=5, wait=False)
    # one that runs already answers 304; one the daemon does not know is missing; a refused one is tried again
    assert got == {"started": ["c1", "running", "late"], "missing": ["gone"]}
    engine.refuse["late"] = 1000
    with pytest.raises(R.OpError, match="docker start late failed: late: connection error"):
        D.start_containers(daemon, ["late"], timeout=1, wait=False)


def test_a_container_kept_running_keeps_its_process():
    before = {"keeper": 4242, "agent": 4343, "batch": 10}
    assert kept_and_restarted(before, {"keeper": 4242, "agent": 5000}) == (["keeper"], ["agent", "batch"])
    assert kept_and_restarted(before, {}) == ([], ["keeper", "agent", "batch"])
    assert kept_and_restarted({}, {"new": 1}) == ([], [])


class KnownSource:
    """package_step's apt source when the host has it already: nothing written, nothing put back."""
    known = True

    def __init__(self, *a):
        pass

    def write(self):
        pass

    def restore(self):
        pass


# The new set's engine packages on a lab host, and apt-get as that host answered: its simulation of new -> mid
# (recorded), the download and the install answering as a test tells; ORDER records "download" and "install".
NEW_SET = {"docker.io": "28.5.2+dfsg4-5", "docker-cli": "28.5.2+dfsg4-5", "tini-static": "0.19.0-6+b2"}


def recorded_apt(order, download=(0, ""), install=(0, "")):
    sim = REC["sim_new_to_mid_engine_tini"]

    def run(argv, check=True, env=None, timeout=600):
        if "--download-only" in argv:
            # held packages in the way (the holds are lifted for the install only): apt refuses a download without
            assert "--allow-change-held-packages" in argv, argv
            order.append("download")
            return R.Result(download[0], "", download[1])
        if argv[:2] == ["apt-get", "install"]:
            order.append("install")
            return R.Result(install[0], "", install[1])
        if "-s" in argv or "--simulate" in argv:
            return R.Result(sim["rc"], sim["stdout"], sim["stderr"])
        return R.Result(0, "", "")
    return run


def test_a_failed_install_is_one_clear_error_with_the_step_as_it_was_left(monkeypatch, capsys):
    # the demo's fault (an engine package whose files are gone): apt-get install fails part-way; the module must
    # fail with apt's own words and what it changed, not crash on its own result ("Module failed: 'msg'")
    from ansible.module_utils.testing import patch_module_args
    monkeypatch.setattr(P, "Source", KnownSource)
    monkeypatch.setattr(P, "dpkg_state", lambda: (dict(NEW_SET), ["docker.io", "docker-cli"]))
    failed = (100, "dpkg: error processing archive docker.io (--unpack):\n"
              + "E: Sub-process /usr/bin/dpkg returned an error code (1)")
    monkeypatch.setattr(R, "run", recorded_apt([], install=failed))
    args = {"pins": {"docker.io": "26.1.5+dfsg1-9+deb13u1+b1", "docker-cli": "26.1.5+dfsg1-9+deb13u1+b1"},
            "who": "docker_engine"}
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        P.main()
    out = json.loads(capsys.readouterr().out)
    assert exit_info.value.code == 1 and out["failed"] is True, out
    assert out["msg"].startswith("docker_engine: installing docker.io=26.1.5+dfsg1-9+deb13u1+b1") and \
        "dpkg returned an error code (1)" in out["msg"], out["msg"]
    assert out["changed"] is True and out["holds_lifted"] == ["docker-cli", "docker.io"]


@pytest.mark.parametrize("fetched", [True, False])
def test_packages_are_fetched_before_any_container_stops(monkeypatch, capsys, fetched):
    # a switch or a docker-ce engine step stops the containers for the install: a slow or failing mirror must not
    # cost them anything, so the packages are downloaded first; a failed download stops nothing and changes nothing
    from ansible.module_utils.testing import patch_module_args
    order = []
    run = recorded_apt(order, download=(0, "") if fetched else (
        100, "E: Failed to fetch file:/srv/repo/./docker.io_26.1.5.deb  File not found"))

    class Engine:
        def __init__(self, *a, **k):
            pass

        def version(self):
            return "28.5.2"

        def containers(self, strict=False):
            assert strict   # the containers to stop: an engine that cannot list them is an error, not none
            return [{"id": "c1", "name": "keeper", "running": True}]

        def act(self, ids, action, timeout, retry_for=None):
            order.append(action)
            return {}
    monkeypatch.setattr(P, "Source", KnownSource)
    monkeypatch.setattr(P, "dpkg_state", lambda: (dict(NEW_SET), ["docker.io"]))
    monkeypatch.setattr(P.D, "Daemon", Engine)
    monkeypatch.setattr(R, "run", run)
    args = {"pins": {"docker.io": "26.1.5+dfsg1-9+deb13u1+b1"}, "who": "docker_engine", "stop_containers": True,
            "hold": False}
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        P.main()
    out = json.loads(capsys.readouterr().out)
    if fetched:
        assert exit_info.value.code == 0 and order == ["download", "stop", "install"], (order, out)
    else:
        assert exit_info.value.code == 1 and order == ["download"] and out["changed"] is False
        assert "fetching docker.io=26.1.5+dfsg1-9+deb13u1+b1 failed, before any container stopped" in out["msg"]
        assert "File not found" in out["msg"] and "Nothing was changed" in out["msg"]


@pytest.mark.parametrize("check_mode", [False, True])
def test_the_look_after_the_packages_comes_after_the_install_in_the_same_run(monkeypatch, capsys, check_mode):
    # with daemon, package_step returns daemon_state's look at the daemon, taken once apt-get install has returned
    # (in check mode, as the daemon is): the role's look after its packages, without a module run of its own
    from ansible.module_utils.testing import patch_module_args
    order = []

    def look(unit, package=None):
        order.append(f"look {unit} {package}")
        return {"active": True, "version": "26.1.5+dfsg1", "installed": "26.1.5+dfsg1-9+deb13u1+b1", "stale": True}
    monkeypatch.setattr(P, "Source", KnownSource)
    monkeypatch.setattr(P, "dpkg_state", lambda: (dict(NEW_SET), []))
    monkeypatch.setattr(P.D, "daemon_state", look)
    monkeypatch.setattr(R, "run", recorded_apt(order))
    args = {"pins": {"docker.io": "26.1.5+dfsg1-9+deb13u1+b1"}, "who": "docker_engine", "hold": False,
            "daemon": "docker", "daemon_package": "docker.io", "_ansible_check_mode": check_mode}
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        P.main()
    out = json.loads(capsys.readouterr().out)
    assert exit_info.value.code == 0 and out["daemon"]["stale"] is True, out
    assert order == (["look docker docker.io"] if check_mode else ["install", "look docker docker.io"]), order
    # without daemon, no look
    order.clear()
    args.pop("daemon")
    with patch_module_args(args), pytest.raises(SystemExit):
        P.main()
    assert "daemon" not in json.loads(capsys.readouterr().out) and not any(o.startswith("look") for o in order)
