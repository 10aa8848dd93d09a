"""Known-bad engine releases for hosts that run firewalld (known_bad.yml, condition `firewalld`): a firewalld reload
deletes Docker's iptables rules, and these releases do not re-create all of them (CVE-2025-54410 before 25.0.13 and
from 26.0 to 27.x; CVE-2025-54388 from 28.2.0 to 28.3.2).

The hosts are facts recorded in lab hosts (tests/unit/modules/fixtures: 20.10.24, 26.1.5, 28.5.2 from Debian) with
docker.host.firewalld_active set to what a host with firewalld would report; the lab hosts run no firewalld.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetsafe.container_engine.plugins.filter.compat_findings import FilterModule as CF

FIXTURES = Path(__file__).resolve().parent / "modules" / "fixtures"
compat_findings = CF().filters()["compat_findings"]


def facts(name, firewalld):
    recorded = json.loads((FIXTURES / f"{name}.json").read_text())["facts"]
    recorded = copy.deepcopy(recorded)
    assert recorded["docker"]["host"]["firewalld_active"] is False     # what the lab host really reported
    recorded["docker"]["host"]["firewalld_active"] = firewalld
    return recorded


def known_bad(found):
    """(id, severity, row) of the known-bad findings of firewalld rows (and the tests' own row, "mine")."""
    rows = [(f["id"], f["severity"], f["message"].split("]")[0].lstrip("[")) for f in found
            if f["id"].startswith("known_bad")]
    return [row for row in rows if "firewalld" in row[2] or row[2] == "mine"]


@pytest.mark.parametrize("name,running", [("old", "20.10.24"), ("mid", "26.1.5"), ("new_after_upgrade", "28.5.2")])
def test_the_recorded_engines(name, running):
    found = known_bad(compat_findings(facts(name, True), {}))
    expected = {"20.10.24": "engine-before-25.0.13-firewalld-reload-bridge-isolation",
                "26.1.5": "engine-26-27-firewalld-reload-bridge-isolation", "28.5.2": None}[running]
    assert found == ([("known_bad_release", "warning", expected)] if expected else [])
    assert known_bad(compat_findings(facts(name, False), {})) == []


@pytest.mark.parametrize("target,expected", [
    ("25.0.12", "engine-before-25.0.13-firewalld-reload-bridge-isolation"),
    ("25.0.13", None),
    ("26.0.0", "engine-26-27-firewalld-reload-bridge-isolation"),
    ("27.5.1", "engine-26-27-firewalld-reload-bridge-isolation"),
    ("28.0.0", None),
    ("28.1.1", None),
    ("28.2.0", "engine-28.2-firewalld-reload-published-ports"),
    ("28.3.2", "engine-28.2-firewalld-reload-published-ports"),
    ("28.3.3", None),
    ("29.0.0", None),
])
def test_targets_with_firewalld(target, expected):
    found = known_bad(compat_findings(facts("new_after_upgrade", True), {"engine": target}))
    assert found == ([("known_bad_release", "warning", expected)] if expected else [])


def test_the_finding_names_the_cve_the_fix_and_the_stopgap():
    [finding] = [f for f in compat_findings(facts("new_after_upgrade", True), {"engine": "28.3.0"})
                 if f["id"] == "known_bad_release"]
    assert "CVE-2025-54388" in finding["message"] and "fixed in 28.3.3" in finding["message"]
    assert "127.0.0.1" in finding["message"]
    assert "28.3.3 or later" in finding["remedy"] and "firewalld reload" in finding["remedy"]
    assert "moby/moby#50506" in finding["source"] and "GHSA-x4rx-4gw3-53p4" in finding["source"]


def test_unknown_firewalld_state_is_unverified_only_when_the_target_moves_into_the_range():
    found = [f for f in compat_findings(facts("new_after_upgrade", None), {"engine": "28.3.1"})
             if f["id"].startswith("known_bad") and "firewalld" in f["message"]]
    assert [(f["id"], f["severity"]) for f in found] == [("known_bad_unverified", "info")]
    assert "firewalld=active" in found[0]["message"] and "systemctl is-active firewalld" in found[0]["remedy"]
    # the running 26.1.5 is in a range, but no target moves into it: nothing to say
    assert known_bad(compat_findings(facts("mid", None), {})) == []


def test_a_row_with_a_firewalld_state_that_is_not_one_is_refused():
    row = {"id": "mine", "component": "engine", "versions": ">=28.0.0", "when": {"firewalld": "running"},
           "severity": "warning", "fixed_in": None, "symptom": "s", "remedy": "r", "source": "me"}
    with pytest.raises(AnsibleFilterError, match='condition "firewalld" must be active or inactive'):
        compat_findings(facts("new_after_upgrade", True), None, {"known_bad": [row]})


def test_a_user_row_for_hosts_without_firewalld():
    row = {"id": "mine", "component": "engine", "versions": ">=28.0.0", "when": {"firewalld": "inactive"},
           "severity": "info", "fixed_in": None, "symptom": "s", "remedy": "r", "source": "me"}
    assert known_bad(compat_findings(facts("new_after_upgrade", False), {}, {"known_bad": [row]})) == [
        ("known_bad_release", "info", "mine")]
    assert known_bad(compat_findings(facts("new_after_upgrade", True), {}, {"known_bad": [row]})) == []
