"""A switch of package families and the rootless daemons: the switch removes the old family's dockerd-rootless.sh,
so a user unit that starts it would not start again (blocker package_family_switch_breaks_rootless); facts that cannot
tell are a blocker (package_family_switch_rootless_unknown); a copy neither family ships is a warning
(package_family_switch_rootless_unverified). Judged on recorded rootless_facts answers (tests/unit/modules/fixtures)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetsafe.container_engine.plugins.filter.compat_findings import compat_findings
from ansible_collections.fleetsafe.container_engine.plugins.filter.upgrade_plan import upgrade_plan

FIXTURES = Path(__file__).parent / "modules" / "fixtures"
IDS = ("package_family_switch_breaks_rootless", "package_family_switch_rootless_unknown",
       "package_family_switch_rootless_unverified")
TO_CE = {"package_family": "docker-ce", "package_family_switch": True}
TO_DEBIAN = {"package_family": "debian", "package_family_switch": True}


def _facts(name):
    return json.loads((FIXTURES / f"{name}.json").read_text())["facts"]


def _found(facts, target):
    return [f for f in compat_findings(facts, target) if f["id"] in IDS]


@pytest.mark.parametrize("name", ["new_rootless_builtin", "new_rootless_slirp4netns", "new_rootless_min_api_dropin"])
def test_a_switch_away_from_the_family_whose_script_a_rootless_unit_starts_is_a_blocker(name):
    """alice's rootless dockerd (recorded on a Debian host) starts docker.io's contrib dockerd-rootless.sh; a switch to
    docker-ce removes docker.io: one blocker naming the user, the unit, the script, the package and both setuptools."""
    facts = _facts(name)
    [found] = _found(facts, TO_CE)
    assert (found["id"], found["severity"], found["component"]) == (
        "package_family_switch_breaks_rootless", "blocker", "rootless:alice"), found
    for word in ("alice", "docker.service", "/usr/share/docker.io/contrib/dockerd-rootless.sh", "removes docker.io"):
        assert word in found["message"], (word, found["message"])
    for word in ("/usr/share/docker.io/contrib/dockerd-rootless-setuptool.sh uninstall",
                 "/usr/bin/dockerd-rootless-setuptool.sh install", "docker-ce-rootless-extras", "leave this host out"):
        assert word in found["remedy"], (word, found["remedy"])
    # the plan still shows the switch, and the gate stops at the blocker
    assert [s["action"] for s in upgrade_plan(facts, TO_CE)] == ["switch_family"]


def test_no_switch_no_finding():
    """The same recorded host without a switch (no family named, its own family, a mismatch not allowed): nothing
    from these findings (the mismatch blocker speaks instead)."""
    facts = _facts("new_rootless_builtin")
    for target in ({}, {"engine": "28.5.2"}, {"package_family": "debian", "package_family_switch": True},
                   {"package_family": "docker-ce"}):
        assert _found(facts, target) == [], target


def test_a_host_without_rootless_daemons_switches_without_these_findings():
    """Recorded hosts with no rootless daemon (rootless section gathered, empty): Debian's to docker-ce and
    docker-ce's to Debian."""
    assert _found(_facts("mid"), TO_CE) == []
    assert _found(_facts("ce_mid"), TO_DEBIAN) == []


def test_a_docker_ce_script_blocks_the_switch_to_debian():
    """docker-ce's /usr/bin/dockerd-rootless.sh (from docker-ce-rootless-extras) on the recorded docker-ce host
    (its rootless daemon copied from the recorded Debian one, script moved to docker-ce's): the switch to Debian
    removes docker-ce-rootless-extras."""
    facts = _facts("ce_mid")
    daemon = copy.deepcopy(_facts("new_rootless_builtin")["rootless"]["daemons"][0])
    daemon.update(script="/usr/bin/dockerd-rootless.sh", script_family="docker-ce", systemd_unit="docker.service")
    facts["rootless"]["daemons"] = [daemon]
    [found] = _found(facts, TO_DEBIAN)
    assert found["id"] == "package_family_switch_breaks_rootless", found
    assert "removes docker-ce-rootless-extras" in found["message"], found["message"]
    assert "/usr/bin/dockerd-rootless-setuptool.sh uninstall" in found["remedy"]
    assert "/usr/share/docker.io/contrib/dockerd-rootless-setuptool.sh install" in found["remedy"]
    # the script of the family the host switches to is not removed: no finding
    daemon.update(script_family="debian", script="/usr/share/docker.io/contrib/dockerd-rootless.sh")
    assert _found(facts, TO_DEBIAN) == []


@pytest.mark.parametrize("script", ["/home/alice/bin/dockerd-rootless.sh", None])
def test_a_script_neither_family_ships_is_a_warning(script):
    """A copy in the user's home (script_family null), or a daemon not started by dockerd-rootless.sh: the switch
    cannot tell, a warning naming the user and the unit."""
    facts = _facts("new_rootless_builtin")
    facts["rootless"]["daemons"][0].update(script=script, script_family=None)
    [found] = _found(facts, TO_CE)
    assert (found["id"], found["severity"]) == ("package_family_switch_rootless_unverified", "warning"), found
    assert "alice" in found["message"] and "docker.service" in found["message"]
    if script:
        assert script in found["message"]


def test_rootless_facts_missing_or_too_old_are_a_blocker_for_a_switch():
    """Rootless facts not gathered, or gathered before they named the script: a blocker for a switch only."""
    facts = _facts("new_rootless_builtin")
    del facts["rootless"]
    [found] = _found(facts, TO_CE)
    assert (found["id"], found["severity"], found["component"]) == (
        "package_family_switch_rootless_unknown", "blocker", "rootless"), found
    assert "rootless_facts" in found["remedy"]
    assert _found(facts, {}) == []
    facts = _facts("new_rootless_builtin")
    for key in ("script", "script_family"):
        del facts["rootless"]["daemons"][0][key]
    [found] = _found(facts, TO_CE)
    assert (found["id"], found["component"]) == ("package_family_switch_rootless_unknown", "rootless:alice"), found


@pytest.mark.parametrize("value", ["docker.io", 3])
def test_a_bad_script_family_is_one_error_naming_it(value):
    facts = _facts("new_rootless_builtin")
    facts["rootless"]["daemons"][0]["script_family"] = value
    with pytest.raises(AnsibleFilterError, match=r"rootless\.daemons\[0\]\.script_family"):
        compat_findings(facts, TO_CE)
