"""The upgrade role's package resolution (roles/upgrade/files/fleetsafe_upgrade_step.py, run on the host):
which real package version each plan step installs, and which missing line is a blocker. apt is replaced by
the versions the lab's offline repository really offers (apt-cache madison order: newest first)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

HELPER = Path(__file__).resolve().parents[2] / "roles/upgrade/files/fleetsafe_upgrade_step.py"
spec = importlib.util.spec_from_file_location("fleetsafe_upgrade_step", HELPER)
step = importlib.util.module_from_spec(spec)
spec.loader.exec_module(step)

OFFERED = {  # the lab repository's madison answers
    "containerd": ["2.1.9+ds1-5", "1.7.24~ds1-6+deb13u1", "1.6.20~ds1-1+deb12u3"],
    "docker.io": ["28.5.2+dfsg4-5", "26.1.5+dfsg1-9+deb13u1+b1", "20.10.24+dfsg1-1+deb12u1+b6"],
    "docker-cli": ["28.5.2+dfsg4-5", "26.1.5+dfsg1-9+deb13u1+b1"],
    "runc": ["1.1.5+ds1-1+deb12u1"],
    "tini-static": ["0.19.0-6+b2"],
}
NAMES = {"engine": "docker.io", "cli": "docker-cli", "containerd": "containerd"}


def plan(*steps):
    return [dict(order=i, action=a, component=c, **{"from": f, "to": t}) for i, (a, c, f, t) in enumerate(steps, 1)]


MID_TO_NEW = plan(("upgrade_containerd", "containerd", "1.7.24", "2.0"),
                  ("restart_containerd", "containerd", "1.7.24", "2.0"),
                  ("upgrade_containerd", "containerd", "2.0", "2.1.9"),
                  ("restart_containerd", "containerd", "2.0", "2.1.9"),
                  ("upgrade_engine", "engine", "26.1.5", "28.5.2"),
                  ("restart_engine", "engine", "26.1.5+dfsg1", "28.5.2"),
                  ("verify", "host", None, None))


@pytest.fixture
def resolve(monkeypatch):
    monkeypatch.setattr(step, "apt_setup", lambda source, state: None)
    monkeypatch.setattr(step, "madison", lambda state, names: {n: list(OFFERED.get(n, [])) for n in names})

    def call(steps, allow_skip=False, extra=None):
        return step.act_resolve({"steps": steps, "names": NAMES, "state": "/x", "allow_skip": allow_skip,
                                 "extra": extra or {}})
    return call


@pytest.mark.parametrize("version,upstream", [
    ("5:28.0.1-1~debian.12~bookworm", "28.0.1"), ("26.1.5+dfsg1-9+deb13u1+b1", "26.1.5"),
    ("1.7.24~ds1-6+deb13u1", "1.7.24"), ("2.1.9+ds1-5", "2.1.9"), ("", "")])
def test_upstream_version_of_a_package_version(version, upstream):
    assert step.upstream(version) == upstream


def test_a_line_takes_any_release_on_it_a_release_only_itself():
    assert step.on_line("26.1.5+dfsg1-9", "26.1") and step.on_line("26.1.5+dfsg1-9", "26.1.5")
    assert not step.on_line("26.1.5+dfsg1-9", "26.1.4") and not step.on_line("26.10.1-1", "26.1")
    assert not step.on_line("2.1.9+ds1-5", "2.0")


def test_missing_intermediate_line_is_a_blocker_naming_the_variable(resolve):
    out = resolve(MID_TO_NEW)
    assert [b["id"] for b in out["blockers"]] == ["apt-source-lacks-containerd-line"]
    assert "containerd 2.0" in out["blockers"][0]["message"]
    assert "upgrade_containerd_allow_line_skip" in out["blockers"][0]["remedy"]


def test_allowed_skip_marks_the_hop_and_its_restart_and_resolves_the_rest(resolve):
    out = resolve(MID_TO_NEW, allow_skip=True, extra={"runc": "", "tini-static": ""})
    assert out["blockers"] == []
    steps = {s["order"]: s for s in out["steps"]}
    assert steps[1]["skip"] and steps[2]["skip"] and "allow_line_skip" in steps[1]["skip_reason"]
    assert steps[3]["packages"] == {"containerd": "2.1.9+ds1-5"} and not steps[3]["skip"]
    assert steps[5]["packages"] == {"docker.io": "28.5.2+dfsg4-5", "docker-cli": "28.5.2+dfsg4-5",
                                    "runc": "1.1.5+ds1-1+deb12u1", "tini-static": "0.19.0-6+b2"}


def test_old_to_mid_takes_the_rebuilt_package_of_the_wanted_release(resolve):
    out = resolve(plan(("upgrade_containerd", "containerd", "1.6.20", "1.7.24"),
                       ("upgrade_engine", "engine", "20.10.24", "26.1.5")))
    assert out["blockers"] == []
    assert out["steps"][0]["packages"] == {"containerd": "1.7.24~ds1-6+deb13u1"}
    assert out["steps"][1]["packages"] == {"docker.io": "26.1.5+dfsg1-9+deb13u1+b1",
                                           "docker-cli": "26.1.5+dfsg1-9+deb13u1+b1"}


def test_target_release_the_source_lacks_is_a_blocker(resolve):
    out = resolve(plan(("upgrade_engine", "engine", "26.1.5", "27.5.1")), extra={"tini": "0.18.0-1"})
    assert [b["id"] for b in out["blockers"]] == ["apt-source-lacks-engine", "apt-source-lacks-package"]
    assert "docker.io 27.5.1" in out["blockers"][0]["message"] and "tini 0.18.0-1" in out["blockers"][1]["message"]
