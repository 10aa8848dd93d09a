"""The fleet report's data model and its three renderings (plugins/plugin_utils/_report.py).

Host facts come from values recorded on the lab's real engines (lab_facts), findings from the collection's own
compat_findings, and the upgrade results follow the upgrade role's upgrade_result fact (roles/upgrade/README.md).
Every JSON report built here is validated against docs/report.schema.json.
"""
from __future__ import annotations

import copy
import json
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import lab_facts
import pytest
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils import _compat_findings, _report

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs" / "report.schema.json").read_text())
MID = {"engine": "26.1.5", "containerd": "1.7.24"}
NEW = {"engine": "28.5.2", "containerd": "2.1.9"}


def validate(report):
    jsonschema.Draft202012Validator(SCHEMA).validate(json.loads(_report.render_json(report)))


def facts(engine="20.10.24", containerd="1.6.20", **docker_changes):
    return lab_facts.host(lab_facts.docker(engine, **docker_changes), lab_facts.containerd(containerd),
                          mounts=[lab_facts.socket_mount("agent", "fleetsafe-lab/agent:1.0.0", "1.23")]
                          )["container_engine"]


def blocked_facts():
    """An old host with a leftover DOCKER_MIN_API_VERSION=1.17 drop-in (dockerd 26 refuses to start with it)."""
    return facts(min_api_overrides=[{"variable": "DOCKER_MIN_API_VERSION", "value": "1.17", "source": "systemd_unit",
                                     "where": "/etc/systemd/system/docker.service.d/min-api.conf",
                                     "applies": True}])


def result(status, before=("20.10.24+dfsg1", "1.6.20"), after=("26.1.5+dfsg1", "1.7.24"), **changes):
    """An upgrade_result in the role's shape."""
    r = {
        "host": "h", "status": status, "changed": status != "unchanged", "target": MID,
        "before": {"engine": before[0], "containerd": before[1]},
        "after": {"engine": after[0], "containerd": after[1]},
        "plan": [{"order": 1, "action": "upgrade_containerd", "component": "containerd", "from": "1.6.20",
                  "to": "1.7.24", "packages": {"containerd": "1.7.24~ds1-6+deb13u1"}, "skip": False},
                 {"order": 2, "action": "upgrade_engine", "component": "docker", "from": "20.10.24", "to": "26.1.5",
                  "packages": {"docker.io": "26.1.5+dfsg1-9+deb13u1"}, "skip": False},
                 {"order": 3, "action": "verify", "component": "all", "from": None, "to": None, "skip": False}],
        "blockers": [], "steps": [], "backup_dir": None, "failed_step": None, "rollback": None, "verify": None,
        "downtime": {"api_seconds": 0, "containers_seconds": {}}, "seconds": {"total": 3.1, "steps": 0},
    }
    r.update(changes)
    return r


UPGRADED = result("upgraded", steps=[
    {"order": 1, "action": "upgrade_containerd", "component": "containerd", "to": "1.7.24", "seconds": 9.8,
     "packages": {"containerd": "1.7.24~ds1-6+deb13u1"},
     "result": {"restarted": True, "api_down_seconds": 1.2, "containers_down_seconds": {"web": 1.4}}},
    {"order": 2, "action": "upgrade_engine", "component": "docker", "to": "26.1.5", "seconds": 21.5,
     "packages": {"docker.io": "26.1.5+dfsg1-9+deb13u1"},
     "result": {"restarted": True, "api_down_seconds": 3.3, "containers_down_seconds": {"web": 4.1}}}],
    downtime={"api_seconds": 4.5, "containers_seconds": {"web": 5.5}}, seconds={"total": 48.2, "steps": 31.3})
ROLLED_BACK = result("rolled_back", after=("20.10.24+dfsg1", "1.6.20"), steps=UPGRADED["steps"][:1],
                     failed_step={"order": 2, "step": "upgrade_engine", "component": "docker", "to": "26.1.5",
                                  "task": "Install", "message": "E: Failed to fetch file:/opt/shrunk/docker.io.deb"},
                     rollback={"engine": "20.10.24+dfsg1", "containerd": "1.6.20~ds1",
                               "packages_restored": ["containerd"], "smoke": "ok", "seconds": 14.2},
                     downtime={"api_seconds": 1.2, "containers_seconds": {"web": 1.4}})


def judge(f, target):
    return _compat_findings.compat_findings({"container_engine": f}, target)


def fleet_records():
    """Five hosts of an upgrade run: upgraded (canary), rolled back, blocked, unreachable, unchanged."""
    old, blocked = facts(), blocked_facts()
    mid = facts("26.1.5", "1.7.24")
    return {
        "web-1": {"facts_before": old, "facts_after": mid, "findings": judge(old, MID),
                  "preflight": result("planned"), "result": UPGRADED, "batch": 1, "errors": []},
        "web-2": {"facts_before": old, "findings": judge(old, MID), "preflight": result("planned"),
                  "result": ROLLED_BACK, "batch": 2, "ended_failed": True,
                  "errors": [{"task": "Fail the host", "message": "upgrade failed at upgrade_engine; rolled back"}]},
        "db-1": {"facts_before": blocked, "findings": judge(blocked, MID),
                 "preflight": result("blocked", blockers=[f for f in judge(blocked, MID)
                                                          if f["severity"] == "blocker"]),
                 "would_break": {"engine 26.1.5, containerd 1.7.24": judge(blocked, MID),
                                 "engine 28.5.2, containerd 2.1.9": judge(blocked, NEW)}},
        "db-2": {"unreachable": "Failed to connect to the host via ssh: Connection refused", "errors": []},
        "cache-1": {"facts_before": mid, "findings": judge(mid, MID), "preflight": result("unchanged")},
    }


SETTINGS = {"kind": "upgrade", "target": MID, "hosts_pattern": "docker_hosts",
            "hosts": ["web-1", "web-2", "db-1", "db-2", "cache-1"],
            "targets": [{"label": "engine 26.1.5, containerd 1.7.24", "target": MID},
                        {"label": "engine 28.5.2, containerd 2.1.9", "target": NEW}],
            "rollout": {"started": True, "reason": "left out: db-1", "batches": [["web-1"], ["web-2"]]},
            "files": {"txt": "/r/upgrade.txt", "json": "/r/upgrade.json", "html": "/r/upgrade.html"}}


@pytest.fixture
def report():
    return _report.build_report(fleet_records(), SETTINGS, generated="2026-12-05T06:00:00Z")


def test_states_and_reasons_come_from_what_the_run_recorded(report):
    validate(report)
    state = {h["name"]: h["state"] for h in report["hosts"]}
    assert state == {"web-1": "upgraded", "web-2": "rolled_back", "db-1": "blocked", "db-2": "unreachable",
                     "cache-1": "unchanged"}
    reason = {h["name"]: h["reason"] for h in report["hosts"]}
    assert "Connection refused" in reason["db-2"]
    assert reason["web-2"].startswith("failed at upgrade_engine docker: E: Failed to fetch")
    assert "rolled back" in reason["web-2"]
    assert "min_api_override_invalid" in reason["db-1"] and "left untouched" in reason["db-1"]
    assert reason["web-1"].startswith("engine 20.10.24+dfsg1 -> 26.1.5+dfsg1")
    # the agent at API 1.23 blocks on its own, but the role's preflight kept no blocker for web-1: the plan moves it
    hosts = {h["name"]: h for h in report["hosts"]}
    resolved = {(name, f["id"]): f["resolved_by_plan"] for name, h in hosts.items() for f in h["findings"]}
    assert resolved[("web-1", "client_api_too_old")] is True
    assert resolved[("db-1", "min_api_override_invalid")] is False
    assert report["counts"]["upgraded"] == 1 and report["counts"]["unreachable"] == 1
    assert sum(report["counts"].values()) == 5


def test_hosts_keep_the_inventory_order_and_no_host_goes_missing(report):
    assert [h["name"] for h in report["hosts"]] == SETTINGS["hosts"]
    settings = dict(SETTINGS, hosts=SETTINGS["hosts"] + ["never-ran"])
    again = _report.build_report(fleet_records(), settings)
    silent = [h for h in again["hosts"] if h["name"] == "never-ran"][0]
    assert silent["state"] == "not_run" and silent["reason"]
    validate(again)


def test_downtime_per_step_and_per_container(report):
    web1 = [h for h in report["hosts"] if h["name"] == "web-1"][0]
    assert [(s["action"], s["api_down_seconds"], s["containers_down_seconds"]) for s in web1["steps"]] == [
        ("upgrade_containerd", 1.2, {"web": 1.4}), ("upgrade_engine", 3.3, {"web": 4.1})]
    assert web1["downtime"] == {"api_seconds": 4.5, "containers_seconds": {"web": 5.5}}
    assert web1["versions"]["after"]["engine"] == "26.1.5" and web1["versions"]["before"]["engine"] == "20.10.24"


def test_drift_and_which_hosts_break_on_which_target(report):
    drift = report["fleet"]["drift"]
    # after the run: web-1 and cache-1 at 26.1.5, the others where they were (db-2 unknown)
    assert drift["engine"] == {"20.10.24": ["web-2", "db-1"], "26.1.5": ["web-1", "cache-1"]}
    assert "engine" in report["fleet"]["mixed"] and "containerd" in report["fleet"]["mixed"]
    targets = {t["label"]: t for t in report["fleet"]["targets"]}
    assert targets["engine 28.5.2, containerd 2.1.9"]["blocked_hosts"] == {
        "db-1": ["client_api_too_old", "min_api_override_invalid"]}
    assert report["fleet"]["rollout"]["batches"] == [["web-1"], ["web-2"]]


def test_terminal_table_fits_one_screen_for_ten_hosts():
    records, hosts = {}, []
    base = fleet_records()
    for i in range(10):
        name = f"host-{i:02d}.example.internal"
        records[name] = copy.deepcopy(list(base.values())[i % 5])
        hosts.append(name)
    report = _report.build_report(records, dict(SETTINGS, hosts=hosts, rollout={"started": True, "batches": [
        hosts[:1], hosts[1:6], hosts[6:]]}))
    text = _report.render_text(report)
    lines = text.splitlines()
    assert len(lines) <= 40, text
    assert max(len(line) for line in lines) <= 240, text
    table = lines[2:12]
    assert all(len(line) <= 120 for line in table), text
    assert [line.split()[0] for line in table] == hosts
    # details only for hosts needing attention: blocked (with the remedy), rolled back, unreachable
    details = text[text.index("needs attention:"):]
    assert "remedy:" in details and "host-00" not in details and "host-04" not in details
    assert "host-01" in details and "host-02" in details and "host-03" in details
    assert text.rstrip().endswith("/r/upgrade.txt, /r/upgrade.json, /r/upgrade.html")


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.text, self.refs, self.tags = [], [], set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        for key, value in attrs:
            if key in ("src", "href") and value and not value.startswith("#"):
                self.refs.append(value)

    def handle_data(self, data):
        self.text.append(data)


def test_html_is_self_contained_and_shows_the_report(report):
    page = _report.render_html(report)
    parsed = _Collect()
    parsed.feed(page)
    assert parsed.refs == [] and "script" not in parsed.tags and "link" not in parsed.tags
    text = " ".join(" ".join(parsed.text).split())
    for name in SETTINGS["hosts"]:
        assert name in text
    blocker = [f for f in judge(blocked_facts(), MID) if f["severity"] == "blocker"][0]
    assert blocker["remedy"] and " ".join(blocker["remedy"].split()) in text
    assert "engine (mixed)" in text and "rolled back" in text and "unreachable" in text
    assert "E: Failed to fetch" in text


def test_html_escapes_what_hosts_report(report):
    records = fleet_records()
    records["db-2"]["unreachable"] = "<script>alert(1)</script>"
    page = _report.render_html(_report.build_report(records, SETTINGS))
    assert "<script>" not in page and "&lt;script&gt;" in page


@pytest.mark.parametrize("kind", ["facts", "check", "upgrade"])
def test_zero_hosts_is_an_honest_empty_report(kind):
    report = _report.build_report({}, {"kind": kind, "hosts_pattern": "nothing_here", "hosts": []})
    validate(report)
    assert report["hosts"] == [] and report["note"] == "no host matched 'nothing_here'"
    assert "no host matched 'nothing_here'" in _report.render_text(report)
    assert "no host matched" in _report.render_html(report)


def test_check_and_facts_states():
    old, blocked = facts(), blocked_facts()
    records = {"a": {"facts_before": old, "findings": judge(old, MID), "preflight": result("planned")},
               "b": {"facts_before": blocked, "findings": judge(blocked, MID), "preflight": result("blocked", blockers=[
                   f for f in judge(blocked, MID) if f["id"] == "min_api_override_invalid"])}}
    check = _report.build_report(records, {"kind": "check", "target": MID, "hosts": ["a", "b"]})
    validate(check)
    assert [(h["state"], h["reason"]) for h in check["hosts"]] == [
        ("ready", "2 step(s) to the target, no blocker"), ("blocked", "1 blocker(s): min_api_override_invalid")]
    assert check["fleet"]["rollout"] is None
    gathered = _report.build_report({"a": {"facts_before": old, "findings": judge(old, {})}},
                                    {"kind": "facts", "hosts": ["a"]})
    validate(gathered)
    assert gathered["hosts"][0]["state"] == "gathered"


def test_a_rollout_that_did_not_start_says_why():
    records = fleet_records()
    for rec in records.values():
        rec.pop("result", None)
        rec.pop("batch", None)
        rec.pop("ended_failed", None)
    settings = dict(SETTINGS, rollout={"started": False, "reason": "the preflight did not clear db-1 (blocked)"})
    report = _report.build_report(records, settings)
    validate(report)
    state = {h["name"]: (h["state"], h["reason"]) for h in report["hosts"]}
    assert state["web-1"] == ("not_run", "not changed: the rollout did not start")
    assert "did not start: the preflight did not clear db-1" in _report.render_text(report)


@pytest.mark.parametrize("settings, records, words", [
    ({"kind": "deploy"}, {}, "kind='deploy'"),
    ("upgrade", {}, "kind='upgrade'"),
    ({"kind": "check"}, [], "records are list"),
    ({"kind": "check", "hosts": ["a"]}, {"a": "up"}, "host 'a' is str"),
])
def test_bad_input_is_one_clear_error(settings, records, words):
    with pytest.raises(_report.ReportError, match="fleet report") as err:
        _report.build_report(records, settings)
    assert words in str(err.value)


class _Host:
    def __init__(self, name):
        self.name = name

    def get_name(self):
        return self.name


class _Result:
    def __init__(self, host, result, task="a task"):
        self._host, self._result, self.task_name = _Host(host), result, task


class _Play:
    def __init__(self, phase=None):
        self.vars = {"fleetsafe_report_phase": phase} if phase else {}


class _Stats:
    def __init__(self, failures):
        self.failures = failures

    def summarize(self, host):
        return {"failures": self.failures.get(host, 0)}


def _callback(tmp_path):
    from ansible_collections.fleetsafe.container_engine.plugins.callback.fleet_report import CallbackModule
    cb = CallbackModule()
    # the options as Ansible's config would resolve them (the plugin is not loaded through Ansible's loader here)
    cb._plugin_options = {"report_dir": str(tmp_path / "default"), "summary": False, "keep_records": True}
    return cb


def test_callback_records_a_run_and_writes_the_three_files(tmp_path):
    cb = _callback(tmp_path)
    old, mid = facts(), facts("26.1.5", "1.7.24")
    settings = {"kind": "upgrade", "dir": str(tmp_path / "r"), "hosts_pattern": "web", "target": MID,
                "hosts": ["web-1", "web-2", "web-3"], "targets": []}
    cb.v2_playbook_on_play_start(_Play())
    cb.v2_runner_on_ok(_Result("localhost", {"ansible_facts": {"fleetsafe_report_settings": settings}}))
    cb.v2_playbook_on_play_start(_Play("preflight"))
    for host in ("web-1", "web-2"):
        cb.v2_runner_on_ok(_Result(host, {"ansible_facts": {"container_engine": old}}))
        cb.v2_runner_on_ok(_Result(host, {"ansible_facts": {"upgrade_result": result("planned")}}))
    cb.v2_runner_on_unreachable(_Result("web-3", {"msg": "ssh: connect to host web-3 port 22: No route to host"}))
    cb.v2_runner_on_ok(_Result("localhost", {"ansible_facts": {"fleetsafe_report_rollout": {"started": True}}}))
    cb.v2_playbook_on_play_start(_Play("rollout"))  # the canary batch
    cb.v2_runner_on_ok(_Result("web-1", {"ansible_facts": {"upgrade_result": UPGRADED}}))
    cb.v2_runner_on_ok(_Result("web-1", {"ansible_facts": {"container_engine": mid}}))
    cb.v2_playbook_on_play_start(_Play("rollout"))  # the next batch
    cb.v2_runner_on_failed(_Result("web-2", {"msg": "upgrade: rolled back"}, task="Fail the host"))
    cb.v2_runner_on_ok(_Result("web-2", {"ansible_facts": {"upgrade_result": ROLLED_BACK}}))
    cb.v2_playbook_on_stats(_Stats({"web-2": 1}))

    data = json.loads((tmp_path / "r" / "upgrade.json").read_text())
    jsonschema.Draft202012Validator(SCHEMA).validate(data)
    assert [(h["name"], h["state"], h["batch"]) for h in data["hosts"]] == [
        ("web-1", "upgraded", 1), ("web-2", "rolled_back", 2), ("web-3", "unreachable", None)]
    assert data["fleet"]["rollout"]["batches"] == [["web-1"], ["web-2"]]
    assert data["hosts"][1]["errors"] == [{"task": "Fail the host", "message": "upgrade: rolled back"}]
    assert "localhost" not in (tmp_path / "r" / "upgrade.txt").read_text()
    assert (tmp_path / "r" / "upgrade.html").read_text().startswith("<!DOCTYPE html>")
    assert json.loads((tmp_path / "r" / "upgrade.records.json").read_text())["records"]["web-3"]["unreachable"]


def test_callback_leaves_other_playbooks_alone(tmp_path):
    cb = _callback(tmp_path)
    cb.v2_runner_on_ok(_Result("h", {"ansible_facts": {"upgrade_result": UPGRADED}}))
    cb.v2_playbook_on_stats(_Stats({}))
    assert not (tmp_path / "default").exists() and cb.written is None


def test_callback_says_once_when_the_folder_cannot_be_written(tmp_path, capsys):
    cb = _callback(tmp_path)
    (tmp_path / "file").write_text("")
    cb.v2_runner_on_ok(_Result("localhost", {"ansible_facts": {"fleetsafe_report_settings": {
        "kind": "facts", "dir": str(tmp_path / "file" / "sub"), "hosts": []}}}))
    cb.v2_playbook_on_stats(_Stats({}))
    err = capsys.readouterr().err
    assert cb.written is None
    assert err.count(f"fleet_report: cannot write the report to {tmp_path / 'file' / 'sub'}") == 1


def test_the_target_table_leaves_out_what_the_hosts_own_plan_resolves():
    records = fleet_records()
    old = records["web-1"]["facts_before"]
    # web-1's agent at API 1.23 blocks both targets on its own; the plan for the run's target (MID) moves it first
    records["web-1"]["would_break"] = {"engine 26.1.5, containerd 1.7.24": judge(old, MID),
                                       "engine 28.5.2, containerd 2.1.9": judge(old, NEW)}
    # a plan step naming what it resolves (by id) clears that blocker even where the preflight kept it
    records["db-1"]["preflight"]["plan"][0]["resolves"] = ["client_api_too_old"]
    report = _report.build_report(records, SETTINGS)
    validate(report)
    targets = {t["label"]: t["blocked_hosts"] for t in report["fleet"]["targets"]}
    assert "web-1" not in targets["engine 26.1.5, containerd 1.7.24"]
    assert targets["engine 26.1.5, containerd 1.7.24"]["db-1"] == ["min_api_override_invalid"]
    # another target is not the one the plan was made for: every blocker stays
    assert targets["engine 28.5.2, containerd 2.1.9"]["web-1"] == ["client_api_too_old"]
    assert targets["engine 28.5.2, containerd 2.1.9"]["db-1"] == ["client_api_too_old", "min_api_override_invalid"]
