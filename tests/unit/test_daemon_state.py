"""daemon_state read on answers recorded from a real lab host (tests/unit/data/daemon_state_recorded.json): the
engine's version and its API range come from one request on its socket (GET /version: what `docker version`
prints as its Server part, recorded so), the package from dpkg-query."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _daemon as D
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _run as R

REC = json.loads((Path(__file__).parent / "data/daemon_state_recorded.json").read_text())


@pytest.fixture
def host(monkeypatch):
    calls = []
    answers = {"GET /version": (200, REC["docker_version_json_server"]), "dpkg-query": (0, REC["dpkg_query_docker_io"]),
               "systemctl": (0, REC["systemctl_show_units"])}

    def get_json(socket_path, path, params=None, timeout=30):
        assert socket_path == "/var/run/docker.sock"
        calls.append(["GET " + path])
        status, body = answers["GET " + path]
        return json.loads(body) if status == 200 else None

    def run(argv, check=True, env=None, timeout=600):
        calls.append(argv)
        rc, out = answers[argv[0]]
        return R.Result(rc, out, "" if rc == 0 else "Cannot connect to the Docker daemon")
    monkeypatch.setattr(R, "run", run)
    monkeypatch.setattr(D, "get_json", get_json)
    monkeypatch.setattr(D.Daemon, "show", lambda self: dict(REC["systemctl_show_docker"]))
    monkeypatch.setattr(D.os, "readlink", lambda path: "/usr/sbin/dockerd")
    monkeypatch.setattr(D, "answers", lambda: calls.append(["GET /_ping"]) or True)
    return answers, calls


def test_the_engine_its_api_range_and_its_package_in_one_look(host):
    _answers, calls = host
    st = D.daemon_state("docker", "docker.io")
    assert st == {"active": True, "version": "26.1.5+dfsg1", "upstream": "26.1.5", "binary_replaced": False,
                  "api_version": "1.45", "min_api_version": "1.24", "installed": "26.1.5+dfsg1-9+deb13u1+b1",
                  "installed_upstream": "26.1.5", "held": True, "stale": False,
                  "services": {"containerd": {"active": True, "enabled": "enabled"},
                               "docker": {"active": True, "enabled": "enabled"}},
                  "last_restart_seconds": 0.0, "docker_answers": True}
    # the engine answered its version: no second question to its socket
    assert [c[0] for c in calls] == ["GET /version", "dpkg-query", "systemctl"]


@pytest.mark.parametrize("answer, installed, held", [
    ("ii |26.1.5+dfsg1-9+deb13u1+b1", "26.1.5+dfsg1-9+deb13u1+b1", False),   # installed, not held
    ("hi |26.1.5+dfsg1-9+deb13u1+b1", "26.1.5+dfsg1-9+deb13u1+b1", True),    # as recorded: held
    ("rc |26.1.5+dfsg1-9+deb13u1+b1", "", False),                             # removed, its config left
    ("hn |", "", False),                                                      # held but not installed
])
def test_the_package_is_held_only_when_it_is_installed_and_its_selection_is_hold(host, answer, installed, held):
    answers, _calls = host
    answers["dpkg-query"] = (0, answer)
    st = D.daemon_state("docker", "docker.io")
    assert (st["installed"], st["held"]) == (installed, held)


def test_an_engine_that_does_not_answer_is_stale_against_its_package(host, monkeypatch):
    answers, _calls = host
    answers["GET /version"] = (0, "")   # nothing answers on the socket
    st = D.daemon_state("docker", "docker.io")
    assert (st["version"], st["api_version"], st["min_api_version"], st["stale"]) == ("", "", "", True)


def test_a_binary_replaced_under_the_running_daemon_is_stale(host, monkeypatch):
    monkeypatch.setattr(D.os, "readlink", lambda path: "/usr/sbin/dockerd (deleted)")
    st = D.daemon_state("docker", "docker.io")
    assert st["binary_replaced"] and st["stale"]


def test_containerd_its_last_restart_by_systemds_clock_and_whether_docker_answers(host, monkeypatch):
    _answers, calls = host
    monkeypatch.setattr(D.Daemon, "version", lambda self: "1.6.20~ds1")
    st = D.daemon_state("containerd", None)
    assert st["last_restart_seconds"] == 0.12   # 36785436330 - 36785318754 microseconds
    assert st["docker_answers"] is True and ["GET /_ping"] in calls
    monkeypatch.setattr(D, "answers", lambda: False)
    assert D.daemon_state("containerd", None)["docker_answers"] is False


@pytest.mark.parametrize("text, want", [
    # a unit that does not exist: systemd still answers a block, with no unit file state
    ("Id=docker.service\nActiveState=inactive\nUnitFileState=\nActiveEnterTimestampMonotonic=0\n"
     "ActiveExitTimestampMonotonic=0\n",
     {"docker.service": {"active": False, "enabled": "", "last_restart_seconds": 0.0}}),
    # stopped and not started again yet: no restart time to give
    ("Id=containerd.service\nActiveState=activating\nUnitFileState=enabled\n"
     "ActiveEnterTimestampMonotonic=100\nActiveExitTimestampMonotonic=900\n",
     {"containerd.service": {"active": False, "enabled": "enabled", "last_restart_seconds": 0.0}}),
    ("", {}),
])
def test_units_as_systemd_shows_them(text, want):
    assert D.parse_show_units(text) == want
