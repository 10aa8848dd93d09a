"""Which real package version each plan step installs, and which package the apt source lacks: the filters judge
what the upgrade role's preflight asked apt (upgrade_plan / compat_findings' preflight argument), with the versions
the lab's offline repository really offers (apt-cache madison order: newest first). The role's host-side helper only
asks apt (its resolve action)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import lab_facts as L
import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetsafe.container_engine.plugins.filter.compat_findings import compat_findings
from ansible_collections.fleetsafe.container_engine.plugins.filter.upgrade_plan import upgrade_plan

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


def test_the_helper_only_asks_apt(monkeypatch):
    monkeypatch.setattr(step, "apt_setup", lambda source, state: None)
    monkeypatch.setattr(step, "madison", lambda state, names: {n: list(OFFERED.get(n, [])) for n in names})
    out = step.act_resolve({"names": NAMES, "state": "/x", "extra": {"runc": ""}})
    assert out == {"offered": {n: OFFERED[n] for n in ("containerd", "docker.io", "docker-cli", "runc")}}


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
