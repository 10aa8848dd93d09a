"""The upgrade's host-side modules end to end through AnsibleModule: bad input is one error naming the value, with
nothing run on the host; check mode changes nothing; the documentation lists every option the module takes."""
from __future__ import annotations

import importlib
import json

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _run as R

MODULES = ["apt_resolve", "engine_backup", "engine_rollback", "daemon_restart", "shims_clear", "upgrade_journal"]


def module(name):
    return importlib.import_module(f"ansible_collections.fleetsafe.container_engine.plugins.modules.{name}")


@pytest.fixture
def no_host(monkeypatch):
    """Nothing may run on the host: any program call fails the test."""
    calls = []

    def run(argv, **kw):
        calls.append(argv)
        raise AssertionError(f"ran {argv} on bad input")
    monkeypatch.setattr(R, "run", run)
    return calls


def call(name, args, capsys):
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        module(name).main()
    return exit_info.value.code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("name,args,words", [
    ("engine_backup", {"run": "yesterday", "packages": ["docker.io"]}, "run='yesterday' is not a run name"),
    ("engine_backup", {"run": "20261205T051000", "packages": ["docker.io"], "keep": 0}, "keep=0 keeps no backup"),
    ("engine_backup", {"run": "20261205T051000", "packages": ["Docker IO"]}, "'Docker IO' is not a package name"),
    ("engine_backup", {"run": "20261205T051000", "packages": ["docker.io"], "root": "/"}, "root='/' must be"),
    ("engine_backup", {"run": "20261205T051000", "packages": ["docker.io"], "journal": {"next_step": {"order": 1}}},
     "journal.next_step='{\"order\": 1}' has no action"),
    ("apt_resolve", {"steps": [{"action": "upgrade_engine"}]}, "lacks order, component, to"),
    ("apt_resolve", {"steps": [], "package_family": "podman"}, "value of package_family must be one of"),
    ("daemon_restart", {"version": "latest"}, "version='latest' is not a release"),
    ("daemon_restart", {"scope": "rootless"}, "scope is rootless but all of the following are missing: user"),
    ("daemon_restart", {"containers": ["a"], "running_containers": True}, "mutually exclusive"),
    ("daemon_restart", {"timeout": 0}, "timeout=0"),
    ("engine_rollback", {"dir": "/nonexistent/20261205T051000"}, "holds no backup (state.json missing)"),
    ("upgrade_journal", {"event": "begin", "run": "yesterday"}, "run='yesterday' is not a run name"),
    ("upgrade_journal", {"event": "find", "root": "/"}, "root='/' must be"),
    ("upgrade_journal", {"event": "step", "run": "20261205T051000"}, "event is step but all of the following"),
    ("upgrade_journal", {"event": "step", "run": "20261205T051000", "step": {"order": 1}}, "has no action"),
    ("upgrade_journal", {"event": "end", "run": "20261205T051000", "status": "fine"}, "value of status must be"),
    ("upgrade_journal", {"event": "recover", "mode": "ignore"}, "value of mode must be one of"),
    ("upgrade_journal", {"event": "recover", "timeout": 0}, "timeout=0"),
])
def test_bad_input_is_one_error_naming_the_value_and_nothing_runs(name, args, words, no_host, capsys):
    code, out = call(name, args, capsys)
    assert code == 1 and out["failed"] and words in out["msg"], out
    assert no_host == []


def test_rootless_user_that_does_not_exist_is_named(no_host, capsys):
    code, out = call("daemon_restart", {"scope": "rootless", "user": "no-such-user-fs"}, capsys)
    assert code == 1 and "user='no-such-user-fs': no such user" in out["msg"] and no_host == []


def test_backup_in_check_mode_writes_nothing_and_says_what_it_would_prune(tmp_path, monkeypatch, capsys):
    for name in ("20261203T080000", "20261204T090000"):
        (tmp_path / name).mkdir()
    dpkg = "docker.io\t20.10.24+dfsg1-1+deb12u1+b6\tii \ncontainerd\t1.6.20~ds1-1+deb12u3\tii \n"
    monkeypatch.setattr(R, "run", lambda argv, **kw: R.Result(0, dpkg, ""))
    code, out = call("engine_backup", {"run": "20261205T051000", "packages": ["docker.io", "containerd"],
                                       "root": str(tmp_path), "_ansible_check_mode": True}, capsys)
    assert code == 0 and out["changed"] and out["pruned"] == [str(tmp_path / "20261203T080000")]
    assert out["packages"] == {"docker.io": "20.10.24+dfsg1-1+deb12u1+b6", "containerd": "1.6.20~ds1-1+deb12u3"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["20261203T080000", "20261204T090000"]


def test_shims_clear_in_check_mode_ends_nothing(monkeypatch, capsys):
    from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _shims as S
    orphan = {"pid": 4242, "binary": "/usr/bin/containerd-shim-runc-v2", "deleted": True, "namespace": "moby",
              "id": "c" * 64, "version": "2.1.9+unknown"}
    monkeypatch.setattr(S, "list_shims", lambda proc="/proc": [orphan])
    monkeypatch.setattr(R, "run", lambda argv, **kw: R.Result(
        0, "containerd github.com/containerd/containerd 1.7.24~ds1 1.7.24~ds1-6+deb13u1\n", ""))
    monkeypatch.setattr("os.kill", lambda *a: pytest.fail("killed in check mode"))
    code, out = call("shims_clear", {"_ansible_check_mode": True}, capsys)
    assert code == 0 and out["changed"] and out["cleared"] == ["c" * 64] and out["killed"] == []


@pytest.mark.parametrize("name", MODULES)
def test_documentation_lists_every_option_and_parses(name):
    mod = module(name)
    doc = yaml.safe_load(mod.DOCUMENTATION)
    yaml.safe_load(mod.EXAMPLES)
    ret = yaml.safe_load(mod.RETURN)
    assert doc["module"] == name and ret
    source = open(mod.__file__).read()
    for option in doc["options"]:
        assert f"{option}=dict(" in source, option


def test_journal_step_of_a_run_never_begun_is_refused(tmp_path, no_host, capsys):
    code, out = call("upgrade_journal", {"event": "step", "run": "20261205T051000", "root": str(tmp_path),
                                         "step": {"order": 1, "action": "upgrade_engine"}}, capsys)
    assert code == 1 and "has no journal" in out["msg"] and no_host == []


def test_journal_in_check_mode_writes_nothing_and_find_reads_only(tmp_path, no_host, capsys):
    code, out = call("upgrade_journal", {"event": "begin", "run": "20261205T051000", "root": str(tmp_path),
                                         "_ansible_check_mode": True}, capsys)
    assert code == 0 and out["changed"] and list(tmp_path.iterdir()) == []
    from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _journal as J
    J.Journal(str(tmp_path / "20261205T051000")).begin("20261205T051000", {}, [], {"running": ["keeper"]})
    code, out = call("upgrade_journal", {"event": "find", "root": str(tmp_path)}, capsys)
    assert code == 0 and not out["changed"] and out["unfinished"]["run"] == "20261205T051000"
    assert out["unfinished"]["containers_running_at_start"] == ["keeper"]
    code, out = call("upgrade_journal", {"event": "recover", "root": str(tmp_path), "_ansible_check_mode": True},
                     capsys)
    assert code == 0 and out["recovery"] == {"action": "would rollback"} and no_host == []
    assert J.Journal(str(tmp_path / "20261205T051000")).load()["status"] == "running"


def test_journal_notes_the_next_step_in_the_same_write(tmp_path, no_host, capsys, monkeypatch):
    from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _apt as A
    from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _engine_api as E
    from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _journal as J
    monkeypatch.setattr(E, "running_pids", lambda: {"keeper": 4242})
    monkeypatch.setattr(A, "holds", lambda: ["containerd"])
    run = "20261205T051000"
    J.Journal(str(tmp_path / run)).begin(run, {}, [], {"running": ["keeper"]})
    first = {"order": 1, "action": "upgrade_containerd", "component": "containerd", "to": "1.7.24"}
    second = {"order": 2, "action": "upgrade_engine", "component": "engine", "to": "26.1.5"}
    code, out = call("upgrade_journal", {"event": "backup", "run": run, "root": str(tmp_path), "next_step": first},
                     capsys)
    assert code == 0 and out["next_started"] == 1 and out["journal"]["backup"]
    assert [(s["order"], s["status"]) for s in out["journal"]["steps"]] == [(1, "started")]
    code, out = call("upgrade_journal", {"event": "step", "run": run, "root": str(tmp_path), "step": first,
                                         "step_status": "done", "result": {}, "next_step": second}, capsys)
    assert code == 0 and out["next_started"] == 2 and out["containers_kept_running"] == ["keeper"]
    steps = out["journal"]["steps"]
    assert [(s["order"], s["status"]) for s in steps] == [(1, "done"), (2, "started")]
    # the next step starts with the containers the step before ended with
    assert steps[1]["running_before"] == {"keeper": 4242}


@pytest.mark.parametrize("args, words", [
    ({"event": "step", "step_status": "started", "step": {"order": 1, "action": "upgrade_engine"},
      "next_step": {"order": 2, "action": "restart_engine"}}, "next_step is noted with event=backup"),
    ({"event": "backup", "next_step": {"order": 2}}, "next_step='{\"order\": 2}' has no action"),
])
def test_journal_next_step_where_it_cannot_be_noted_is_refused(tmp_path, no_host, capsys, args, words):
    code, out = call("upgrade_journal", dict(args, run="20261205T051000", root=str(tmp_path)), capsys)
    assert code == 1 and words in out["msg"] and list(tmp_path.iterdir()) == [] and no_host == []


@pytest.fixture
def backed_up(tmp_path, monkeypatch):
    """engine_backup's host side replaced: the snapshot of a host running one container, and a backup that checks
    the journal was begun (and not yet noted complete) before it, or fails as told."""
    from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _backup as B
    from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _engine_api as E
    from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _journal as J
    seen = {"fail": None, "journal_at_backup": None, "snapshots": 0, "snap_at_backup": None}
    snap = {"running": [{"name": "keeper"}], "engine": "20.10.24+dfsg1", "holds": [],
            "packages": {"docker.io": "20.10.24"}, "daemon_json": None}

    def snapshot(names):
        seen["snapshots"] += 1
        return snap
    monkeypatch.setattr(B, "snapshot", snapshot)
    monkeypatch.setattr(E, "running_pids", lambda: {"keeper": 4242})

    def backup(root, run, names, state="", keep=2, snap=None):
        seen["journal_at_backup"] = J.Journal(str(tmp_path / run)).load()
        seen["snap_at_backup"] = snap
        if seen["fail"]:
            raise R.OpError(seen["fail"])
        return {"dir": str(tmp_path / run), "packages": {"docker.io": "20.10.24"}, "running": [], "pruned": []}
    monkeypatch.setattr(B, "backup", backup)
    return seen


def test_backup_begins_the_journal_before_and_notes_it_complete_with_the_first_step(tmp_path, backed_up, capsys):
    from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _journal as J
    run = "20261205T051000"
    first = {"order": 1, "action": "upgrade_containerd", "component": "containerd", "to": "1.7.24"}
    code, out = call("engine_backup", {"run": run, "packages": ["docker.io"], "root": str(tmp_path),
                                       "journal": {"target": {"engine": "26.1.5"}, "plan": [first],
                                                   "next_step": first}}, capsys)
    assert code == 0 and out["journal_begun"] and out["next_started"] == 1, out
    at_backup = backed_up["journal_at_backup"]
    assert at_backup["status"] == "running" and at_backup["backup"] is False and at_backup["steps"] == []
    assert at_backup["intent"]["running"] == ["keeper"] and at_backup["target"] == {"engine": "26.1.5"}
    rec = J.Journal(str(tmp_path / run)).load()
    assert rec == out["journal"] and rec["backup"] is True
    assert [(s["order"], s["status"], s["running_before"]) for s in rec["steps"]] == [(1, "started", {"keeper": 4242})]
    # one look at what runs serves the journal's intent and the backup
    assert backed_up["snapshots"] == 1 and backed_up["snap_at_backup"]["running"] == [{"name": "keeper"}]


def test_backup_without_journal_writes_none(tmp_path, backed_up, capsys):
    run = "20261205T051000"
    code, out = call("engine_backup", {"run": run, "packages": ["docker.io"], "root": str(tmp_path)}, capsys)
    assert code == 0 and not out["journal_begun"] and "journal" not in out
    assert backed_up["journal_at_backup"] is None and not (tmp_path / run / "journal.json").exists()


def test_a_backup_that_fails_after_the_journal_began_says_so_and_leaves_it_unfinished(tmp_path, backed_up, capsys):
    from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _journal as J
    run = "20261205T051000"
    backed_up["fail"] = "docker.io: no .deb could be kept"
    code, out = call("engine_backup", {"run": run, "packages": ["docker.io"], "root": str(tmp_path),
                                       "journal": {"plan": []}}, capsys)
    assert code == 1 and out["journal_begun"] and "no .deb could be kept" in out["msg"], out
    # the caller ends it; until then a later run finds it unfinished, with no backup (nothing to undo)
    assert J.find_unfinished(str(tmp_path)) == str(tmp_path / run)
    assert J.Journal(str(tmp_path / run)).load()["backup"] is False
