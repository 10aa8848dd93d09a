"""The fleet playbooks (facts, check, upgrade) and their report on a small real fleet.

Three lab hosts: `current` already at the mid set, `blocked` at the old set with a leftover
DOCKER_MIN_API_VERSION=1.17 drop-in (dockerd 26 refuses to start with it), `ready` at the old set. Two more
inventory hosts that never answer: `gone`, a lab host whose container does not exist (the docker connection
fails the first task), and `down`, an SSH host on a closed port (unreachable). The playbooks run as a user runs
them (`ansible-playbook fleetsafe.container_engine.<name>`, the callback enabled by the checkout's ansible.cfg);
every JSON report is validated against docs/report.schema.json, and the HTML reports are opened from disk in a
real headless Chromium, checked on what it rendered, and kept as screenshots under build/report-screenshots/.
The upgrade runs last: it leaves `blocked` out and moves `ready` old -> mid.
"""
from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import jsonschema
import lab
import pytest
from _upgrade import EXTRA, TARGETS

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "browser"))
import chromium  # noqa: E402

pytestmark = pytest.mark.xdist_group("test_fleet_report")
SCHEMA = json.loads((ROOT / "docs" / "report.schema.json").read_text())
SHOTS = ROOT / "build" / "report-screenshots"
DROPIN = "/etc/systemd/system/docker.service.d/min-api.conf"


@pytest.fixture(scope="module")
def fleet(lab_ready, tmp_path_factory):
    tag = uuid.uuid4().hex[:6]
    names = {role: f"{lab.IT_PREFIX}-fleet-{tag}-{role}" for role in ("current", "blocked", "ready")}
    made = []
    try:
        for role, set_name in (("current", "mid"), ("blocked", "old"), ("ready", "old")):
            host = lab.LabHost(names[role])
            made.append(host)
            host.start(set_name)
            host.load_busybox()
        made[1].sh(f"mkdir -p {Path(DROPIN).parent}\n"
                   f"printf '[Service]\\nEnvironment=DOCKER_MIN_API_VERSION=1.17\\n' > {DROPIN}\n"
                   "systemctl daemon-reload && systemctl restart docker")
        names["gone"] = f"{lab.IT_PREFIX}-fleet-{tag}-gone"
        inv = json.loads(lab.inventory_text([names[r] for r in ("current", "blocked", "ready", "gone")],
                                            group="docker_hosts").split("\n", 1)[1])
        names["down"] = f"{lab.IT_PREFIX}-fleet-{tag}-down"
        inv["all"]["children"]["docker_hosts"]["hosts"][names["down"]] = {
            "ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": 1,
            "ansible_ssh_common_args": "-o ConnectTimeout=3"}
        tmp = tmp_path_factory.mktemp("fleet")
        (tmp / "inventory.yml").write_text(json.dumps(inv))
        yield {"names": names, "hosts": dict(zip(("current", "blocked", "ready"), made, strict=True)), "dir": tmp}
    finally:
        for host in made:
            host.remove()


def playbook(fleet, env, name, report_dir, **extra):
    extra = {"upgrade_target": TARGETS["mid"], "upgrade_apt_source": lab.REPO_LINE,
             "upgrade_extra_packages": EXTRA["mid"], "upgrade_smoke_image": "busybox:lab",
             "upgrade_containerd_allow_line_skip": True, "fleetsafe_report_dir": str(report_dir), **extra}
    vars_file = fleet["dir"] / f"vars-{uuid.uuid4().hex[:6]}.json"
    vars_file.write_text(json.dumps(extra))
    proc = subprocess.run(
        [str(ROOT / ".venv/bin/ansible-playbook"), "-i", str(fleet["dir"] / "inventory.yml"),
         f"fleetsafe.container_engine.{name}", "-e", f"@{vars_file}"],
        cwd=ROOT, env=dict(env, ANSIBLE_NOCOLOR="1"), capture_output=True, text=True, check=False)
    return proc


def report(report_dir, kind):
    data = json.loads((Path(report_dir) / f"{kind}.json").read_text())
    jsonschema.Draft202012Validator(SCHEMA).validate(data)
    return data, {h["name"]: h for h in data["hosts"]}


def packages(host) -> str:
    return host.sh("dpkg-query -W docker.io containerd").stdout


def test_facts_reports_every_host_including_those_that_never_answered(fleet, ansible_env, tmp_path):
    n = fleet["names"]
    proc = playbook(fleet, ansible_env, "facts", tmp_path, fleetsafe_report_targets=[TARGETS["mid"]])
    assert proc.returncode != 0, proc.stdout[-3000:]  # a failed and an unreachable host
    data, hosts = report(tmp_path, "facts")
    assert [h["name"] for h in data["hosts"]] == [n[r] for r in ("current", "blocked", "ready", "gone", "down")]
    assert {r: hosts[n[r]]["state"] for r in n} == {
        "current": "gathered", "blocked": "gathered", "ready": "gathered", "gone": "failed", "down": "unreachable"}
    assert "No such container" in hosts[n["gone"]]["reason"]
    # Ansible's own words for the unreachable host, whichever way ssh failed (refused, or a broken pipe when the
    # closed port drops the connection first): the report carries what the run printed
    down = hosts[n["down"]]["reason"]
    assert "127.0.0.1" in down and down.splitlines()[0][:60] in proc.stdout, down
    assert hosts[n["current"]]["versions"]["before"]["engine"] == "26.1.5"
    assert data["fleet"]["drift"]["engine"] == {"20.10.24": [n["blocked"], n["ready"]], "26.1.5": [n["current"]]}
    assert data["fleet"]["targets"][0]["blocked_hosts"] == {n["blocked"]: ["min_api_override_invalid"]}
    # the summary: one line per host, then the report's paths
    summary = proc.stdout[proc.stdout.index("FLEET REPORT"):]
    assert all(name in summary for name in n.values()) and str(tmp_path / "facts.html") in summary


def test_check_gates_on_blockers_and_its_html_renders_in_chromium(fleet, ansible_env, tmp_path):
    n = fleet["names"]
    proc = playbook(fleet, ansible_env, "check", tmp_path)
    assert proc.returncode != 0
    assert f"check: 1 host(s) blocked: {n['blocked']}" in proc.stdout
    data, hosts = report(tmp_path, "check")
    assert {r: hosts[n[r]]["state"] for r in n} == {
        "current": "unchanged", "blocked": "blocked", "ready": "ready", "gone": "failed", "down": "unreachable"}
    blocker = hosts[n["blocked"]]["blockers"][0]
    assert blocker["id"] == "min_api_override_invalid" and DROPIN in blocker["remedy"]
    assert [s["action"] for s in hosts[n["ready"]]["plan"]][-1] == "restart_engine"  # only steps the role performs
    assert any(s["packages"] for s in hosts[n["ready"]]["plan"])  # resolved from the apt source
    assert data["fleet"]["mixed"] == ["engine", "containerd", "cli"]

    page = tmp_path / "check.html"
    dom = chromium.dump_dom(page)
    text = " ".join(dom.split())
    for name in n.values():
        assert f'id="host-{name}"' in dom
    assert "blocked" in text and "unreachable" in text and "No such container" in text
    assert " ".join(blocker["remedy"].split()).replace("&", "&amp;") in text
    assert "engine (mixed)" in text and "20.10.24: " in text and "26.1.5: " in text
    shot = chromium.screenshot(page, SHOTS / "check.png")
    assert shot.stat().st_size > 10000


def test_check_report_only_exits_zero_despite_a_blocker(fleet, ansible_env, tmp_path):
    n = fleet["names"]
    only = playbook(fleet, ansible_env, "check", tmp_path, fleetsafe_hosts=n["blocked"],
                    fleetsafe_check_report_only=True)
    assert only.returncode == 0, only.stdout[-3000:]
    assert report(tmp_path, "check")[1][n["blocked"]]["state"] == "blocked"


def test_an_unwritable_report_folder_stops_before_any_host(fleet, ansible_env, tmp_path):
    proc = playbook(fleet, ansible_env, "check", "/proc/fleetsafe-report")
    assert proc.returncode != 0
    assert "fleetsafe_report_dir=/proc/fleetsafe-report" in proc.stdout and "cannot be written" in proc.stdout
    assert "PLAY [Preflight" not in proc.stdout


def test_zero_hosts_give_an_honest_empty_report(fleet, ansible_env, tmp_path):
    proc = playbook(fleet, ansible_env, "facts", tmp_path, fleetsafe_hosts="no_such_group")
    assert proc.returncode == 0, proc.stdout[-3000:]
    data, hosts = report(tmp_path, "facts")
    assert hosts == {} and data["note"] == "no host matched 'no_such_group'"
    assert "no host matched 'no_such_group'" in proc.stdout


HANDOFF = """
- name: A preflight handed to a later run of the role on the same host
  hosts: all
  gather_facts: false
  vars:
    upgrade_target: {engine: '26.1.5', containerd: '1.7.24'}
  tasks:
    - name: The preflight
      ansible.builtin.include_role:
        name: fleetsafe.container_engine.upgrade
      vars:
        upgrade_preflight_only: true

    - name: Handed to a run for another target
      block:
        - name: The role given the preflight of another target
          ansible.builtin.include_role:
            name: fleetsafe.container_engine.upgrade
          vars:
            upgrade_preflight_given: "{{ upgrade_preflight_result }}"
            upgrade_target: {engine: '28.5.2'}
      rescue:
        - name: Keep the refusal
          ansible.builtin.set_fact:
            refused: "{{ ansible_failed_result.msg }}"

    - name: The host changes after the preflight (containerd stops)
      ansible.builtin.command: systemctl stop containerd
      changed_when: true

    - name: Handed over after the change
      block:
        - name: The role given its preflight
          ansible.builtin.include_role:
            name: fleetsafe.container_engine.upgrade
          vars:
            upgrade_preflight_given: "{{ upgrade_preflight_result }}"
      rescue:
        - name: Keep the stop
          ansible.builtin.set_fact:
            stopped: "{{ ansible_failed_result.msg }}"
      always:
        - name: Start containerd and dockerd again
          ansible.builtin.command: systemctl start containerd docker
          changed_when: true

    - name: Show what the role said
      ansible.builtin.debug:
        msg: "REFUSED {{ refused | default('(not refused)') }} STOPPED {{ stopped | default('(not stopped)') }}"
"""


def test_a_handed_over_preflight_is_refused_for_another_target_and_a_host_changed_since(
        fleet, ansible_env, tmp_path):
    """upgrade_preflight_given (the upgrade playbook's rollout hands over its fleet preflight): for another target
    it is refused, and a host whose containerd stopped since the preflight fails before any change."""
    host = fleet["hosts"]["current"]
    before = packages(host)
    (tmp_path / "handoff.yml").write_text(HANDOFF)
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps({"upgrade_apt_source": lab.REPO_LINE, "upgrade_extra_packages": EXTRA["mid"],
                                 "upgrade_smoke_image": "busybox:lab", "upgrade_containerd_allow_line_skip": True}))
    proc = subprocess.run(
        [str(ROOT / ".venv/bin/ansible-playbook"), "-i", str(fleet["dir"] / "inventory.yml"), "-l",
         fleet["names"]["current"], str(tmp_path / "handoff.yml"), "-e", f"@{extra}"],
        cwd=ROOT, env=dict(ansible_env, ANSIBLE_NOCOLOR="1"), capture_output=True,
        text=True, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:]
    said = proc.stdout[proc.stdout.index("REFUSED"):].replace('\\"', '"')  # the debug line escapes quotes
    assert "is not this run's preflight of" in said and 'it judged target {"engine": "26.1.5", ' in said, said
    assert ', not {"engine": "28.5.2"}' in said, said
    assert "changed since the preflight:" in said and "containerd running was 1.7.24, is now (none)" in said, said
    assert "Nothing was changed" in said, said
    assert packages(host) == before
    assert host.exec(["systemctl", "is-active", "containerd", "docker"]).stdout.split() == ["active", "active"]


def test_upgrade_stops_before_any_change_when_a_blocked_host_is_not_left_out(fleet, ansible_env, tmp_path):
    n, h = fleet["names"], fleet["hosts"]
    before = {r: packages(h[r]) for r in h}
    proc = playbook(fleet, ansible_env, "upgrade", tmp_path, fleetsafe_hosts=f"{n['blocked']},{n['ready']}")
    assert proc.returncode != 0
    assert "the rollout does not start" in proc.stdout and "PLAY [Roll out" not in proc.stdout
    data, hosts = report(tmp_path, "upgrade")
    assert data["fleet"]["rollout"]["started"] is False and n["blocked"] in data["fleet"]["rollout"]["reason"]
    assert hosts[n["blocked"]]["state"] == "blocked" and hosts[n["ready"]]["state"] == "not_run"
    assert {r: packages(h[r]) for r in h} == before


def test_upgrade_leaves_blocked_hosts_out_and_rolls_the_rest(fleet, ansible_env, tmp_path):
    n, h = fleet["names"], fleet["hosts"]
    blocked_before = packages(h["blocked"])
    proc = playbook(fleet, ansible_env, "upgrade", tmp_path, fleetsafe_upgrade_leave_blocked=True)
    assert proc.returncode != 0  # the unreachable and the failed host stay so
    data, hosts = report(tmp_path, "upgrade")
    assert {r: hosts[n[r]]["state"] for r in n} == {
        "current": "unchanged", "blocked": "blocked", "ready": "upgraded", "gone": "failed", "down": "unreachable"}
    assert packages(h["blocked"]) == blocked_before
    ready = hosts[n["ready"]]
    assert ready["batch"] == 1 and data["fleet"]["rollout"]["batches"] == [[n["ready"]]]
    assert ready["versions"]["after"]["engine"] == "26.1.5" and ready["downtime"]["api_seconds"] is not None
    assert "26.1.5" in h["ready"].exec(["docker", "version", "--format", "{{.Server.Version}}"]).stdout
    dom = chromium.dump_dom(tmp_path / "upgrade.html")
    assert "20.10.24&gt;26.1.5" in dom and "Outcome: steps and measured downtime" in dom
    chromium.screenshot(tmp_path / "upgrade.html", SHOTS / "upgrade.png", size="1280,4200")
