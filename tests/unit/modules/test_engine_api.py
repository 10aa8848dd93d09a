"""The facts modules' Engine API client (module_utils/_engine_api.py, through Host.api): plain HTTP over a real unix
socket with the standard library, no Docker SDK. A small server on a unix socket in a temporary folder answers with
what real daemons answered (the /version and /info recorded in fixtures/old.json, the engines' own error texts);
the tests/integration/test_facts_failures.py test shows the same on a lab host without python3-docker."""
from __future__ import annotations

import json
import os
import socket
import socketserver
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _daemon as D
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _run as R
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._engine_api import get_json
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._host import EngineError, Host
from recording import call_key

FIXTURE = json.loads((Path(__file__).resolve().parent / "fixtures" / "old.json").read_text())["calls"]
VERSION = FIXTURE[call_key("api", ("/var/run/docker.sock", "/version"), {})]["result"]
INFO = FIXTURE[call_key("api", ("/var/run/docker.sock", "/info"), {})]["result"]
# the one container the old lab host ran, listed and inspected as the engine answered
LISTED = FIXTURE[call_key("api", ("/var/run/docker.sock", "/containers/json"), {"params": {"all": 1}})]["result"]
INSPECTED = FIXTURE[call_key("api", ("/var/run/docker.sock", f"/containers/{LISTED[0]['Id']}/json"), {})]["result"]
# what the engines answer a client outside their range (KNOWLEDGE: 26.x/28.x say "too old" as plain text)
TOO_NEW = {"message": "client version 1.43 is too new. Maximum supported API version is 1.41"}
TOO_OLD = ("client version 1.23 is too old. Minimum supported API version is 1.24, please upgrade your client to a "
           "newer version\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive, as dockerd

    def log_message(self, *args):   # the unix socket has no client address to log
        pass

    def send(self, status, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 - http.server's name
        self.server.seen.append((self.path, self.headers.get("Host"), self.client_address))
        if self.path.startswith("/containers/json") and self.server.list_refused:
            self.send(500, {"message": "context deadline exceeded"})
        elif self.path == "/version":
            self.send(200, VERSION)
        elif self.path == "/info":
            self.send(200, dict(INFO, LiveRestoreEnabled=True) if self.server.live_restore else INFO)
        elif self.path == "/containers/json?all=1":
            # chunked, as dockerd sends longer answers
            data = json.dumps([{"Id": "abc", "Names": ["/x"]}]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (data[:5], data[5:]):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/containers/json":      # the running ones (no all=1)
            self.send(200, LISTED)
        elif self.path == f"/containers/{LISTED[0]['Id']}/json":
            self.send(200, INSPECTED)
        elif self.path == "/v1.43/version":
            self.send(400, TOO_NEW)
        elif self.path == "/v1.23/version":
            self.send(400, TOO_OLD.encode(), "text/plain; charset=utf-8")
        elif self.path == "/not-json":
            self.send(200, b"<html>", "text/html")
        else:
            self.send(404, {"message": "page not found"})


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path):
        super().__init__(path, Handler)
        self.seen = []
        self.connections = 0
        self.live_restore = False   # as recorded; a test turns it on
        self.list_refused = False   # the engine answers, but not its containers' list

    def get_request(self):
        self.connections += 1
        return super().get_request()


@pytest.fixture
def daemon(tmp_path):
    path = str(tmp_path / "docker.sock")
    server = Server(path)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, path
    server.shutdown()
    server.server_close()


def test_reads_json_unversioned_on_one_connection(daemon):
    server, path = daemon
    host = Host(timeout=5)
    assert host.api(path, "/version") == VERSION
    assert host.api(path, "/info")["Driver"] == INFO["Driver"]
    assert host.api(path, "/containers/json", params={"all": 1}) == [{"Id": "abc", "Names": ["/x"]}]
    host.close()
    assert [seen[:2] for seen in server.seen] == [("/version", "localhost"), ("/info", "localhost"),
                                                  ("/containers/json?all=1", "localhost")]
    assert server.connections == 1


def test_daemon_errors_keep_the_engine_message(daemon):
    _server, path = daemon
    host = Host(timeout=5)
    with pytest.raises(EngineError) as too_new:
        host.api(path, "/v1.43/version")
    assert (too_new.value.kind, too_new.value.status) == ("http", 400)
    assert too_new.value.detail == "HTTP 400 from /v1.43/version: " + TOO_NEW["message"]
    with pytest.raises(EngineError) as too_old:
        host.api(path, "/v1.23/version")
    assert too_old.value.detail == "HTTP 400 from /v1.23/version: " + TOO_OLD.strip()
    with pytest.raises(EngineError) as not_json:
        host.api(path, "/not-json")
    assert not_json.value.kind == "other" and "not JSON" in not_json.value.detail
    assert host.api(path, "/version") == VERSION      # the connection still serves after errors


def test_the_upgrades_looks_read_the_engines_documents_on_its_socket(daemon, tmp_path):
    """The restart's looks (module_utils/_daemon.py) ask the socket what `docker info`, `docker ps` and `docker
    inspect` would print, without starting a client: the containers as inspected, newest first, one removed between
    the list and its inspect left out; live-restore from /info; nothing at all while nothing answers."""
    server, path = daemon
    engine = D.Daemon("docker.service", socket=path)
    (one,) = engine.containers()
    assert {k: one[k] for k in ("id", "name", "image", "running", "restart_policy")} == {
        "id": LISTED[0]["Id"], "name": "fsf-client", "image": "busybox:lab", "running": True, "restart_policy": "no"}
    assert engine.containers(all_=True) == []     # the list names "abc", which is gone when inspected (404)
    assert engine.live_restore() is False
    server.live_restore = True
    assert engine.live_restore() is True
    assert get_json(path, "/version") == VERSION and get_json(path, "/not-json") is None
    assert get_json(path, "/nowhere") is None     # 404
    quiet = D.Daemon("docker.service", socket=str(tmp_path / "nobody.sock"))
    nothing = (quiet.containers(all_=True), quiet.live_restore(), get_json(quiet.api_socket(), "/version"))
    assert nothing == ([], False, None)
    assert ("/containers/abc/json", "localhost") in [seen[:2] for seen in server.seen]


def test_an_engine_that_answers_but_does_not_list_its_containers_is_an_error_where_it_matters(daemon, tmp_path):
    """The backup's record of what runs, the containers a restart or a package step stops: an engine that answers
    its version but not its containers' list is an error naming its socket and its words (strict), never a host
    with no containers to keep; a wait that polls (strict off) sees nothing yet and asks again."""
    server, path = daemon
    engine = D.Daemon("docker.service", socket=path)
    server.list_refused = True
    with pytest.raises(R.OpError) as refused:
        engine.containers(strict=True)
    want = f"docker.service: {path} did not list its containers: HTTP 500: context deadline exceeded"
    assert str(refused.value) == want
    assert engine.containers() == []
    with pytest.raises(R.OpError, match="did not list its containers"):
        D.containers_to_stop(engine, "28.5.2", "28.5.2", running=True)
    quiet = D.Daemon("docker.service", socket=str(tmp_path / "nobody.sock"))
    with pytest.raises(R.OpError, match="nobody.sock did not list its containers: .*No such file"):
        quiet.containers(strict=True)


def test_socket_problems_are_classified(tmp_path):
    host = Host(timeout=1)
    with pytest.raises(EngineError) as missing:
        host.api(str(tmp_path / "nope.sock"), "/version")
    assert missing.value.kind == "no_socket"
    dead = str(tmp_path / "dead.sock")          # a socket file nobody listens on any more
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(dead)
    sock.close()
    with pytest.raises(EngineError) as refused:
        host.api(dead, "/version")
    assert refused.value.kind == "refused"
    silent = str(tmp_path / "silent.sock")      # listens, never answers
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(silent)
    listener.listen(1)
    try:
        with pytest.raises(EngineError) as timeout:
            host.api(silent, "/version")
        assert timeout.value.kind == "timeout" and timeout.value.detail == f"no answer on {silent}"
    finally:
        listener.close()


def test_facts_need_no_docker_sdk(daemon):
    """A Python where `import docker` (and requests) fails, as on a host without python3-docker: the facts
    modules' code imports and reads the engine all the same."""
    _server, path = daemon
    code = ("import sys, json; sys.modules['docker'] = None; sys.modules['requests'] = None\n"
            "from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _common, _host\n"
            "from ansible_collections.fleetsafe.container_engine.plugins.modules import container_engine_facts\n"
            "print(json.dumps(_host.Host(timeout=5).api(sys.argv[1], '/version')))\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True, env=env, check=True)
    assert json.loads(out.stdout) == VERSION


def test_started_commands_answer_run_and_unasked_ones_are_reaped(tmp_path):
    host = Host(timeout=5)
    marker = tmp_path / "ran"
    argvs = [[sys.executable, "-c", "print('one')"], [sys.executable, "-c", f"open({str(marker)!r}, 'w')"],
             [str(tmp_path / "no-such-program"), "-v"]]
    host.start_commands(argvs)
    assert host.run(argvs[0]) == (0, "one\n", "")
    assert host.run(argvs[2])[0] == 127
    assert host.run([sys.executable, "-c", "print('later')"]) == (0, "later\n", "")   # not started: runs now
    host.close()                                   # waits for the one never asked for
    assert marker.exists() and host._started == {}  # pylint: disable=protected-access
