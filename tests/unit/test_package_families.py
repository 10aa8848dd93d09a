"""The two package families - Debian's (docker.io, docker-cli, containerd, rootlesskit) and Docker's (docker-ce,
docker-ce-cli, containerd.io, docker-ce-rootless-extras): whose version a pinned string is, the one check that
refuses a version of the other family (and a family that does not exist) before anything changes, and the
knowledge base judging hosts and targets of both families alike. Versions are the ones the lab's packages carry
(tests/lab/manifest.json) and real releases of both repositories."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetsafe.container_engine.plugins.filter.compat_findings import FilterModule as Findings
from ansible_collections.fleetsafe.container_engine.plugins.filter.package_version_check import FilterModule
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _parse as P
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._versions import (
    InputError,
    check_package_version,
    compare,
    parse_version,
    version_family,
)

check = FilterModule().filters()["package_version_check"]
compat_findings = Findings().filters()["compat_findings"]
FIXTURES = Path(__file__).resolve().parent / "modules" / "fixtures"
MANIFEST = json.loads((Path(__file__).resolve().parents[1] / "lab" / "manifest.json").read_text())


@pytest.mark.parametrize("version,component,family", [
    # Docker's repository: the epoch 5 and the distro revision (old 20.10 scheme and the current one)
    ("5:26.1.5-1~debian.12~bookworm", "engine", "docker-ce"),
    ("5:28.5.2-1~debian.12~bookworm", "cli", "docker-ce"),
    ("5:20.10.24~3-0~debian-bullseye", "engine", "docker-ce"),
    ("5:28.0.1-1~ubuntu.24.04~noble", "rootless", "docker-ce"),
    ("1.6.20-1", "containerd", "docker-ce"),
    ("1.7.24-1", "containerd", "docker-ce"),
    ("2.1.9-1~debian.12~bookworm", "containerd", "docker-ce"),
    # Debian's and Ubuntu's archives: repacked sources, security updates, binNMUs, Ubuntu revisions
    ("20.10.24+dfsg1-1+deb12u1+b6", "engine", "debian"),
    ("26.1.5+dfsg1-9+deb13u1", "cli", "debian"),
    ("28.5.2+dfsg4-5", "engine", "debian"),
    ("27.5.1-0ubuntu3~24.04.2", "engine", "debian"),
    ("1.6.20~ds1-1+deb12u3", "containerd", "debian"),
    ("2.1.9+ds1-5", "containerd", "debian"),
    ("1.7.24-0ubuntu1~24.04.2", "containerd", "debian"),
    ("2.0.2-2+b9", "rootless", "debian"),
    # neither: an upstream version, a package of one's own
    ("26.1.5", "engine", None),
    ("1.7.24", "containerd", None),
])
def test_version_family(version, component, family):
    assert version_family(version, component) == family


def test_the_lab_packages_of_each_family_are_recognised():
    for pins in MANIFEST["sets"].values():
        assert version_family(pins["docker.io"]) == "debian"
        assert version_family(pins["containerd"], "containerd") == "debian"
    for spec in MANIFEST["docker_ce"]["sets"].values():
        assert version_family(spec["docker-ce"]) == "docker-ce"
        assert version_family(spec["containerd.io"], "containerd") == "docker-ce"


@pytest.mark.parametrize("version,family,component", [
    ("5:26.1.5-1~debian.12~bookworm", "docker-ce", "engine"),
    ("26.1.5+dfsg1-9+deb13u1", "debian", "engine"),
    ("1.7.24-1", "docker-ce", "containerd"),
    ("1.7.24~ds1-6+deb13u1", "debian", "containerd"),
    ("26.1.5", "docker-ce", "engine"),
])
def test_a_version_of_the_family_is_returned_unchanged(version, family, component):
    assert check(version, family, component) == version


@pytest.mark.parametrize("version,family,component,words", [
    ("26.1.5+dfsg1-9+deb13u1", "docker-ce", "engine",
     ["docker-ce version '26.1.5+dfsg1-9+deb13u1'", "Debian's package docker.io", "package family debian"]),
    ("5:26.1.5-1~debian.12~bookworm", "debian", "engine",
     ["docker.io version '5:26.1.5-1~debian.12~bookworm'", "Docker's package docker-ce", "package family docker-ce"]),
    ("1.7.24-1", "debian", "containerd", ["containerd version '1.7.24-1'", "Docker's package containerd.io"]),
    ("2.1.9+ds1-5", "docker-ce", "containerd", ["containerd.io version '2.1.9+ds1-5'", "Debian's package containerd"]),
    ("5:28.5.2-1~debian.12~bookworm", "debian", "cli", ["docker-cli version", "Docker's package docker-ce-cli"]),
    ("26.1.5", "docker-io", "engine", ["package family 'docker-io' does not exist", "debian, docker-ce"]),
    ("26.1.5", None, "engine", ["package family None does not exist"]),
    ("26.1.5", "debian", "kernel", ["component 'kernel'"]),
    ("not a version!", "debian", "engine", ["docker.io version is not a Debian package version: 'not a version!'"]),
    (26.1, "debian", "engine", ["docker.io version must be a package version string, got float 26.1"]),
    ("", "docker-ce", "engine", ["must be a package version string"]),
])
def test_bad_input_is_one_clear_error_naming_the_value(version, family, component, words):
    with pytest.raises(AnsibleFilterError) as err:
        check(version, family, component)
    message = str(err.value)
    assert message.startswith("package_version_check: ")
    for word in words:
        assert word in message
    with pytest.raises(InputError):  # the same function the roles' checks call, without the filter's prefix
        check_package_version(version, family, component)


def test_what_names_the_variable():
    with pytest.raises(AnsibleFilterError, match="^package_version_check: docker_engine_version '26.1.5"):
        check("26.1.5+dfsg1-9+deb13u1", "docker-ce", what="docker_engine_version")


def test_versions_of_both_families_parse_and_compare_alike():
    """One parser for both families' strings: the upstream release and dpkg's order (epoch 5 above everything)."""
    assert parse_version("5:26.1.5-1~debian.12~bookworm") == parse_version("26.1.5+dfsg1-9+deb13u1")
    assert parse_version("2.1.9-1~debian.12~bookworm") == parse_version("2.1.9+ds1-5")
    assert compare("5:20.10.24~3-0~debian-bullseye", "5:26.1.5-1~debian.12~bookworm", "debian") == -1
    assert compare("5:26.1.5-1~debian.12~bookworm", "5:28.5.2-1~debian.12~bookworm", "debian") == -1
    assert compare("1.7.24-1", "2.1.9-1~debian.12~bookworm", "debian") == -1


@pytest.mark.parametrize("component,packages,family,package", [
    ("engine", {"docker-ce": "5:26.1.5-1~debian.12~bookworm", "containerd.io": "1.7.24-1"}, "docker-ce", "docker-ce"),
    ("containerd", {"docker-ce": "5:26.1.5-1~debian.12~bookworm", "containerd.io": "1.7.24-1"}, "docker-ce",
     "containerd.io"),
    ("containerd", {"docker.io": "26.1.5+dfsg1-9+deb13u1", "containerd": "1.7.24~ds1-6+deb13u1"}, "debian",
     "containerd"),
    ("containerd", {"runc": "1.1.5+ds1-1+deb12u1"}, None, None),
])
def test_facts_name_the_family_of_each_component(component, packages, family, package):
    assert P.package_family(packages, component) == family
    name, version = P.component_package(packages, component)
    assert name == package and version == packages.get(package)


def _fixture_facts(name):
    return json.loads((FIXTURES / f"{name}.json").read_text())["facts"]


def _judged(facts, target):
    return sorted((f["id"], f["severity"]) for f in compat_findings(facts, target))


def test_targets_of_both_families_are_judged_alike():
    """The same upgrade asked in Docker's version strings or in Debian's gives the same findings."""
    facts = _fixture_facts("mid")
    debian = {"engine": "28.5.2+dfsg4-5", "containerd": "2.1.9+ds1-5"}
    docker = {"engine": "5:28.5.2-1~debian.12~bookworm", "containerd": "2.1.9-1~debian.12~bookworm"}
    upstream = {"engine": "28.5.2", "containerd": "2.1.9"}
    assert _judged(facts, debian) == _judged(facts, docker) == _judged(facts, upstream)
    assert _judged(facts, debian)  # not vacuous: the mid -> new upgrade has findings


def test_facts_of_a_docker_ce_host_name_dockers_packages():
    """Recorded on a lab host at the docker-ce family's mid set (record_fixtures.py ce)."""
    facts = _fixture_facts("ce_mid")
    docker, containerd = facts["docker"], facts["containerd"]
    assert docker["package_family"] == containerd["package_family"] == "docker-ce"
    assert docker["package_version"] == "5:26.1.5-1~debian.12~bookworm"
    assert docker["installed_version"] == "26.1.5" and docker["stale"] is False
    assert (containerd["package"], containerd["package_version"]) == ("containerd.io", "1.7.24-1")
    assert docker["packages"]["docker-ce-cli"] == docker["packages"]["docker-ce-rootless-extras"] == \
        "5:26.1.5-1~debian.12~bookworm"
    assert not {"docker.io", "docker-cli", "containerd", "runc"} & set(docker["packages"])


def test_hosts_of_both_families_are_judged_alike():
    """The docker-ce host's facts, and the same host as it would look with Debian's packages of the same upstream
    versions: the same findings for each target, in either family's version strings - the package names and
    revisions never change a judgement. (The recorded mid host is not the comparison: its containerd config carries
    `version = 2` and its daemon.json live-restore, both of which the knowledge base judges, rightly.)"""
    docker = _fixture_facts("ce_mid")
    debian = json.loads(json.dumps(docker))
    names = {"docker-ce": ("docker.io", "26.1.5+dfsg1-9+deb13u1+b1"),
             "docker-ce-cli": ("docker-cli", "26.1.5+dfsg1-9+deb13u1+b1"),
             "containerd.io": ("containerd", "1.7.24~ds1-6+deb13u1"),
             "docker-ce-rootless-extras": ("rootlesskit", "2.0.2-2+b9")}
    debian["docker"]["packages"] = {names.get(k, (k, v))[0]: names.get(k, (k, v))[1]
                                    for k, v in docker["docker"]["packages"].items()}
    debian["docker"].update(package_family="debian", package_version="26.1.5+dfsg1-9+deb13u1+b1")
    debian["containerd"].update(package="containerd", package_version="1.7.24~ds1-6+deb13u1", package_family="debian")
    for target in ({}, {"engine": "28.5.2", "containerd": "2.1.9"}, {"engine": "20.10.24", "containerd": "1.6.20"},
                   {"engine": "5:28.5.2-1~debian.12~bookworm", "containerd": "2.1.9-1~debian.12~bookworm"},
                   {"engine": "28.5.2+dfsg4-5", "containerd": "2.1.9+ds1-5"}):
        assert _judged(debian, target) == _judged(docker, target), target
    assert _judged(docker, {"engine": "28.5.2", "containerd": "2.1.9"})  # not vacuous


def _mismatch(facts, target):
    return [f for f in Findings().filters()["compat_findings"](facts, target) if f["id"] == "package_family_mismatch"]


def test_asking_the_other_family_is_a_blocker_naming_the_variable():
    """A docker-ce host (recorded) whose operator asks for Debian's packages: a blocker for the engine and for
    containerd, whose remedy names upgrade_package_family with the host's family; none when the family matches or
    is not named, none when the switch is allowed explicitly."""
    facts = _fixture_facts("ce_mid")
    found = _mismatch(facts, {"engine": "28.5.2", "package_family": "debian"})
    assert sorted((f["component"], f["severity"]) for f in found) == [("containerd", "blocker"), ("engine", "blocker")]
    [engine] = [f for f in found if f["component"] == "engine"]
    assert "docker-ce" in engine["message"] and "docker.io" in engine["message"]
    assert "upgrade_package_family: docker-ce" in engine["remedy"]
    assert _mismatch(facts, {"engine": "28.5.2", "package_family": "docker-ce"}) == []
    assert _mismatch(facts, {"engine": "28.5.2"}) == []
    assert _mismatch(facts, {"engine": "28.5.2", "package_family": "debian", "package_family_switch": True}) == []


@pytest.mark.parametrize("target, words", [
    ({"engine": "28.5.2", "package_family": "podman"}, "target.package_family is 'podman', not a package family"),
    ({"engine": "28.5.2", "package_family": "debian", "package_family_switch": "yes"},
     "target.package_family_switch must be true or false, got 'yes'"),
])
def test_a_bad_family_in_the_target_is_an_error_naming_it(target, words):
    with pytest.raises(AnsibleFilterError, match=re.escape(words)):
        Findings().filters()["compat_findings"](_fixture_facts("ce_mid"), target)


def test_what_moves_with_the_engine_and_a_source_with_half_the_family():
    """docker-ce's engine step takes docker-ce-cli always and the rootless extras when installed (one rule,
    step_packages, for the plan and apt's simulation); a source that offers docker-ce 28.5 without docker-ce-cli 28.5
    is the blocker apt_source_lacks_family_package naming the missing package, never half a family."""
    from ansible_collections.fleetsafe.container_engine.plugins.filter.upgrade_plan import upgrade_plan
    from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _apt as A
    names = P.PACKAGE_FAMILIES["docker-ce"]
    mid = "5:26.1.5-1~debian.12~bookworm"
    new = "5:28.5.2-1~debian.12~bookworm"
    installed = {"docker-ce": mid, "docker-ce-rootless-extras": mid}
    moving = P.moving_with_engine("docker-ce", installed)
    assert moving == ["docker-ce-cli", "docker-ce-rootless-extras"]
    assert P.moving_with_engine("debian", {"docker.io": "20.10.24+dfsg1-1+deb12u1+b6"}) == []
    assert P.moving_with_engine("debian", {"docker.io": "x", "docker-cli": "y"}) == ["docker-cli"]
    whole = {p: [new, mid] for p in ("docker-ce", "docker-ce-cli", "docker-ce-rootless-extras")}
    whole["containerd.io"] = ["2.1.9-1~debian.12~bookworm", "1.7.24-1"]
    assert P.step_packages("upgrade_engine", "28.5.2", names, whole, moving=moving) == (
        {p: new for p in ("docker-ce", "docker-ce-cli", "docker-ce-rootless-extras")}, [])
    half = dict(whole, **{"docker-ce-cli": [mid]})
    assert P.step_packages("upgrade_engine", "28.5.2", names, half, moving=moving)[1] == [("docker-ce-cli", "28.5.2")]
    # without moving (Debian's CLI not installed) a CLI the source lacks is left to apt, as before
    assert P.step_packages("upgrade_engine", "28.5.2", names, half)[1] == []

    facts = _fixture_facts("ce_mid")
    target = {"engine": "28.5.2"}

    def apt(offered):
        return {"apt": {"source": "deb [trusted=yes] file:/srv/repo ./", "packages": names, "offered": offered,
                        "extra": {}, "moving": moving}}

    steps = A.install_steps(upgrade_plan(facts, target), names, whole, {}, moving)
    assert [s["packages"] for s in steps if s["action"] == "upgrade_engine"] == [
        {p: new for p in ("docker-ce", "docker-ce-cli", "docker-ce-rootless-extras")}]
    assert A.install_steps(upgrade_plan(facts, target), names, half, {}, moving) is None  # nothing to simulate
    plan = upgrade_plan(facts, target, preflight=apt(whole))
    [engine_step] = [s for s in plan if s["action"] == "upgrade_engine"]
    assert engine_step["packages"]["docker-ce-cli"] == new
    found = compat_findings(facts, target, preflight=apt(whole), plan=plan)
    assert not [f for f in found if f["id"].startswith("apt_source_lacks")]
    plan = upgrade_plan(facts, target, preflight=apt(half))
    found = [f for f in compat_findings(facts, target, preflight=apt(half), plan=plan) if f["severity"] == "blocker"]
    assert [f["id"] for f in found] == ["apt_source_lacks_family_package"]
    assert "offers docker-ce 28.5.2 but no docker-ce-cli 28.5.2" in found[0]["message"]
    assert "docker-ce, docker-ce-cli, docker-ce-rootless-extras" in found[0]["remedy"]


def test_family_traits_come_from_the_one_table():
    from ansible_collections.fleetsafe.container_engine.plugins.filter.package_family_traits import FilterModule as T
    traits = T().filters()["package_family_traits"]
    assert traits("docker-ce")["engine_restarted_by_package"] is True
    assert traits("debian")["engine_restarted_by_package"] is False
    assert traits("docker-ce")["runc_package"] == "containerd.io" and traits("debian")["runc_package"] == "runc"
    assert sorted(P.PACKAGE_FAMILY_TRAITS) == sorted(P.PACKAGE_FAMILIES)
    assert len({tuple(sorted(t)) for t in P.PACKAGE_FAMILY_TRAITS.values()}) == 1  # the same keys for each family
    with pytest.raises(AnsibleFilterError, match="^package_family_traits: 'podman' is not a package family"):
        traits("podman")


# --- the family switch --------------------------------------------------------------------------------------------
# what the lab's offline repository offers (apt-cache madison in a lab host), newest first
OFFERED = {
    "docker-ce": ["5:28.5.2-1~debian.12~bookworm", "5:26.1.5-1~debian.12~bookworm", "5:20.10.24~3-0~debian-bullseye"],
    "docker-ce-cli": ["5:28.5.2-1~debian.12~bookworm", "5:26.1.5-1~debian.12~bookworm"],
    "docker-ce-rootless-extras": ["5:28.5.2-1~debian.12~bookworm", "5:26.1.5-1~debian.12~bookworm"],
    "containerd.io": ["2.1.9-1~debian.12~bookworm", "1.7.24-1", "1.6.20-1"],
    "docker.io": ["28.5.2+dfsg4-5", "26.1.5+dfsg1-9+deb13u1+b1", "20.10.24+dfsg1-1+deb12u1+b6"],
    "docker-cli": ["28.5.2+dfsg4-5", "26.1.5+dfsg1-9+deb13u1+b1"],
    "containerd": ["2.1.9+ds1-5", "1.7.24~ds1-6+deb13u1", "1.6.20~ds1-1+deb12u3"],
    "rootlesskit": ["2.0.2-2", "1.1.0-1"],
}
DEBIAN_MID = {"docker.io": "26.1.5+dfsg1-9+deb13u1+b1", "docker-cli": "26.1.5+dfsg1-9+deb13u1+b1",
              "containerd": "1.7.24~ds1-6+deb13u1", "runc": "1.1.5+ds1-1+deb12u1", "tini": "0.19.0-1+b3"}
CE_MID = {"docker-ce": "5:26.1.5-1~debian.12~bookworm", "docker-ce-cli": "5:26.1.5-1~debian.12~bookworm",
          "containerd.io": "1.7.24-1"}


def test_a_switch_installs_the_new_family_at_the_same_releases_and_removes_the_old_one():
    """Debian -> docker-ce: containerd.io takes containerd's and runc's place, docker-ce-cli docker-cli's; back:
    Debian's CLI because the host had Docker's. The old family's installed packages are removed, nothing else
    (tini stays)."""
    packages, remove, lacking = P.switch_packages("debian", "docker-ce", "26.1.5", "1.7.24", OFFERED, DEBIAN_MID)
    assert packages == CE_MID and remove == ["docker.io", "docker-cli", "containerd", "runc"] and lacking == []
    packages, remove, lacking = P.switch_packages("docker-ce", "debian", "26.1.5", "1.7.24", OFFERED, CE_MID)
    assert packages == {"docker.io": "26.1.5+dfsg1-9+deb13u1+b1", "docker-cli": "26.1.5+dfsg1-9+deb13u1+b1",
                        "containerd": "1.7.24~ds1-6+deb13u1"}
    assert remove == ["docker-ce", "docker-ce-cli", "containerd.io"] and lacking == []


def test_a_switch_carries_the_rootless_package_and_names_what_the_source_lacks():
    # rootlesskit installed: Docker's rootless extras carry the engine's release; back: rootlesskit, newest offered
    packages, remove, _lacking = P.switch_packages("debian", "docker-ce", "26.1.5", "1.7.24", OFFERED,
                                                   dict(DEBIAN_MID, rootlesskit="1.1.0-1"))
    assert packages["docker-ce-rootless-extras"] == "5:26.1.5-1~debian.12~bookworm" and "rootlesskit" in remove
    packages, remove, _lacking = P.switch_packages("docker-ce", "debian", "26.1.5", "1.7.24", OFFERED,
                                                   dict(CE_MID, **{"docker-ce-rootless-extras": CE_MID["docker-ce"]}))
    assert packages["rootlesskit"] == "2.0.2-2" and "docker-ce-rootless-extras" in remove
    # a source without containerd.io 1.7 and without docker-ce-cli 26.1: both named, never half a family
    offered = dict(OFFERED, **{"containerd.io": ["1.6.20-1"], "docker-ce-cli": ["5:28.5.2-1~debian.12~bookworm"]})
    _packages, _remove, lacking = P.switch_packages("debian", "docker-ce", "26.1.5", "1.7.24", offered, DEBIAN_MID)
    assert sorted(lacking) == [("containerd.io", "1.7.24"), ("docker-ce-cli", "26.1.5")]


def test_apts_simulation_of_a_switch_asks_removals_and_keeps_apts_plan():
    """simulate_steps asks apt for the install and the removals (name-, never a purge) and keeps apt's own plan."""
    from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _apt as A

    asked = []

    class Res:
        returncode, stderr = 0, ""
        stdout = ("Remv docker.io [26.1.5+dfsg1-9+deb13u1+b1]\nRemv docker-cli [26.1.5+dfsg1-9+deb13u1+b1]\n"
                  "Remv containerd [1.7.24~ds1-6+deb13u1]\nRemv runc [1.1.5+ds1-1+deb12u1]\n"
                  "Inst containerd.io (1.7.24-1 lab [amd64])\nInst docker-ce-cli (5:26.1.5-1~debian.12~bookworm lab)\n"
                  "Inst docker-ce (5:26.1.5-1~debian.12~bookworm lab)\n")

    def simulate(argv):
        asked.append(argv)
        return Res()
    step = {"order": 1, "action": "switch_family", "component": "engine", "from": "debian", "to": "docker-ce",
            "engine": "26.1.5", "containerd": "1.7.24"}
    switch = A.family_switch(step, OFFERED, DEBIAN_MID)
    steps = A.install_steps([step], {}, OFFERED, switch=switch)
    plans = {}
    assert A.simulate_steps("/state", steps, DEBIAN_MID, simulate, plans) is None
    assert sorted(asked[0][-7:]) == sorted(
        ["containerd.io=1.7.24-1", "docker-ce-cli=5:26.1.5-1~debian.12~bookworm",
         "docker-ce=5:26.1.5-1~debian.12~bookworm", "docker.io-", "docker-cli-", "containerd-", "runc-"]), asked
    assert "purge" not in " ".join(asked[0])
    assert plans[1][:2] == ["docker.io 26.1.5+dfsg1-9+deb13u1+b1 removed",
                            "docker-cli 26.1.5+dfsg1-9+deb13u1+b1 removed"]
    assert "docker-ce (new) 5:26.1.5-1~debian.12~bookworm" in plans[1]
    # a source lacking a package: nothing to simulate (the blocker apt_source_lacks_family_switch_package says why)
    lacking = A.family_switch(step, dict(OFFERED, **{"containerd.io": []}), DEBIAN_MID)
    assert A.install_steps([step], {}, OFFERED, switch=lacking) is None


def _ids(facts, target, preflight=None):
    return sorted((f["id"], f["component"]) for f in compat_findings(facts, target, None, None, preflight)
                  if f["severity"] == "blocker")


def test_the_plan_of_a_switch_and_its_blockers():
    """A Debian host (recorded) asked for docker-ce: without the switch the mismatch blocker names
    upgrade_package_family_switch; with it, one switch_family step at the host's releases and no mismatch; with another
    release too, the blocker package_family_switch_moves_release; with apt's answer, the step carries what it installs,
    removes and apt's plan of it."""
    from ansible_collections.fleetsafe.container_engine.plugins.filter.upgrade_plan import upgrade_plan

    facts = _fixture_facts("mid")
    same = {"engine": "26.1.5", "containerd": "1.7.24", "package_family": "docker-ce"}
    [engine] = [f for f in _mismatch(facts, same) if f["component"] == "engine"]
    assert "upgrade_package_family_switch: true" in engine["remedy"], engine["remedy"]
    switch = dict(same, package_family_switch=True)
    assert _mismatch(facts, switch) == []
    [step] = upgrade_plan(facts, switch)
    assert (step["action"], step["from"], step["to"], step["engine"], step["containerd"]) == (
        "switch_family", "debian", "docker-ce", "26.1.5", "1.7.24"), step
    assert [i for i, _c in _ids(facts, switch)] == []
    moved = _ids(facts, dict(switch, engine="28.5.2"))
    assert ("package_family_switch_moves_release", "engine") in moved, moved
    apt = {"source": "deb [trusted=yes] file:/srv/repo ./",
           "packages": {"engine": "docker-ce", "cli": "docker-ce-cli", "containerd": "containerd.io"},
           "offered": OFFERED, "switch": {"from": "debian", "to": "docker-ce", "packages": CE_MID,
                                          "remove": ["docker.io", "docker-cli", "containerd", "runc"], "lacking": [],
                                          "plan": ["docker.io 26.1.5+dfsg1-9+deb13u1+b1 removed"]}}
    [step] = upgrade_plan(facts, switch, None, {"apt": apt})
    assert step["packages"] == CE_MID and step["remove"][0] == "docker.io" and step["apt_plan"], step
    lacking = dict(apt, switch=dict(apt["switch"], lacking=[["containerd.io", "1.7.24"]]))
    assert ("apt_source_lacks_family_switch_package", "engine") in _ids(facts, switch, {"apt": lacking})
    with pytest.raises(AnsibleFilterError, match="preflight.apt.switch.lacking must list"):
        compat_findings(facts, switch, None, None, {"apt": dict(apt, switch=dict(apt["switch"], lacking=["x"]))})


@pytest.mark.parametrize("argv,expected", [
    (["rootlesskit", "--net=slirp4netns", "--port-driver=builtin", "/usr/bin/dockerd-rootless.sh", "--iptables=false"],
     ("/usr/bin/dockerd-rootless.sh", "docker-ce")),
    (["rootlesskit", "--net=slirp4netns", "/usr/share/docker.io/contrib/dockerd-rootless.sh"],
     ("/usr/share/docker.io/contrib/dockerd-rootless.sh", "debian")),
    (["rootlesskit", "/home/alice/bin/dockerd-rootless.sh"], ("/home/alice/bin/dockerd-rootless.sh", None)),
    (["rootlesskit", "--net=host", "dockerd"], (None, None)),
    ([], (None, None)),
])
def test_rootless_script_and_the_family_that_ships_it(argv, expected):
    assert P.rootless_script(argv) == expected
