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
