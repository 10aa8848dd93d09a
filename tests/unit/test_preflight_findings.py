"""Which real package version each plan step installs, which package the apt source lacks and which step apt cannot
make: the filters judge what the upgrade role's preflight asked apt (module apt_resolve's ``apt`` result, passed as
upgrade_plan / compat_findings' preflight argument), with the versions the lab's offline repository really offers
(apt-cache madison order: newest first) and apt's recorded refusal of new -> mid. The module only asks apt."""
from __future__ import annotations

import json
from pathlib import Path

import lab_facts as L
import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetsafe.container_engine.plugins.filter.compat_findings import compat_findings
from ansible_collections.fleetsafe.container_engine.plugins.filter.upgrade_plan import upgrade_plan
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _apt as A
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._parse import PACKAGE_FAMILIES

OFFERED = {  # the lab repository's madison answers
    "containerd": ["2.1.9+ds1-5", "1.7.24~ds1-6+deb13u1", "1.6.20~ds1-1+deb12u3"],
    "docker.io": ["28.5.2+dfsg4-5", "26.1.5+dfsg1-9+deb13u1+b1", "20.10.24+dfsg1-1+deb12u1+b6"],
    "docker-cli": ["28.5.2+dfsg4-5", "26.1.5+dfsg1-9+deb13u1+b1"],
    "runc": ["1.1.5+ds1-1+deb12u1"],
    "tini-static": ["0.19.0-6+b2"],
}
NAMES = PACKAGE_FAMILIES["debian"]  # what apt_resolve returns as apt.packages
MID = L.host(L.docker("26.1.5"), L.containerd("1.7.24"))
OLD = L.host(L.docker("20.10.24"), L.containerd("1.6.20"))
TO_NEW = {"engine": "28.5.2", "containerd": "2.1.9"}


def apt(extra=None, offered=None):
    return {"apt": {"source": "deb [trusted=yes] file:/srv/repo ./", "packages": NAMES,
                    "offered": OFFERED if offered is None else offered, "extra": extra or {}}}


def blockers(facts, target, preflight, **kw):
    plan = upgrade_plan(facts, target, preflight=preflight)
    found = compat_findings(facts, target, preflight=preflight, plan=plan, **kw)
    return [f for f in found if f["severity"] == "blocker"]


REC = json.loads((Path(__file__).parent / "data/engine_host_recorded.json").read_text())
NEW = L.host(L.docker("28.5.2"), L.containerd("2.1.9"))
INSTALLED_NEW = {"docker.io": "28.5.2+dfsg4-5", "docker-cli": "28.5.2+dfsg4-5", "containerd": "2.1.9+ds1-5",
                 "tini-static": "0.19.0-6+b2"}
TO_MID = {"engine": "26.1.5", "containerd": "1.7.24"}


class Sim:
    """apt-get --simulate answering as recorded on a lab host at the new set: the engine step of new -> mid (docker.io
    26.1.5 needs tini, which tini-static breaks) refused, the containerd step made."""

    def __init__(self):
        self.asked = []

    def __call__(self, argv):
        self.asked.append(argv)
        rec = REC["sim_new_to_mid_engine" if any(a.startswith("docker.io=") for a in argv)
                  else "sim_new_to_mid_containerd"]
        return type("R", (), {"returncode": rec["rc"], "stdout": rec["stdout"], "stderr": rec["stderr"]})()


def asked_apt(facts, target, offered=None, extra=None, simulate=None):
    """What apt_resolve returns for the plan (its install steps simulated with the recorded answers)."""
    offered = OFFERED if offered is None else offered
    steps = A.install_steps(upgrade_plan(facts, target), NAMES, offered, extra)
    cannot = A.simulate_steps("/x", steps, INSTALLED_NEW, simulate=simulate or Sim()) if steps else None
    return {"apt": {"source": "deb [trusted=yes] file:/srv/repo ./", "packages": NAMES, "offered": offered,
                    "extra": extra or {}, "cannot_make": cannot}}


def test_a_step_apt_cannot_make_is_a_blocker_naming_the_packages_in_the_way():
    pre = asked_apt(NEW, TO_MID)
    cannot = pre["apt"]["cannot_make"]
    assert (cannot["action"], cannot["component"], cannot["to"]) == ("upgrade_engine", "engine", "26.1.5")
    assert cannot["in_the_way"] == ["tini-static", "tini"]
    [found] = blockers(NEW, TO_MID, pre)
    assert found["id"] == "apt_cannot_make_step" and found["component"] == "engine"
    assert "tini-static: Breaks: tini" in found["message"] and "upgrade_engine" in found["message"]
    assert "tini-static, tini" in found["remedy"] and "apt-get --simulate" in found["source"]
    # switched off by id like any finding (the upgrade role's upgrade_findings)
    assert blockers(NEW, TO_MID, pre, findings={"apt_cannot_make_step": {"enabled": False}}) == []


def test_the_module_simulates_the_steps_the_plan_runs_with_the_plans_packages():
    sim = Sim()
    pre = asked_apt(NEW, TO_MID, extra={"tini-static": ""}, simulate=sim)
    plan = upgrade_plan(NEW, TO_MID, preflight=pre)
    # the package versions apt was asked about are the ones the plan's steps install (tini-static stays as installed)
    asked = [a for argv in sim.asked for a in argv if "=" in a and not a.startswith(("-", "APT", "Debug"))]
    for step in plan:
        for name, version in step.get("packages", {}).items():
            assert f"{name}={version}" in asked or INSTALLED_NEW.get(name) == version, (step, asked)


def test_nothing_to_simulate_when_the_source_lacks_a_package():
    assert A.install_steps(upgrade_plan(MID, {"engine": "27.5.1"}), NAMES, OFFERED) is None
    # an intermediate containerd line the source lacks is left out, as the plan leaves it out
    steps = A.install_steps(upgrade_plan(MID, TO_NEW), NAMES, OFFERED)
    assert [(s["action"], s["to"], s["packages"]) for s in steps][:1] == [
        ("upgrade_containerd", "2.1.9", {"containerd": "2.1.9+ds1-5"})]


def test_missing_intermediate_line_is_a_blocker_and_no_step():
    plan = upgrade_plan(MID, TO_NEW, preflight=apt())
    # the plan lists only what can be done: 1.7.24 -> 2.1.9 directly, restarting within the step
    assert [(s["action"], s["from"], s["to"]) for s in plan] == [
        ("upgrade_containerd", "1.7.24", "2.1.9"), ("upgrade_engine", "26.1.5", "28.5.2"),
        ("restart_engine", "26.1.5+dfsg1", "28.5.2")]
    found = blockers(MID, TO_NEW, apt())
    assert [f["id"] for f in found] == ["apt_source_lacks_containerd_line"]
    assert "containerd 2.0" in found[0]["message"] and "file:/srv/repo" in found[0]["source"]
    assert "apt_source_lacks_containerd_line" in found[0]["remedy"]


def test_allowed_skip_is_the_finding_as_a_warning_and_packages_come_from_the_source():
    pre = apt(extra={"runc": "", "tini-static": ""})
    settings = {"apt_source_lacks_containerd_line": {"severity": "warning"}}
    assert blockers(MID, TO_NEW, pre, findings=settings) == []
    plan = upgrade_plan(MID, TO_NEW, preflight=pre)
    assert plan[0]["packages"] == {"containerd": "2.1.9+ds1-5"}
    assert plan[1]["packages"] == {"docker.io": "28.5.2+dfsg4-5", "docker-cli": "28.5.2+dfsg4-5",
                                   "runc": "1.1.5+ds1-1+deb12u1", "tini-static": "0.19.0-6+b2"}
    assert "packages" not in plan[2]


def test_old_to_mid_takes_the_rebuilt_package_of_the_wanted_release():
    target = {"engine": "26.1.5", "containerd": "1.7.24"}
    plan = upgrade_plan(OLD, target, preflight=apt())
    assert plan[0]["packages"] == {"containerd": "1.7.24~ds1-6+deb13u1"}
    assert plan[1]["packages"] == {"docker.io": "26.1.5+dfsg1-9+deb13u1+b1", "docker-cli": "26.1.5+dfsg1-9+deb13u1+b1"}
    assert blockers(OLD, target, apt()) == []
    # a line takes the newest release on it; 26.10 is not on 26.1
    offered = dict(OFFERED, **{"docker.io": ["26.10.1-1", "26.1.5+dfsg1-9"], "docker-cli": []})
    plan = upgrade_plan(OLD, {"engine": "26.1"}, preflight=apt(offered=offered))
    assert plan[0]["packages"] == {"docker.io": "26.1.5+dfsg1-9"}


def test_target_release_or_package_the_source_lacks_is_a_blocker():
    found = blockers(MID, {"engine": "27.5.1"}, apt(extra={"tini": "0.18.0-1"}))
    assert sorted(f["id"] for f in found) == ["apt_source_lacks_engine", "apt_source_lacks_package"]
    messages = " ".join(f["message"] for f in found)
    assert "docker.io 27.5.1" in messages and "tini 0.18.0-1" in messages
    found = blockers(OLD, {"containerd": "1.7.25"}, apt())
    assert [f["id"] for f in found] == ["apt_source_lacks_containerd"]


def test_switched_off_by_id_like_any_finding():
    off = {"apt_source_lacks_engine": {"enabled": False}}
    assert blockers(MID, {"engine": "27.5.1"}, apt(), findings=off) == []


def test_without_preflight_nothing_about_apt_is_judged_and_no_packages():
    assert blockers(MID, TO_NEW, None) == []
    assert all("packages" not in s for s in upgrade_plan(MID, TO_NEW))


def test_smoke_image_missing_is_a_blocker_present_is_none():
    found = blockers(MID, {}, {"smoke_image": {"image": "busybox:latest", "present": False}})
    assert [f["id"] for f in found] == ["smoke_image_missing"] and "busybox:latest" in found[0]["message"]
    assert blockers(MID, {}, {"smoke_image": {"image": "busybox:latest", "present": True}}) == []


@pytest.mark.parametrize("preflight,error", [
    ("apt", "preflight must be a dict, got str"),
    ({"apt": {"offered": {}}}, "preflight.apt needs packages"),
    ({"apt": {"packages": {"engine": "docker.io"}, "offered": {}}}, "preflight.apt.packages needs containerd"),
    ({"apt": {"packages": NAMES, "offered": {"containerd": "2.1.9"}}}, "preflight.apt.offered.containerd must list"),
    ({"apt": {"packages": NAMES, "offered": {}, "mirror": "x"}}, "preflight.apt has unknown key(s) 'mirror'"),
    ({"smoke_image": {"image": "busybox", "present": "no"}}, "preflight.smoke_image.present must be true or false"),
    ({"images": []}, "preflight has unknown key(s) 'images'"),
    ({"apt": {"packages": NAMES, "offered": {}, "cannot_make": {"action": "upgrade_engine"}}},
     "preflight.apt.cannot_make.component must be a non-empty string"),
    ({"apt": {"packages": NAMES, "offered": {},
              "cannot_make": {"action": "upgrade_engine", "component": "engine", "in_the_way": "tini"}}},
     "preflight.apt.cannot_make.in_the_way must be a list of strings"),
])
def test_bad_preflight_is_one_error_naming_it(preflight, error):
    for call in (lambda: upgrade_plan(MID, TO_NEW, preflight=preflight),
                 lambda: compat_findings(MID, TO_NEW, preflight=preflight)):
        with pytest.raises(AnsibleFilterError) as err:
            call()
        assert error in str(err.value), str(err.value)


def test_a_plan_that_is_not_a_plan_is_one_error():
    with pytest.raises(AnsibleFilterError, match="compat_findings: plan must be the list upgrade_plan returns"):
        compat_findings(MID, TO_NEW, plan={"steps": []})
    with pytest.raises(AnsibleFilterError, match=r"compat_findings: plan\[0\] is not a step"):
        compat_findings(MID, TO_NEW, plan=["upgrade_engine"])
