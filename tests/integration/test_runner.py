"""A fleet playbook through ansible-runner (PyPI), as AWX and Automation Platform run it: real lab hosts and one
host that cannot be reached. The per-host events carry each host's outcome (its facts, or why it was unreachable),
the run's status says the fleet was not all reached, and the artifacts hold the same events on disk."""
from __future__ import annotations

import json
import os
from pathlib import Path

import ansible_runner
import lab

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
# the fleet playbook run here; any playbook that gathers the facts of every host can take its place
PLAYBOOK = ROOT / "benchmarks" / "fleet_facts.yml"


def test_playbook_through_ansible_runner_reports_each_host(lab_host_factory, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ['PATH']}")   # runner finds ansible-playbook on PATH
    hosts = [lab_host_factory("old"), lab_host_factory("mid")]
    gone = f"{hosts[0].name}-gone"            # over SSH to a port nobody listens on: unreachable
    inventory = json.loads(lab.inventory_text([h.name for h in hosts] + [gone]).split("\n", 1)[1])
    inventory["all"]["children"]["lab"]["hosts"][gone] = {
        "ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": 9, "ansible_user": "nobody"}
    private = tmp_path / "runner"
    (private / "inventory").mkdir(parents=True)
    (private / "inventory" / "hosts.json").write_text(json.dumps(inventory))

    result = ansible_runner.run(
        private_data_dir=str(private), project_dir=str(PLAYBOOK.parent), playbook=PLAYBOOK.name, quiet=True,
        envvars={"ANSIBLE_COLLECTIONS_PATH": str(ROOT / "build" / "collections"), "ANSIBLE_PIPELINING": "True",
                 "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")},
        forks=3)

    assert result.status == "failed" and result.rc != 0       # a host was unreachable: the run says so
    outcome = {}
    for event in result.events:
        data = event.get("event_data") or {}
        if event["event"] in ("runner_on_ok", "runner_on_failed", "runner_on_unreachable"):
            outcome[data["host"]] = (event["event"], data["res"])
    assert set(outcome) == {hosts[0].name, hosts[1].name, gone}
    for host, engine in ((hosts[0], "20.10.24+dfsg1"), (hosts[1], "26.1.5+dfsg1")):
        event, res = outcome[host.name]
        facts = res["ansible_facts"]["container_engine"]
        assert event == "runner_on_ok" and facts["docker"]["version"] == engine
        assert facts["docker"]["can_talk_to_docker"] is True and res["changed"] is False
    event, res = outcome[gone]
    assert event == "runner_on_unreachable" and res["unreachable"] is True and "port 9" in res["msg"]
    assert result.stats["ok"].keys() == {hosts[0].name, hosts[1].name}
    assert set(result.stats["dark"]) == {gone}

    # the same events as files, as AWX reads them from the artifacts folder; the last one is the recap
    events_dir = Path(result.config.artifact_dir) / "job_events"
    names = sorted(events_dir.glob("*.json"), key=lambda p: int(p.name.split("-", 1)[0]))
    assert json.loads(names[-1].read_text())["event"] == "playbook_on_stats"
    on_disk = [json.loads(p.read_text()) for p in names]
    assert {e["event_data"]["host"] for e in on_disk if e["event"] == "runner_on_unreachable"} == {gone}
