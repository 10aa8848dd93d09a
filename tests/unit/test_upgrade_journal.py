"""The upgrade run's journal (plugins/module_utils/_journal.py): atomic records, what an unfinished run is, sections
that run outside the module and record how they ended, and the recovery's choice between rolling back, resuming and
closing a run that changed nothing. Host commands are replaced by recorded answers (dpkg --audit of a lab host
whose apt was hung up while unpacking containerd)."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _apt as A
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _journal as J
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _run as R

STEP = {"order": 2, "action": "upgrade_engine", "component": "engine", "to": "26.1.5"}
# dpkg --audit on a lab host after its apt was hung up while unpacking containerd 1.7.24
AUDIT = ("The following packages are only half configured, probably due to problems\n"
         "configuring them the first time.  The configuration should be retried using\n"
         "dpkg --configure <package> or the configure menu option in dselect:\n"
         " containerd           daemon to control runC\n")


def test_records_are_replaced_whole_and_private(tmp_path):
    path = tmp_path / "j.json"
    J.write_json(str(path), {"a": 1})
    J.write_json(str(path), {"a": 2})
    assert json.loads(path.read_text()) == {"a": 2}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["j.json"]  # no temporary file left


def test_a_half_written_record_reads_as_none(tmp_path):
    (tmp_path / "j.json").write_text('{"status": "runn')
    assert J.read_json(str(tmp_path / "j.json")) is None


def test_steps_start_and_end_and_an_unfinished_run_is_found(tmp_path):
    root = tmp_path
    old = J.Journal(str(root / "20261205T080000"))
    old.begin("20261205T080000", {"engine": "26.1.5"}, [STEP], {"running": ["keeper"]})
    old.finish("upgraded")
    cur = J.Journal(str(root / "20261205T090000"))
    cur.begin("20261205T090000", {"engine": "26.1.5"}, [STEP], {"running": ["keeper"]})
    cur.update(backup=True)
    cur.step(STEP, "started")
    assert J.find_unfinished(str(root)) == cur.dest
    assert J.find_unfinished(str(root), but="20261205T090000") is None
    s = J.summary(cur.dest)
    assert s["steps_cut"] == ["2 upgrade_engine"] and s["steps_done"] == []
    cur.step(STEP, "done", {"changed": True})
    rec = cur.load()
    assert [(x["order"], x["status"]) for x in rec["steps"]] == [(2, "done")]
    assert J.summary(cur.dest)["steps_done"] == ["2 upgrade_engine"]
    cur.finish("upgraded")
    assert J.find_unfinished(str(root)) is None


def test_a_step_keeps_the_running_containers_at_its_start_and_says_which_kept_their_process(tmp_path):
    cur = J.Journal(str(tmp_path / "20261205T090000"))
    cur.begin("20261205T090000", {"engine": "26.1.5"}, [STEP], {"running": ["keeper", "agent"]})
    cur.step(STEP, "started", running={"keeper": 4242, "agent": 4343})
    assert cur.load()["steps"][-1]["running_before"] == {"keeper": 4242, "agent": 4343}
    rec = cur.step(STEP, "done", {"changed": True}, running={"keeper": 4242, "agent": 5151})
    assert rec["steps"][-1]["result"] == {"changed": True, "containers_kept_running": ["keeper"],
                                          "containers_restarted": ["agent"]}


def test_a_run_that_only_backed_up_changed_nothing():
    assert not J.changed_anything({"steps": [], "backup": True}, {})
    assert J.changed_anything({"steps": [dict(STEP, status="started")]}, {})
    assert J.changed_anything({"steps": []}, {"rollback": {"status": "running"}})


def test_a_section_without_systemd_runs_here_and_records_its_end(tmp_path, monkeypatch):
    monkeypatch.setattr(J, "systemd_runs", lambda: False)
    monkeypatch.setitem(J.FUNCS, "echo", lambda **kw: dict(kw, ok=True))

    def boom(**kw):
        raise R.OpError("dockerd refused")
    monkeypatch.setitem(J.FUNCS, "boom", boom)
    assert J.run_section(str(tmp_path), "restart-docker", "echo", {"x": 1}, 5) == {"x": 1, "ok": True}
    # a second section of the same name in the same run gets its own record
    with pytest.raises(R.OpError, match="dockerd refused"):
        J.run_section(str(tmp_path), "restart-docker", "boom", {}, 5)
    secs = J.sections(str(tmp_path))
    assert {n: s["status"] for n, s in secs.items()} == {"restart-docker": "done", "restart-docker-2": "failed"}


def test_an_unknown_section_function_is_refused(tmp_path):
    with pytest.raises(R.OpError, match="no section function"):
        J.run_section(str(tmp_path), "x", "rm_rf", {}, 5)


def test_the_units_entry_point_runs_the_collections_own_code_in_another_process(tmp_path, monkeypatch):
    """What systemd-run starts: python -c _ENTRY PAYLOAD DEST NAME, importing this collection from PAYLOAD."""
    spec = {"name": "s", "func": "nope", "kwargs": {}, "status": "pending"}
    (tmp_path / J.SECTIONS).mkdir()
    J.write_json(str(tmp_path / J.SECTIONS / "s.json"), spec)
    proc = subprocess.run([sys.executable, "-c", J._ENTRY, J.payload_root(), str(tmp_path), "s"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 1, proc.stderr
    rec = J.read_json(str(tmp_path / J.SECTIONS / "s.json"))
    assert rec["status"] == "failed" and "nope" in rec["error"]


def test_a_section_whose_unit_died_without_a_record_is_a_failure(tmp_path, monkeypatch):
    (tmp_path / J.SECTIONS).mkdir()
    J.write_json(str(tmp_path / J.SECTIONS / "r.json"), {"status": "running", "unit": "fleetsafe-ce-x-r.service"})
    monkeypatch.setattr(J, "unit_active", lambda unit: False)
    with pytest.raises(R.OpError, match="ended without a result"):
        J.wait_section(str(tmp_path), "r", 5)


def test_a_section_is_waited_for_on_its_record_and_its_unit_asked_once_a_second(tmp_path, monkeypatch):
    """The wait reads the section's record (a file) every 0.1 s and asks systemd about its unit (a process) at
    most once a second: a 12 s engine restart no longer starts 60 systemctl processes beside it."""
    (tmp_path / J.SECTIONS).mkdir()
    path = str(tmp_path / J.SECTIONS / "r.json")
    J.write_json(path, {"status": "running", "unit": "fleetsafe-ce-x-r.service"})
    asked = []
    monkeypatch.setattr(J, "unit_active", lambda unit: asked.append(unit) or True)
    writer = threading.Timer(1.5, J.write_json, (path, {"status": "done", "unit": "u", "result": {"ok": 1}}))
    writer.start()
    try:
        assert J.wait_section(str(tmp_path), "r", 10) == {"ok": 1}
    finally:
        writer.cancel()
    assert asked == ["fleetsafe-ce-x-r.service"] * 2   # at the start and a second later; the record ended it


def test_payload_root_is_where_ansible_collections_was_imported_from():
    root = Path(J.payload_root())
    assert (root / "ansible_collections" / "fleetsafe" / "container_engine").exists()


def test_dpkg_audit_names_the_half_done_packages(monkeypatch):
    monkeypatch.setattr(R, "run", lambda argv, **kw: R.Result(0, AUDIT, ""))
    assert A.dpkg_audit() == ["containerd           daemon to control runC"]


def test_dpkg_repair_waits_for_a_dpkg_still_running(monkeypatch, tmp_path):
    calls = []
    answers = [R.Result(2, "", "dpkg: error: dpkg frontend lock was locked by another process with pid 4242"),
               R.Result(0, "", "")]

    def run(argv, **kw):
        calls.append(argv)
        if argv[:2] == ["dpkg", "--audit"]:
            return R.Result(0, AUDIT, "")
        return answers.pop(0)
    monkeypatch.setattr(R, "run", run)
    monkeypatch.setattr(A, "POLICY_RC", str(tmp_path / "policy-rc.d"))
    monkeypatch.setattr(J.time, "sleep", lambda s: None)
    assert A.dpkg_repair(10) == ["containerd           daemon to control runC"]
    assert [c for c in calls if "--configure" in c] == [["dpkg", "--force-confold", "--configure", "-a"]] * 2
    assert not os.path.exists(tmp_path / "policy-rc.d")


def test_dpkg_repair_fails_with_dpkgs_words(monkeypatch, tmp_path):
    monkeypatch.setattr(R, "run", lambda argv, **kw: R.Result(1, "", "dpkg: error processing package containerd"))
    monkeypatch.setattr(A, "POLICY_RC", str(tmp_path / "policy-rc.d"))
    with pytest.raises(R.OpError, match="error processing package containerd"):
        A.dpkg_repair(1)


def test_only_our_own_leftover_policy_rc_is_removed(tmp_path, monkeypatch):
    policy = tmp_path / "policy-rc.d"
    monkeypatch.setattr(A, "POLICY_RC", str(policy))
    policy.write_text("#!/bin/sh\nexit 101\n")
    assert not A.leftover_policy() and policy.exists()
    policy.write_text("#!/bin/sh\n# fleetsafe: restarts are explicit\nexit 101\n")
    assert A.leftover_policy() and not policy.exists()


def _unfinished(root, steps=True, backup=True):
    j = J.Journal(str(root / "20261205T090000"))
    j.begin("20261205T090000", {"engine": "26.1.5"}, [STEP], {"running": ["keeper"], "holds": ["containerd"]})
    if backup:
        j.update(backup=True)
        (root / "20261205T090000" / "state.json").write_text(json.dumps({"running": [], "packages": {}}))
    if steps:
        j.step(STEP, "started")
    return j


@pytest.fixture
def host(monkeypatch):
    """The host commands recover() runs, recorded: no dpkg left half done, dockerd answering."""
    did = []
    monkeypatch.setattr(A, "leftover_policy", lambda: False)
    monkeypatch.setattr(A, "dpkg_repair", lambda t: [])
    from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _backup as B
    from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _daemon as D
    monkeypatch.setattr(D.Daemon, "version", lambda self: "26.1.5+dfsg1")
    monkeypatch.setattr(D, "start_containers", lambda d, names, t: did.append(("start", names)) or
                        {"started": names, "missing": []})
    monkeypatch.setattr(B, "restore_holds", lambda held, managed: did.append(("holds", held)) or held)
    monkeypatch.setattr(J, "run_section", lambda dest, name, func, kw, t: did.append((func, name)) or
                        {"engine": "20.10.24+dfsg1"})
    return did


def test_recover_rolls_back_a_run_that_changed_the_host_and_closes_it(tmp_path, host):
    j = _unfinished(tmp_path)
    rep = J.recover(j.dest, "rollback", ["containerd"], 30, by="20261205T100000")
    assert rep["action"] == "rolled_back" and host == [("rollback", "recover-rollback")]
    rec = j.load()
    assert rec["status"] == "recovered" and rec["recovered_by"] == "20261205T100000"
    assert J.find_unfinished(str(tmp_path)) is None


def test_recover_resume_starts_what_the_run_stopped_and_keeps_it_open(tmp_path, host):
    j = _unfinished(tmp_path)
    rep = J.recover(j.dest, "resume", ["containerd"], 30, by="20261205T100000")
    assert rep["action"] == "resumed"
    assert host == [("start", ["keeper"]), ("holds", ["containerd"])]
    assert j.load()["status"] == "running" and j.load()["events"][-1]["what"] == "resumed"


def test_a_run_cut_while_rolling_back_is_rolled_back_even_when_resume_was_asked(tmp_path, host):
    j = _unfinished(tmp_path)
    j.update(status="rolling_back")
    assert J.recover(j.dest, "resume", [], 30, by="20261205T100000")["action"] == "rolled_back"


@pytest.mark.parametrize("steps,backup", [(False, True), (True, False)])
def test_a_run_cut_before_its_first_change_is_abandoned_not_rolled_back(tmp_path, host, steps, backup):
    j = _unfinished(tmp_path, steps=steps, backup=backup)
    rep = J.recover(j.dest, "rollback", [], 30, by="20261205T100000")
    assert rep["action"] == "nothing_to_undo" and ("rollback", "recover-rollback") not in host
    assert j.load()["status"] == "abandoned"


def test_a_rollback_that_ended_on_the_host_after_the_controller_died_is_not_done_again(tmp_path, host):
    j = _unfinished(tmp_path)
    (tmp_path / j.dest / J.SECTIONS).mkdir()
    J.write_json(os.path.join(j.dest, J.SECTIONS, "rollback.json"), {"status": "done", "detached": True})
    rep = J.recover(j.dest, "rollback", [], 30, by="20261205T100000")
    assert rep["action"] == "rolled_back" and rep["rollback"]["ended_before"]
    assert ("rollback", "recover-rollback") not in host and ("start", ["keeper"]) in host


def test_resume_puts_back_the_holds_the_last_finished_step_left(tmp_path, host):
    """Killed during the engine step, which had lifted containerd's hold: the resumed run holds it again."""
    j = _unfinished(tmp_path, steps=False)
    j.step({"order": 1, "action": "upgrade_containerd"}, "started")
    j.step({"order": 1, "action": "upgrade_containerd"}, "done", holds=["containerd"])
    j.step(STEP, "started")
    J.recover(j.dest, "resume", ["containerd"], 30, by="20261205T100000")
    assert ("holds", ["containerd"]) in host


# dpkg-query -W -f='${Package}\t${Version}\t${db:Status-Abbrev}\n' on a lab host (old set) whose dpkg was killed
# (SIGKILL) while unpacking containerd 1.7.24 - before and after `dpkg --configure -a`, which exits 0 and leaves a
# half-installed package as it is (only a reinstall finishes it)
HALF_INSTALLED = ("containerd\t1.6.20~ds1-1+deb12u3\tiHR\ndocker.io\t20.10.24+dfsg1-1+deb12u1+b6\tii \n"
                  "runc\t1.1.5+ds1-1+deb12u1\tii \ntini\t0.19.0-1+b3\tii \n")


def test_a_half_installed_package_is_on_the_host_but_not_installed():
    pkgs = A.parse_dpkg_status(HALF_INSTALLED)
    assert pkgs["containerd"] == ("1.6.20~ds1-1+deb12u3", "iH") and pkgs["runc"] == ("1.1.5+ds1-1+deb12u1", "ii")
    assert A.on_disk("iH") and A.on_disk("iU") and A.on_disk("iF") and A.on_disk("hi")
    assert not A.on_disk("rc") and not A.on_disk("un") and not A.on_disk("")


def _dpkg_host(monkeypatch, status, held=""):
    marks = []

    def run(argv, **kw):
        if argv[0] == "dpkg-query":
            return R.Result(0, status, "")
        if argv[:2] == ["apt-mark", "showhold"]:
            return R.Result(0, held, "")
        marks.append(argv[1:])
        return R.Result(0, "", "")
    monkeypatch.setattr(R, "run", run)
    return marks


def test_installed_packages_leave_out_a_half_installed_one(monkeypatch):
    _dpkg_host(monkeypatch, HALF_INSTALLED)
    assert A.installed_packages(["containerd", "runc"]) == {"runc": "1.1.5+ds1-1+deb12u1"}


def test_restore_holds_holds_a_package_a_cut_dpkg_left_half_installed(monkeypatch):
    """The resumed step reinstalls it, lifting the hold in its way and holding it again; skipping it (as
    installed_packages would) left it unheld after the resume."""
    from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _backup as B
    marks = _dpkg_host(monkeypatch, HALF_INSTALLED, held="docker.io\n")
    B.restore_holds(["containerd", "docker.io", "docker-cli"], ["containerd", "docker.io", "docker-cli", "runc"])
    assert marks == [["hold", "containerd"]]  # docker-cli is not on the host: it cannot be held yet


PLAN = [{"order": 1, "action": "upgrade_containerd", "packages": {"containerd": "1.7.24~ds1-6+deb13u1"}},
        {"order": 2, "action": "upgrade_engine", "packages": {"docker.io": "26.1.5+dfsg1-9+deb13u1+b1",
                                                              "docker-cli": "26.1.5+dfsg1-9+deb13u1+b1",
                                                              "runc": "1.1.5+ds1-1+deb12u1"}},
        {"order": 3, "action": "restart_engine"}]


@pytest.mark.parametrize("hold", [True, False])
def test_resume_holds_the_packages_of_the_step_it_was_cut_in_as_that_step_would(tmp_path, host, hold):
    """Killed while dpkg unpacked docker.io: the cut dpkg (or dpkg --configure -a) finishes the packages, the new plan
    has no engine step, so nothing else would hold docker-cli and runc (seen in the lab: holds `containerd,
    docker.io` after the resume)."""
    j = J.Journal(str(tmp_path / "20261205T090000"))
    j.begin("20261205T090000", {"engine": "26.1.5"}, PLAN, {"running": ["keeper"], "holds": []})
    j.update(backup=True)
    (tmp_path / "20261205T090000" / "state.json").write_text(json.dumps({"running": [], "packages": {}}))
    j.step(PLAN[0], "started")
    j.step(PLAN[0], "done", holds=["containerd"])
    j.step(PLAN[1], "started")
    assert j.load()["steps"][-1]["packages"] == PLAN[1]["packages"]
    J.recover(j.dest, "resume", ["containerd"], 30, by="20261205T100000", target={"engine": "26.1.5"}, hold=hold)
    want = ["containerd", "docker-cli", "docker.io", "runc"] if hold else ["containerd"]
    assert ("holds", want) in host


def test_resume_finds_a_cut_steps_packages_in_the_plan_when_the_step_record_lacks_them():
    rec = {"plan": PLAN, "intent": {"holds": ["tini"]},
           "steps": [{"order": 1, "action": "upgrade_containerd", "status": "started"}]}
    assert J.resume_holds(rec, True) == ["containerd", "tini"]
    assert J.resume_holds(dict(rec, intent={"holds": ["containerd", "tini"]}), False) == ["tini"]


@pytest.mark.parametrize("target", [{"engine": "28.5.2"}, {"engine": "26.1.5", "containerd": "2.1.9"}])
def test_resume_towards_another_target_is_refused_and_changes_nothing(tmp_path, host, monkeypatch, target):
    repaired = []
    monkeypatch.setattr(A, "dpkg_repair", lambda t: repaired.append(t) or [])
    j = _unfinished(tmp_path)
    before = j.load()
    with pytest.raises(R.OpError) as err:
        J.recover(j.dest, "resume", ["containerd"], 30, by="20261205T100000", target=target)
    msg = str(err.value)
    assert '{"engine": "26.1.5"}' in msg and json.dumps(target, sort_keys=True) in msg
    assert "upgrade_unfinished: rollback" in msg and "Nothing was changed" in msg
    assert host == [] and repaired == [] and j.load() == before


def test_the_same_target_written_another_way_resumes(tmp_path, host):
    """An empty entry is no entry; a YAML number is its text (26.1 and '26.1' are one line)."""
    j = _unfinished(tmp_path)
    j.update(target={"engine": 26.1})
    rep = J.recover(j.dest, "resume", [], 30, by="20261205T100000", target={"engine": "26.1", "containerd": ""})
    assert rep["action"] == "resumed"


def test_another_target_does_not_stop_a_rollback(tmp_path, host):
    j = _unfinished(tmp_path)
    rep = J.recover(j.dest, "rollback", [], 30, by="20261205T100000", target={"engine": "28.5.2"})
    assert rep["action"] == "rolled_back"
