"""Whether a containerd restart restarts dockerd: the rule (module_utils/_parse.py engine_follows_unit) read on what
real lab hosts' systemd showed for docker.service (tests/unit/data/engine_unit_dependencies.json: Docker's 20.10 unit
Requires= containerd.service, Docker's 26.1 / 28.5 and Debian's units only Want it), the fact docker_facts gives,
the plan's reason for the containerd step, and the journal that lets a later run start the containers the step
stopped."""
from __future__ import annotations

import json
from pathlib import Path

import lab_facts as L
import pytest
from ansible_collections.fleetsafe.container_engine.plugins.filter.upgrade_plan import FilterModule
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _journal as J
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _parse as P

RECORDED = json.loads((Path(__file__).resolve().parent / "data" / "engine_unit_dependencies.json").read_text())
upgrade_plan = FilterModule().filters()["upgrade_plan"]


@pytest.mark.parametrize("host,restarts,dependency", [
    ("docker-ce 20.10.24", True, "Requires=containerd.service"),
    ("docker-ce 26.1.5", False, "Wants=containerd.service"),
    ("docker-ce 28.5.2", False, "Wants=containerd.service"),
    ("debian 20.10.24", False, "Wants=containerd.service"),
])
def test_recorded_units(host, restarts, dependency):
    assert P.engine_follows_unit(RECORDED[host]["show"]) == {"restarts_with": restarts, "dependency": dependency}


def test_the_rule_reads_the_unit_not_the_family_or_release():
    # a site drop-in on Docker's 26.1 unit that binds it to containerd again (Docker's 18.09 unit, BindsTo=)
    show = RECORDED["docker-ce 26.1.5"]["show"].replace("BindsTo=\n", "BindsTo=containerd.service\n")
    assert P.engine_follows_unit(show) == {"restarts_with": True, "dependency": "BindsTo=containerd.service"}
    # PartOf= propagates a restart too
    show = RECORDED["debian 20.10.24"]["show"].replace("PartOf=\n", "PartOf=containerd.service\n")
    assert P.engine_follows_unit(show)["restarts_with"] is True
    # another unit named containerd-something is not containerd.service
    show = RECORDED["docker-ce 20.10.24"]["show"].replace("containerd.service", "containerd-proxy.service")
    assert P.engine_follows_unit(show) == {"restarts_with": False, "dependency": None}


@pytest.mark.parametrize("text", [None, "", "System has not been booted with systemd as init system (PID 1).\n",
                                  "Requires=\nWants=\nBindsTo=\nPartOf=\nLoadState=not-found\n"])
def test_unknown_when_systemd_cannot_say(text):
    assert P.engine_follows_unit(text) is None


def test_the_call_reads_every_property_the_rule_needs():
    argv = P.unit_dependencies_argv()
    assert argv[:3] == ["systemctl", "show", "docker.service"]
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "-p"] == ["LoadState", "Requires", "BindsTo", "PartOf",
                                                                      "Wants"]


class _Ctx:
    """A context whose host answers the one systemctl call with a recorded output."""

    def __init__(self, text, rc=0, systemctl="/usr/bin/systemctl"):
        self.host = self
        self.text, self.rc, self.systemctl = text, rc, systemctl
        self.ran = []

    def which(self, name):
        return self.systemctl if name == "systemctl" else None

    def run(self, argv):
        self.ran.append(argv)
        return self.rc, self.text, ""


def test_the_fact_uses_the_same_rule():
    from ansible_collections.fleetsafe.container_engine.plugins.module_utils._gather_units import (
        engine_follows_containerd,
    )
    ctx = _Ctx(RECORDED["docker-ce 20.10.24"]["show"])
    assert engine_follows_containerd(ctx) == {"restarts_with": True, "dependency": "Requires=containerd.service"}
    assert ctx.ran == [["/usr/bin/systemctl"] + P.unit_dependencies_argv()[1:]]
    assert engine_follows_containerd(_Ctx("", rc=1)) is None
    assert engine_follows_containerd(_Ctx("", systemctl=None)) is None


def _containerd_reason(**docker):
    facts = L.host(L.docker("20.10.24", **docker), L.containerd("1.6.20"))
    plan = upgrade_plan(facts, {"engine": "26.1.5", "containerd": "1.7.24"})
    return [s for s in plan if s["action"] == "upgrade_containerd"][0]["reason"]


def test_the_plan_says_dockerd_restarts_with_containerd_before_any_change():
    reason = _containerd_reason(restarts_with_containerd=True, containerd_dependency="Requires=containerd.service")
    assert "docker.service Requires=containerd.service, so systemd restarts dockerd with containerd" in reason
    assert "stops the running containers first while the API answers" in reason
    for docker in ({"restarts_with_containerd": False, "containerd_dependency": "Wants=containerd.service"},
                   {"restarts_with_containerd": None}, {}):
        assert "restarts dockerd" not in _containerd_reason(**docker)


def test_a_restart_step_says_so_too():
    facts = L.host(L.docker("20.10.24", restarts_with_containerd=True,
                            containerd_dependency="Requires=containerd.service"), L.containerd("1.6.20", "1.7.24"))
    plan = upgrade_plan(facts, {})
    step = [s for s in plan if s["action"] == "restart_containerd"][0]
    assert "systemd restarts dockerd with containerd" in step["reason"]


def test_a_later_run_starts_the_containers_the_step_noted(tmp_path):
    journal = J.Journal(str(tmp_path))
    journal.begin("run1", {"engine": "26.1.5"}, [], {"running": ["keeper"]})
    journal.event("containers_stopped", by="containerd", containers=["keeper", "plain"],
                  why="docker.service Requires=containerd.service: systemd restarts dockerd with containerd")
    assert J.stopped_by_run(journal.load()) == ["keeper", "plain"]
    assert J.stopped_by_run({"intent": {}}) == []


def test_package_step_reads_the_same_rule(monkeypatch):
    from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _run as R
    from ansible_collections.fleetsafe.container_engine.plugins.modules import package_step
    for host, want in (("docker-ce 20.10.24", "Requires=containerd.service"), ("docker-ce 26.1.5", None)):
        monkeypatch.setattr(package_step.R, "run", lambda argv, check=True, host=host: R.Result(
            0, RECORDED[host]["show"], "") if argv == P.unit_dependencies_argv() else pytest.fail(argv))
        assert package_step.engine_follows() == want
    monkeypatch.setattr(package_step.R, "run", lambda argv, check=True: R.Result(1, "", "Failed to connect to bus"))
    assert package_step.engine_follows() is None


# What a lab host's systemd showed for docker.service right after `systemctl restart containerd` returned on
# docker-ce 20.10 (Requires=containerd.service): dockerd's restart still under way, then done.
RESTARTING = "ActiveState=activating\nJob=110\n"
BACK = "ActiveState=active\nJob=\n"
STOPPED = "ActiveState=inactive\nJob=\n"


class _Engine:
    """daemon_restart's view of dockerd: what it answers, what systemd shows, and the restarts asked of it."""

    def __init__(self, answers, show):
        self.answers, self.shown, self.restarts = list(answers), show, []

    def version(self):
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    def systemctl(self, *args, **kw):
        from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _run as R
        return R.Result(0, self.shown, "")

    def restart(self, want, timeout, restart=True):
        self.restarts.append(restart)
        return 0.0, 1.0


@pytest.mark.parametrize("answers,show,restarted", [
    ([None, "20.10.24"], RESTARTING, False),   # systemd brings it back: wait, never restart it
    (["20.10.24"], BACK, False),               # answers already
    ([None, "20.10.24"], BACK, False),         # came up between the two questions
    ([None, None], STOPPED, True),             # down and nothing starting it: restarted once
])
def test_dockerd_is_restarted_only_when_systemd_does_not_bring_it_back(answers, show, restarted):
    from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _daemon as D
    engine = _Engine(answers, show)
    engine.coming_up = lambda: D.Daemon.coming_up(engine)
    engine.show = lambda: D.Daemon.show(engine)
    engine.unit = "docker.service"
    assert D.bring_back(engine, 30) is restarted
    assert engine.restarts == [restarted]
