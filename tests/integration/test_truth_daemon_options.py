"""The knowledge base's daemon-option and storage-driver judgements against real dockerd starts.

For each engine the lab runs (20.10.24, 26.1.5, 28.5.2) and every row of `daemon_options` and
`storage_drivers` that a lab host can show, a throwaway dockerd (own data root, exec root, pid file and
unix socket; never TCP) is started with the setting, and, from 23.0, `dockerd --validate` is asked
about the same configuration. The judgement (does this engine start with it, does --validate refuse
it, what does it print) must equal what the engine does: for daemon options, judge_setting as the findings
daemon_option_* use it (predict_daemon_option_starts is a thin view of it); for storage drivers, compat_findings
itself on the host's real facts with the driver set (finding storage_driver_removed). Rows a lab host cannot
show are listed in NOT_IN_THE_LAB with the reason, and a row that is neither tried nor listed fails the test.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from _facts import adhoc
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils import _kb
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._compat_findings import compat_findings
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._daemon_options import (
    FIRST_LINE_WITH_VALIDATE,
    predict_daemon_option_starts,
)
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._versions import parse_version

SETS = ["old", "mid", "new"]
RUNNER = Path(__file__).with_name("_dockerd_trial.py")
CONSUL = "consul://127.0.0.1:8500"   # never contacted: 20.10 watches the store in the background

# row id -> the configuration that exercises it, and every knowledge-base setting that configuration uses
CASES = {
    "daemon-json-graph": {"daemon_json": {"graph": "{root}"}, "sets_root": True,
                          "uses": [("daemon_json", "graph", "{root}")]},
    "flag-graph": {"flags": ["--graph", "{root}"], "sets_root": True,
                   "uses": [("flag", "--graph", "{root}")]},
    "daemon-json-cluster-store": {"daemon_json": {"cluster-store": CONSUL},
                                  "uses": [("daemon_json", "cluster-store", CONSUL)]},
    # --cluster-advertise and --cluster-store-opt need --cluster-store (20.10 refuses them alone)
    "daemon-json-cluster-advertise": {
        "daemon_json": {"cluster-store": CONSUL, "cluster-advertise": "127.0.0.1:2376"},
        "uses": [("daemon_json", "cluster-store", CONSUL), ("daemon_json", "cluster-advertise", "127.0.0.1:2376")]},
    "daemon-json-cluster-store-opts": {
        "daemon_json": {"cluster-store": CONSUL, "cluster-store-opts": {"kv.path": "/fleetsafe"}},
        "uses": [("daemon_json", "cluster-store", CONSUL), ("daemon_json", "cluster-store-opts", None)]},
    "flag-cluster-store": {"flags": ["--cluster-store", CONSUL],
                           "uses": [("flag", "--cluster-store", CONSUL)]},
    "flag-cluster-advertise": {
        "flags": ["--cluster-store", CONSUL, "--cluster-advertise", "127.0.0.1:2376"],
        "uses": [("flag", "--cluster-store", CONSUL), ("flag", "--cluster-advertise", "127.0.0.1:2376")]},
    "flag-cluster-store-opt": {
        "flags": ["--cluster-store", CONSUL, "--cluster-store-opt", "kv.path=/fleetsafe"],
        "uses": [("flag", "--cluster-store", CONSUL), ("flag", "--cluster-store-opt", "kv.path=/fleetsafe")]},
    "daemon-json-deprecated-key-path": {"daemon_json": {"deprecated-key-path": "{root}/key.json"},
                                        "uses": [("daemon_json", "deprecated-key-path", None)]},
    "daemon-json-oom-score-adjust": {"daemon_json": {"oom-score-adjust": 100},
                                     "uses": [("daemon_json", "oom-score-adjust", "100")]},
    "flag-oom-score-adjust": {"flags": ["--oom-score-adjust", "100"],
                              "uses": [("flag", "--oom-score-adjust", "100")]},
    "daemon-json-api-cors-header": {"daemon_json": {"api-cors-header": "*"},
                                    "uses": [("daemon_json", "api-cors-header", "*")]},
    "flag-api-cors-header": {"flags": ["--api-cors-header", "*"],
                             "uses": [("flag", "--api-cors-header", "*")]},
    "daemon-json-allow-nondistributable-artifacts": {
        "daemon_json": {"allow-nondistributable-artifacts": ["registry.example:5000"]},
        "uses": [("daemon_json", "allow-nondistributable-artifacts", None)]},
    "flag-allow-nondistributable-artifacts": {
        "flags": ["--allow-nondistributable-artifacts", "registry.example:5000"],
        "uses": [("flag", "--allow-nondistributable-artifacts", "registry.example:5000")]},
    "daemon-json-host-gateway-ip": {"daemon_json": {"host-gateway-ip": "192.0.2.1"},
                                    "uses": [("daemon_json", "host-gateway-ip", "192.0.2.1")]},
    "storage-opt-overlay2-override-kernel-check": {
        "daemon_json": {"storage-driver": "overlay2", "storage-opts": ["overlay2.override_kernel_check=true"]},
        "uses": [("storage_opt", "overlay2.override_kernel_check", "true")]},
    "log-driver-logentries": {
        "daemon_json": {"log-driver": "logentries", "log-opts": {"logentries-token": "fleetsafe-lab"}},
        "uses": [("log_driver", "logentries", None)]},
    "log-opt-fluentd-async-connect": {
        "daemon_json": {"log-driver": "fluentd",
                        "log-opts": {"fluentd-address": "127.0.0.1:24224", "fluentd-async-connect": "true"}},
        "uses": [("log_opt", "fluentd-async-connect", "true")]},
}

# rows for variables of dockerd's environment come from the knowledge base itself: each is set to "1" (the value
# every one of them acts on) in the throwaway dockerd's environment
CASES.update({row["id"]: {"env": {row["setting"]: "1"}, "uses": [("environment", row["setting"], "1")]}
              for row in _kb.sections_copy()["daemon_options"] if row["where"] == "environment"})
# 27.x's switch for "api-cors-header" must not rescue the key once 28.0 refuses it
CASES["environment-dockerd-deprecated-cors-header"]["daemon_json"] = {"api-cors-header": "*"}
CASES["environment-dockerd-deprecated-cors-header"]["uses"].append(("daemon_json", "api-cors-header", "*"))

NOT_IN_THE_LAB = {
    "storage-driver-plugin": "needs a graph-driver plugin installed and experimental mode",
    "listen-tcp-without-tls": "the project never opens a Docker socket over TCP, not even in the lab",
}

# Debian's docker.io 20.10.24 is built without libkv's store backends: it cannot start with any cluster
# store, whatever the option's status. There the engine must fail for that reason and never claim removal.
_NO_STORE = "Backend storage not supported yet"
_NO_DISCOVERY = "discovery service not supported"
BUILD_CANNOT = {
    ("20.10", "daemon-json-cluster-store"): _NO_STORE,
    ("20.10", "daemon-json-cluster-advertise"): _NO_DISCOVERY,
    ("20.10", "daemon-json-cluster-store-opts"): _NO_STORE,
    ("20.10", "flag-cluster-store"): _NO_STORE,
    ("20.10", "flag-cluster-advertise"): _NO_DISCOVERY,
    ("20.10", "flag-cluster-store-opt"): _NO_STORE,
}

# Storage drivers: every row of storage_drivers, on every engine, except where the lab host itself
# cannot run the driver (then the engine must fail for that reason, not claim the driver was removed).
STORAGE_DRIVERS = [row["driver"] for row in _kb.sections_copy()["storage_drivers"]]
HOST_CANNOT = {("20.10", "aufs"): "driver not supported"}          # no aufs in this kernel
NOT_TRIED = {("20.10", "devicemapper"): "would attach loop devices on the machine's shared kernel"}

CONTROL_CASES = [   # the harness itself: these must start on every engine, or nothing below means anything
    {"name": "control:empty", "daemon_json": {}},
    {"name": "control:overlay2", "daemon_json": {"storage-driver": "overlay2"}},
]


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_every_daemon_option_row_is_tried_or_excused():
    ids = {row["id"] for row in _kb.sections_copy()["daemon_options"]}
    assert ids == set(CASES) | set(NOT_IN_THE_LAB), (ids ^ (set(CASES) | set(NOT_IN_THE_LAB)))
    assert not set(CASES) & set(NOT_IN_THE_LAB)


def combined_prediction(engine: str, uses: list) -> dict:
    """All the settings of one configuration together: it starts when each of them lets it."""
    parts = [predict_daemon_option_starts(engine, setting, value, where=where) for where, setting, value in uses]
    assert all(p["starts"] is not None for p in parts), parts
    refusing = [p for p in parts if not p["starts"]]
    validate = None
    if parse_version(engine).line >= FIRST_LINE_WITH_VALIDATE:
        validate = any(p["validate_refuses"] for p in refusing)
    return {"starts": not refusing, "validate_refuses": validate, "refusing": refusing, "parts": parts}


def expected_fragments(part: dict) -> list[str]:
    """What the daemon's output must contain when this part is why it refuses."""
    if part["state"] == "unknown" and part["where"] == "daemon_json":
        return ["don't match any configuration option", part["setting"]]   # several keys share one line
    return [part["message"]]


def run_cases(host, cases: list[dict], validate: bool) -> dict:
    host.exec(["bash", "-c", "cat > /root/dockerd_trial.py"], input=RUNNER.read_text())
    request = {"validate": validate, "cases": [{k: v for k, v in c.items() if k != "uses"} for c in cases]}
    res = host.exec(["python3", "/root/dockerd_trial.py"], input=json.dumps(request))
    return {r["name"]: r for r in json.loads(res.stdout)}


@pytest.mark.parametrize("set_name", SETS)
def test_daemon_option_predictions_match_real_starts(lab_host_factory, ansible_env, set_name):
    host = lab_host_factory(set_name)
    engine = re.search(r"version (\S+?),", host.exec(["dockerd", "--version"]).stdout).group(1)
    line = parse_version(engine).line
    facts = adhoc(host, ansible_env, args={"gather": ["docker"]})["ansible_facts"]["container_engine"]
    # the host's own daemon steps aside so throwaway daemons share nothing with it but containerd
    host.sh("systemctl stop docker.service docker.socket")
    validate = line >= FIRST_LINE_WITH_VALIDATE
    line_key = f"{line[0]}.{line[1]}"

    cases = list(CONTROL_CASES)
    for row_id, case in CASES.items():
        cases.append(dict(case, name=row_id))
    for driver in STORAGE_DRIVERS:
        if (line_key, driver) not in NOT_TRIED:
            cases.append({"name": f"storage-driver:{driver}", "daemon_json": {"storage-driver": driver}})
    results = run_cases(host, cases, validate)

    mismatches = []
    for control in CONTROL_CASES:
        got = results[control["name"]]
        assert got["started"], f"engine {engine}: the harness cannot start dockerd at all:\n{got['log'][-2000:]}"
        if validate:
            assert got["validate"]["rc"] == 0, got["validate"]

    for row_id, case in CASES.items():
        got = results[row_id]
        want = combined_prediction(engine, case["uses"])
        cannot = BUILD_CANNOT.get((line_key, row_id))
        if cannot:
            assert want["starts"] is True, (row_id, want)   # the engine line itself still takes the setting
            if got["started"] or cannot not in got["log"] or "have been removed" in got["log"]:
                mismatches.append((row_id, "build", cannot, got["started"], got["log"][-1200:]))
            continue
        if want["starts"] != got["started"]:
            mismatches.append((row_id, "start", want["starts"], got["started"], got["log"][-1200:]))
            continue
        if validate and want["validate_refuses"] != (got["validate"]["rc"] != 0):
            mismatches.append((row_id, "validate", want["validate_refuses"], got["validate"], ""))
            continue
        if not got["started"]:
            text = _norm(got["log"])
            if not any(all(_norm(f) in text for f in expected_fragments(p)) for p in want["refusing"]):
                mismatches.append((row_id, "message", [p["message"] for p in want["refusing"]], None,
                                   got["log"][-1200:]))

    for driver in STORAGE_DRIVERS:
        name = f"storage-driver:{driver}"
        if name not in results:
            continue
        got = results[name]
        # the filter users run, on this host's facts with the driver in use
        judged = dict(facts, docker=dict(facts["docker"], storage_driver=driver))
        want = [f for f in compat_findings(judged, {"engine": engine}) if f["id"] == "storage_driver_removed"]
        cannot = HOST_CANNOT.get((line_key, driver))
        if cannot:
            # the engine still ships the driver: it fails for the host's sake, never as "removed"
            assert want == [], (driver, want)
            ok = not got["started"] and _norm(cannot) in _norm(got["log"]) and "has been deprecated and removed" \
                not in got["log"]
        else:
            removed = _norm(f"the {driver} storage-driver has been deprecated and removed")
            ok = (want == []) == got["started"] and (got["started"] or removed in _norm(got["log"]))
        if not ok:
            mismatches.append((name, "start", want, got["started"], got["log"][-1200:]))
        if validate:
            # storage drivers are chosen after the configuration check: --validate accepts every name
            assert got["validate"]["rc"] == 0, (name, got["validate"])

    assert mismatches == [], f"engine {engine}: prediction != reality:\n" + "\n".join(map(repr, mismatches))


def test_daemon_option_finding_and_plan_match_a_real_upgrade(lab_host_factory, ansible_env):
    """A 26.1.5 host with "api-cors-header" in daemon.json: the findings from its real facts say 28.5.2 will
    not start and quote what it prints; the upgrade then really fails that way, and the plan's edit
    (remove the key) really brings dockerd 28.5.2 up."""
    from _facts import adhoc
    from ansible_collections.fleetsafe.container_engine.plugins.filter.compat_findings import FilterModule as CF
    from ansible_collections.fleetsafe.container_engine.plugins.filter.upgrade_plan import FilterModule as UP

    host = lab_host_factory("mid")
    host.sh("echo '{\"api-cors-header\": \"*\"}' > /etc/docker/daemon.json; systemctl restart docker")
    facts = adhoc(host, ansible_env)["ansible_facts"]["container_engine"]
    assert facts["docker"]["daemon_json"] == {"api-cors-header": "*"}
    target = {"engine": "28.5.2"}
    refused = [f for f in CF().filters()["compat_findings"](facts, target) if f["id"] == "daemon_option_refused"]
    assert len(refused) == 1 and refused[0]["severity"] == "blocker", refused
    quoted = re.search(r'in daemon.json: "(.*)" \(', refused[0]["message"]).group(1)
    plan = UP().filters()["upgrade_plan"](facts, target)
    actions = [step["action"] for step in plan]
    assert actions.index("edit_daemon_config") < actions.index("upgrade_engine"), actions

    host.install_set("new", restart=False)
    host.sh("systemctl reset-failed docker.service docker.socket || true")
    since = host.exec(["date", "+%Y-%m-%d %H:%M:%S"]).stdout.strip()
    assert host.exec(["systemctl", "restart", "docker"], check=False).returncode != 0
    journal = host.exec(["journalctl", "-u", "docker", "--since", since, "--no-pager", "-o", "cat"]).stdout
    assert _norm(quoted) in _norm(journal), (quoted, journal[-1500:])

    host.sh("rm /etc/docker/daemon.json; systemctl reset-failed docker.service docker.socket || true; "
            "systemctl restart docker")
    assert host.exec(["docker", "version", "--format", "{{.Server.Version}}"]).stdout.startswith("28.5.2")
