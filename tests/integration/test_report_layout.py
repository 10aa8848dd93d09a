"""The HTML fleet report's layout in a real headless Chromium, without lab hosts: long reasons and remedies fold
away instead of stretching the page, and "which hosts would break on which target" leaves out the blockers a host's
own plan resolves.

The report is built the way the fleet_report callback builds it, from per-host records: facts recorded on the lab's
real engines (tests/unit/lab_facts.py) judged by the collection's own compat_findings, whose longest messages and
remedies run to 400 characters. Chromium opens a copy of the page with one measuring script added (the report itself
carries no script) and writes what it laid out into the DOM; a screenshot goes to build/report-screenshots/.
"""
from __future__ import annotations

import html
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "browser"))
sys.path.insert(0, str(ROOT / "tests" / "unit"))
import chromium  # noqa: E402
import lab_facts as L  # noqa: E402
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils import _compat_findings, _report  # noqa: E402

MID = {"engine": "26.1.5", "containerd": "1.7.24"}
NEW = {"engine": "28.5.2", "containerd": "2.1.9"}
LABELS = {"mid": "engine 26.1.5, containerd 1.7.24", "new": "engine 28.5.2, containerd 2.1.9"}
SHOTS = ROOT / "build" / "report-screenshots"
# a real apt failure of the lab's mirror caught mid-sync (make demo), as the upgrade role records it
APT_ERROR = ("E: Failed to fetch file:/opt/mirror-mid-sync/./docker.io_26.1.5+dfsg1-9+deb13u1_amd64.deb  File not "
             "found - /opt/mirror-mid-sync/./docker.io_26.1.5+dfsg1-9+deb13u1_amd64.deb (2: No such file or "
             "directory)\nE: Unable to fetch some archives, maybe run apt-get update or try with --fix-missing?")
MEASURE = """<script>
const cells = [...document.querySelectorAll('td')];
document.body.setAttribute('data-layout', JSON.stringify({
  scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth,
  right: Math.max(...[...document.querySelectorAll('table, section')].map(e => e.getBoundingClientRect().right)),
  tallest: Math.max(...cells.map(c => c.getBoundingClientRect().height)),
  folded: document.querySelectorAll('details.long:not([open])').length}));
</script>"""


def judge(facts, target):
    return _compat_findings.compat_findings(facts, target)


def plan_step(order, action, component, **more):
    return {"order": order, "action": action, "component": component, "from": None, "to": None, "packages": {},
            "skip": False, **more}


def records():
    """An agent host whose plan moves its API 1.23 agent first (blocked on its own, cleared by the plan); a host with
    a client nobody knows the API of (the longest messages); a host blocked by a DOCKER_MIN_API_VERSION drop-in; a
    host that rolled back with apt's whole error."""
    agent = L.host(L.docker("20.10.24"), L.containerd("1.6.20"),
                   mounts=[L.socket_mount("agent", "fleetsafe-lab/agent:1.0.0", "1.23")])
    mystery = L.host(L.docker("20.10.24"), L.containerd("1.6.20"),
                     mounts=[L.socket_mount("mystery", "acme/thing:latest"),
                             L.socket_mount("captain", "caprover/caprover:1.11.1")])
    dropin = L.host(L.docker("20.10.24", min_api_overrides=[
        {"variable": "DOCKER_MIN_API_VERSION", "value": "1.17", "source": "systemd_unit",
         "where": "/etc/systemd/system/docker.service.d/min-api.conf", "applies": True}]), L.containerd("1.6.20"))
    plan = [plan_step(1, "upgrade_client", "agent", resolves=["client_api_too_old"]),
            plan_step(2, "upgrade_containerd", "containerd"), plan_step(3, "upgrade_engine", "docker"),
            plan_step(4, "verify", "all")]

    def rec(facts, status, **more):
        blockers = [f for f in judge(facts, MID) if f["severity"] == "blocker"] if status == "blocked" else []
        return {"facts_before": facts["container_engine"], "findings": judge(facts, MID), "errors": [],
                "would_break": {LABELS["mid"]: judge(facts, MID), LABELS["new"]: judge(facts, NEW)},
                "preflight": {"status": status, "target": MID, "plan": plan, "blockers": blockers}, **more}
    return {
        "agent-1": rec(agent, "planned"),
        "mystery-1": rec(mystery, "planned"),
        "dropin-1": rec(dropin, "blocked"),
        "mirror-1": rec(agent, "planned", ended_failed=True, result={
            "status": "rolled_back", "target": MID, "plan": plan, "blockers": [],
            "before": {"engine": "20.10.24+dfsg1", "containerd": "1.6.20~ds1"},
            "after": {"engine": "20.10.24+dfsg1", "containerd": "1.6.20~ds1"},
            "failed_step": {"order": 3, "step": "upgrade_engine", "component": "docker", "message": APT_ERROR * 3},
            "rollback": {"engine": "20.10.24+dfsg1", "containerd": "1.6.20~ds1", "packages_restored": ["containerd"],
                         "smoke": "ok", "seconds": 14.2}}),
    }


def build():
    settings = {"kind": "check", "target": MID, "hosts_pattern": "docker_hosts", "hosts": list(records()),
                "targets": [{"label": LABELS["mid"], "target": MID}, {"label": LABELS["new"], "target": NEW}],
                "files": {}}
    return _report.build_report(records(), settings, generated="2026-12-05T09:00:00Z")


def test_the_target_table_leaves_out_blockers_the_hosts_own_plan_resolves():
    targets = {t["label"]: t["blocked_hosts"] for t in build()["fleet"]["targets"]}
    # the agent at API 1.23 blocks the mid target on its own, but the plan moves it first: not a host that breaks
    assert "agent-1" not in targets[LABELS["mid"]] and "mirror-1" not in targets[LABELS["mid"]]
    assert targets[LABELS["mid"]]["dropin-1"] == ["min_api_override_invalid"]
    # the new target is not the one the plan was made for: its blockers all stay
    assert targets[LABELS["new"]]["agent-1"] == ["client_api_too_old"]


def test_long_reasons_and_remedies_fold_away_and_nothing_overflows_the_page(tmp_path):
    report = build()
    page = tmp_path / "check.html"
    page.write_text(_report.render_html(report))
    longest = max((f[k] for h in report["hosts"] for f in h["findings"] for k in ("message", "remedy")), key=len)
    assert len(longest) > 350
    measured = tmp_path / "measured.html"
    measured.write_text(re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page.read_text())
                        .replace("</body>", MEASURE + "</body>"))
    dom = chromium.dump_dom(measured, size="1280,2000")
    layout = json.loads(re.search(r'data-layout="([^"]*)"', dom).group(1).replace("&quot;", '"'))
    assert layout["scroll"] <= layout["client"] and layout["client"] > 1200, layout  # no horizontal scrolling
    assert layout["right"] <= layout["client"], layout
    assert layout["tallest"] < 250, layout  # a 400-character remedy in a narrow column would be taller
    assert layout["folded"] >= 5, layout
    text = " ".join(dom.split())
    # the whole text is one click away, in the page itself
    assert html.escape(" ".join(longest.split()), quote=False) in text
    assert "E: Unable to fetch some archives" in text
    # the table of targets as rendered: the agent host only under the target its plan was not made for
    targets = dom[dom.index('id="targets"'):dom.index("</div>", dom.index('id="targets"'))]
    mid_row, new_row = targets.split("</tr>")[1:3]
    assert "agent-1" not in mid_row and "dropin-1: min_api_override_invalid" in mid_row
    assert "agent-1: client_api_too_old" in new_row
    shot = chromium.screenshot(page, SHOTS / "layout.png", size="1280,3000")
    assert shot.stat().st_size > 10000
