"""The host-side rules of the upgrade's modules (plugins/module_utils/_apt.py, _backup.py, _daemon.py,
_shims.py, and the version rules in _parse.py), on output recorded from a real lab host
(tests/unit/data/engine_host_recorded.json: apt-cache madison and apt-get -s against the lab repository, the journal
of a dockerd that refused to start, ctr / shim versions)."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _apt as A
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _backup as B
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _daemon as D
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _shims as S
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._parse import (
    PACKAGE_FAMILIES,
    daemon_is_stale,
    live_restore_covers,
    on_line,
    parse_ctr_version,
    parse_shim_version,
    upstream_version,
)

REC = json.loads((Path(__file__).parent / "data/engine_host_recorded.json").read_text())
NAMES = PACKAGE_FAMILIES["debian"]
OFFERED = A.parse_madison(REC["madison"], ["containerd", "docker.io", "docker-cli", "runc", "tini", "tini-static"])


def plan(*steps):
    return [dict(order=i, action=a, component=c, **{"from": f, "to": t}) for i, (a, c, f, t) in enumerate(steps, 1)]


MID_TO_NEW = plan(("upgrade_containerd", "containerd", "1.7.24", "2.0"),
                  ("upgrade_containerd", "containerd", "2.0", "2.1.9"),
                  ("upgrade_engine", "engine", "26.1.5", "28.5.2"),
                  ("restart_engine", "engine", "26.1.5+dfsg1", "28.5.2"))


# --- versions: one function each --------------------------------------------------------------------------------

@pytest.mark.parametrize("version,upstream", [
    ("5:28.0.1-1~debian.12~bookworm", "28.0.1"), ("26.1.5+dfsg1-9+deb13u1+b1", "26.1.5"),
    ("1.7.24~ds1-6+deb13u1", "1.7.24"), ("2.1.9+ds1-5", "2.1.9"), ("2.1.9+unknown", "2.1.9"), ("", None)])
def test_upstream_version_of_a_package_version(version, upstream):
    assert upstream_version(version) == upstream


def test_a_line_takes_any_release_on_it_a_release_only_itself():
    assert on_line("26.1.5+dfsg1-9", "26.1") and on_line("26.1.5+dfsg1-9", "26.1.5")
    assert not on_line("26.1.5+dfsg1-9", "26.1.4") and not on_line("26.10.1-1", "26.1")
    assert not on_line("2.1.9+ds1-5", "2.0")


def test_live_restore_covers_a_patch_release_of_the_same_line_only():
    assert live_restore_covers("26.1.4", "26.1.5+dfsg1-9")
    assert not live_restore_covers("20.10.24+dfsg1", "26.1.5") and not live_restore_covers("26.1.5", "27.0.1")
    assert not live_restore_covers(None, "26.1.5")


def test_stale_is_a_daemon_older_than_its_binary():
    assert daemon_is_stale("1.7.24~ds1", "2.1.9+ds1-5") and not daemon_is_stale("2.1.9+unknown", "2.1.9+ds1-5")
    assert daemon_is_stale("2.1.9+unknown", "2.1.9+ds1-5", binary_replaced=True)
    assert daemon_is_stale(None, "2.1.9+ds1-5") is None


def test_recorded_versions_read_by_the_shared_parsers():
    assert parse_ctr_version(REC["ctr_version"])["server"]["Version"] == "2.1.9+unknown"
    assert parse_shim_version(REC["shim_v"]) == "2.1.9+unknown"
    assert D.answers_as("2.1.9+unknown", "2.1.9") and D.answers_as("26.1.5+dfsg1", "26.1")
    assert not D.answers_as("28.5.2+dfsg4", "26.1.5")


# --- apt_resolve ----------------------------------------------------------------------------------------------

def test_madison_recorded_newest_first():
    assert OFFERED["containerd"] == ["2.1.9+ds1-5", "1.7.24~ds1-6+deb13u1", "1.6.20~ds1-1+deb12u3"]
    assert OFFERED["docker-cli"] == ["28.5.2+dfsg4-5", "26.1.5+dfsg1-9+deb13u1+b1"]


def test_an_intermediate_line_the_source_lacks_is_left_out_as_the_plan_leaves_it_out():
    steps = A.install_steps(MID_TO_NEW, NAMES, OFFERED, extra={"runc": "", "tini-static": ""})
    assert [(s["order"], s["packages"]) for s in steps] == [
        (2, {"containerd": "2.1.9+ds1-5"}),
        (3, {"docker.io": "28.5.2+dfsg4-5", "docker-cli": "28.5.2+dfsg4-5", "runc": "1.1.5+ds1-1+deb12u1",
             "tini-static": "0.19.0-6+b2"})]


def test_a_target_release_or_package_the_source_lacks_leaves_nothing_to_simulate():
    # the filters' apt_source_lacks_* findings say what; apt is not asked about a step that cannot resolve
    assert A.install_steps(plan(("upgrade_engine", "engine", "26.1.5", "27.5.1")), NAMES, OFFERED) is None
    assert A.install_steps(plan(("upgrade_engine", "engine", "20.10.24", "26.1.5")), NAMES, OFFERED,
                           extra={"tini": "0.18.0-1"}) is None
    assert A.install_steps(plan(("upgrade_containerd", "containerd", "1.6.20", "1.7.25")), NAMES, OFFERED) is None


# --- apt's simulation of a step ---------------------------------------------------------------------------------

def test_simulated_downgrade_that_apt_refuses_names_the_packages_in_the_way():
    sim = REC["sim_new_to_mid_engine"]
    ok, problems, _actions = A.parse_simulation(sim["rc"], sim["stdout"], sim["stderr"])
    assert not ok
    assert "tini-static: Breaks: tini (< 0.19.0-5) but 0.19.0-1+b3 is to be installed" in problems


def test_simulated_step_apt_can_make_lists_its_actions():
    for key in ("sim_new_to_mid_containerd", "sim_new_to_mid_engine_tini"):
        sim = REC[key]
        ok, problems, actions = A.parse_simulation(sim["rc"], sim["stdout"], sim["stderr"])
        assert ok and problems == [], key
    assert "Remv tini-static [0.19.0-6+b2] []" in actions


# --- the daemon's reason from its journal ------------------------------------------------------------------------

def test_reason_is_the_daemons_own_refusal_not_systemds_lines():
    lines = REC["journal_docker_min_api"].splitlines()
    assert D.reason_from_lines(lines, "docker.service") == \
        "invalid DOCKER_MIN_API_VERSION: minimum supported API version is 1.24: 1.17"


def test_reason_without_a_refusal_takes_error_lines_then_the_last_lines():
    assert D.reason_from_lines(['level=info msg="a"', 'level=error msg="b"', "x"]) == 'level=error msg="b"'
    assert D.reason_from_lines(["a", "b", "c", "d"]) == "b | c | d"
    assert D.reason_from_lines([]) == "(no journal lines)"


def test_container_downtime_from_its_own_stop_and_start_times():
    before = [{"id": "a", "name": "keeper", "pid": 10}, {"id": "b", "name": "kept", "pid": 11}]
    after = {"a": {"pid": 20, "running": True, "finished_at": "2026-12-05T05:25:16.100000000Z",
                   "started_at": "2026-12-05T05:25:16.900000000Z"},
             "b": {"pid": 11, "running": True, "finished_at": "0001-01-01T00:00:00Z", "started_at": "x"}}
    assert D.down_seconds(before, after) == {"keeper": 0.8, "kept": 0.0}


# --- shims: one rule --------------------------------------------------------------------------------------------

def shim(version, deleted=True, ns="moby"):
    return {"pid": 1, "binary": "/usr/bin/containerd-shim-runc-v2", "deleted": deleted, "namespace": ns,
            "id": "c" * 64, "version": version}


def test_a_shim_is_orphaned_when_a_downgrade_left_it_behind():
    assert S.is_orphaned(shim("2.1.9+unknown"), "1.7.24~ds1")          # 2.1 shim under 1.7: orphaned
    assert not S.is_orphaned(shim("1.7.24~ds1"), "1.7.24~ds1")         # replaced twice, same release: talks
    assert not S.is_orphaned(shim("1.6.20~ds1"), "1.7.24~ds1")         # an upgrade: the newer talks to it
    assert not S.is_orphaned(shim("2.1.9+unknown", deleted=False), "1.7.24~ds1")
    assert S.is_orphaned(shim(None), "1.7.24~ds1")                     # gone and mute


def test_clear_in_check_mode_kills_nothing():
    shims = [shim("2.1.9+unknown"), shim("2.1.9+unknown", ns="k8s.io"), shim("1.7.24~ds1")]
    out = S.clear("1.7.24~ds1", shims=shims, check_mode=True)
    assert [s["namespace"] for s in out["orphaned"]] == ["moby"] and out["killed"] == []
    assert len(S.clear("1.7.24~ds1", namespaces=None, shims=shims, check_mode=True)["orphaned"]) == 2


# --- backups -----------------------------------------------------------------------------------------------------

def test_write_as_gives_the_mode_before_the_content(tmp_path, monkeypatch):
    seen = []
    real_fchmod = os.fchmod

    def fchmod(fd, mode):
        seen.append(os.fstat(fd).st_size)     # nothing written yet when the mode is set
        return real_fchmod(fd, mode)
    monkeypatch.setattr(os, "fchmod", fchmod)
    target = tmp_path / "copy.conf"
    B.write_as(str(target), b"HTTPS_PROXY=http://u:pw@proxy:3128\n", 0o600, os.getuid(), os.getgid())
    assert seen == [0]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_bytes() == b"HTTPS_PROXY=http://u:pw@proxy:3128\n"
    assert not (tmp_path / "copy.conf.fleetsafe-tmp").exists()
    B.write_as(str(target), b"x", 0o640, os.getuid(), os.getgid())     # replaces, mode as asked
    assert stat.S_IMODE(target.stat().st_mode) == 0o640 and target.read_bytes() == b"x"


@pytest.mark.parametrize("keep,left", [(1, ["20261205T100000"]), (2, ["20261204T090000", "20261205T100000"]),
                                       (5, ["20261203T080000", "20261204T090000", "20261205T100000"])])
def test_prune_keeps_the_newest_runs_and_nothing_else_is_touched(tmp_path, keep, left):
    for name in ("20261203T080000", "20261204T090000", "20261205T100000", "notes"):
        (tmp_path / name).mkdir()
    (tmp_path / "20261201T000000").write_text("a file, not a run folder")
    current = str(tmp_path / "20261205T100000")
    would = B.runs_to_prune(str(tmp_path), keep, current)
    pruned = B.prune_runs(str(tmp_path), keep, current)
    runs = sorted(p.name for p in tmp_path.iterdir() if p.is_dir() and p.name != "notes")
    assert runs == left and would == pruned
    assert pruned == [str(tmp_path / n) for n in ("20261203T080000", "20261204T090000") if n not in left]
    assert (tmp_path / "notes").is_dir() and (tmp_path / "20261201T000000").is_file()


def test_prune_never_removes_the_current_run_even_when_a_later_name_exists(tmp_path):
    for name in ("20261205T100000", "20261206T000000"):
        (tmp_path / name).mkdir()
    assert B.prune_runs(str(tmp_path), 1, str(tmp_path / "20261205T100000")) == [str(tmp_path / "20261206T000000")]
    assert [p.name for p in tmp_path.iterdir()] == ["20261205T100000"]


# --- apt asked about every step before the first change ----------------------------------------------------------

class Sim:
    """apt-get --simulate answered from the recording: the engine step of new -> mid with tini-static installed."""

    def __init__(self):
        self.asked = []

    def __call__(self, argv):
        self.asked.append([a for a in argv if "=" in a and not a.startswith("Dir::") and not a.startswith("APT::")
                           and not a.startswith("Debug::")])
        key = "sim_new_to_mid_engine" if any(a.startswith("docker.io=") for a in argv) else "sim_new_to_mid_containerd"
        rec = REC[key]
        return type("Res", (), {"returncode": rec["rc"], "stdout": rec["stdout"], "stderr": rec["stderr"]})()


NEW_TO_MID = plan(("upgrade_containerd", "containerd", "2.1.9", "1.7.24"),
                  ("upgrade_engine", "engine", "28.5.2", "26.1.5"),
                  ("restart_engine", "engine", "28.5.2+dfsg4", "26.1.5"))
INSTALLED_NEW = {p: v for p, v, s in (ln.split("\t") for ln in REC["dpkg"].splitlines()) if s.startswith("ii")}


def test_the_first_step_apt_cannot_make_names_the_packages_in_the_way():
    steps = A.install_steps(NEW_TO_MID, NAMES, OFFERED, extra={"runc": ""})
    sim = Sim()
    cannot = A.simulate_steps("/x", steps, INSTALLED_NEW, simulate=sim)
    assert (cannot["action"], cannot["component"], cannot["from"], cannot["to"]) == (
        "upgrade_engine", "engine", "28.5.2", "26.1.5")
    assert cannot["in_the_way"] == ["tini-static", "tini"]
    assert "tini-static: Breaks: tini (< 0.19.0-5) but 0.19.0-1+b3 is to be installed" in cannot["problems"]
    assert cannot["moves"] == ["containerd=1.7.24~ds1-6+deb13u1", "docker-cli=26.1.5+dfsg1-9+deb13u1+b1",
                               "docker.io=26.1.5+dfsg1-9+deb13u1+b1"]
    # the engine step is asked with the containerd step's package: the host as the steps before it leave it;
    # runc is installed at the version asked
    assert sim.asked == [
        ["containerd=1.7.24~ds1-6+deb13u1"],
        ["containerd=1.7.24~ds1-6+deb13u1", "docker-cli=26.1.5+dfsg1-9+deb13u1+b1",
         "docker.io=26.1.5+dfsg1-9+deb13u1+b1"]]


def test_steps_apt_can_make_give_none_and_nothing_to_move_asks_nothing():
    steps = A.install_steps(NEW_TO_MID[:1], NAMES, OFFERED)
    assert A.simulate_steps("/x", steps, INSTALLED_NEW, simulate=Sim()) is None
    sim = Sim()
    assert A.simulate_steps("/x", [dict(steps[0], packages={"containerd": "2.1.9+ds1-5"})], INSTALLED_NEW,
                            simulate=sim) is None and sim.asked == []


def test_package_names_filter_reads_the_one_table():
    from ansible.errors import AnsibleFilterError
    from ansible_collections.fleetsafe.container_engine.plugins.filter.package_names import FilterModule
    names = FilterModule().filters()["package_names"]
    assert names("docker-ce") == PACKAGE_FAMILIES["docker-ce"] == {
        "engine": "docker-ce", "cli": "docker-ce-cli", "containerd": "containerd.io",
        "rootless": "docker-ce-rootless-extras"}
    with pytest.raises(AnsibleFilterError, match="^package_names: 'podman' is not a package family"):
        names("podman")
