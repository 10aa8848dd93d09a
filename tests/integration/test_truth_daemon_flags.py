"""dockerd flags in a systemd drop-in, and the host facts, on real engines.

For Engines 26.1.5 and 28.5.2 and every knowledge-base row a flag can carry (rows `where: flag`, and the
storage_opt / log_driver / log_opt rows through --storage-opt, --log-driver, --log-opt), a drop-in under
/etc/systemd/system/docker.service.d/ replaces ExecStart= with one that adds the flag, and a real
`systemctl restart docker` decides. The facts module then reads the host as it is, and compat_findings
(target: the installed engine) must say daemon_option_refused exactly when the restart failed, quoting what
the engine printed and naming the drop-in. The flag configurations are the ones test_truth_daemon_options.py
gives throwaway daemons (its CASES), so both tests speak about the same rows; the lab hosts are test_truth.py's
(`engines`: one per version set, shared by the module, started on first use).

Every row about a variable of dockerd's environment is tried the same way through an Environment= drop-in: the
engine's start must be what the row predicts, the facts must report the variable where it was written, and the
finding (deprecated, ignored, or none) must be the row's state for the installed engine.

The host facts (container environment, VM, iptables backend, kernel modules, firewalld, the running
dockerd's flags) must be what the lab host itself shows through its own tools.
"""
from __future__ import annotations

import contextlib
import re
import shlex

import lab
import pytest
from _dockerd_trial import subst
from _facts import adhoc, facts
from ansible_collections.fleetsafe.container_engine.plugins.filter.compat_findings import FilterModule as CF
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils import _kb
from test_truth import engines  # noqa: F401  # pylint: disable=unused-import
from test_truth_daemon_options import CASES, _norm, combined_prediction, expected_fragments

# module-scoped lab hosts: every test of this file runs on one worker (make integration: --dist loadgroup)
pytestmark = pytest.mark.xdist_group("test_truth_daemon_flags")

SETS = ["mid", "new"]
DROPIN = "/etc/systemd/system/docker.service.d/fleetsafe-flag.conf"
GRAPH = "/var/lib/docker-flag-graph"
FLAG_PLACES = ("flag", "storage_opt", "log_driver", "log_opt")
BASE = ["/usr/sbin/dockerd", "-H", "fd://", "--containerd=/run/containerd/containerd.sock"]

# the daemon.json-only cases of test_truth_daemon_options.py, given as flags
AS_FLAGS = {
    "storage-opt-overlay2-override-kernel-check": {
        "flags": ["--storage-driver", "overlay2", "--storage-opt", "overlay2.override_kernel_check=true"],
        "uses": [("storage_opt", "overlay2.override_kernel_check", "true")]},
    "log-driver-logentries": {
        "flags": ["--log-driver", "logentries", "--log-opt", "logentries-token=fleetsafe-lab"],
        "uses": [("log_driver", "logentries", None)]},
    "log-opt-fluentd-async-connect": {
        "flags": ["--log-driver", "fluentd", "--log-opt", "fluentd-address=127.0.0.1:24224",
                  "--log-opt", "fluentd-async-connect=true"],
        "uses": [("log_opt", "fluentd-async-connect", "true")]},
}
FLAG_CASES = {row_id: case for row_id, case in CASES.items() if case.get("flags")} | AS_FLAGS
NOT_IN_THE_LAB = {"listen-tcp-without-tls": "the project never opens a Docker socket over TCP, not even in the lab"}
ENV_CASES = {row_id: case for row_id, case in CASES.items() if case.get("env")}
ENV_DROPIN = "/etc/systemd/system/docker.service.d/fleetsafe-env.conf"
STATE_FINDING = {"deprecated": "daemon_option_deprecated", "ignored": "daemon_option_ignored",
                 "refused": "daemon_option_refused", "unknown": "daemon_option_refused"}
compat_findings = CF().filters()["compat_findings"]


def test_every_row_a_flag_can_carry_is_tried_or_excused():
    rows = {row["id"] for row in _kb.sections_copy()["daemon_options"] if row["where"] in FLAG_PLACES + ("listen",)}
    assert rows == set(FLAG_CASES) | set(NOT_IN_THE_LAB), rows ^ (set(FLAG_CASES) | set(NOT_IN_THE_LAB))


def restart(host: lab.LabHost) -> tuple[bool, str]:
    """`systemctl restart docker` as an operator runs it: (did it come up, what dockerd logged meanwhile)."""
    host.sh("systemctl daemon-reload; systemctl reset-failed docker.service docker.socket || true")
    cursor = host.exec(["journalctl", "-u", "docker", "-n", "1", "--show-cursor", "-q"]).stdout
    cursor = re.search(r"-- cursor: (\S+)", cursor).group(1)
    started = host.exec(["systemctl", "restart", "docker"], check=False).returncode == 0
    started = started and host.exec(["docker", "version", "--format", "{{.Server.Version}}"],
                                    check=False).returncode == 0
    log = host.exec(["journalctl", "-u", "docker", "--after-cursor", cursor, "--no-pager", "-o", "cat"]).stdout
    return started, log


def lab_engine(start, set_name: str) -> tuple[lab.LabHost, str]:
    """The module's lab host of a version set (start: the engines fixture), and the version of its dockerd."""
    host = start(set_name)
    return host, re.search(r"version (\S+?),", host.exec(["dockerd", "--version"]).stdout).group(1)


@contextlib.contextmanager
def dropped_in(host: lab.LabHost, path: str, text: str):
    """A drop-in at path for the duration: yields what `systemctl restart docker` did with it (restart's answer),
    then removes it and makes sure dockerd comes back without it."""
    host.exec(["bash", "-c", f"mkdir -p {shlex.quote(path.rsplit('/', 1)[0])}; cat > {path}"], input=text)
    try:
        yield restart(host)
    finally:
        host.sh(f"rm -f {path}")
        back, log = restart(host)
        assert back, f"dockerd did not come back without {path}:\n{log[-1500:]}"


@pytest.mark.parametrize("row_id", sorted(FLAG_CASES))
@pytest.mark.parametrize("set_name", SETS)
def test_flag_in_a_dropin_prediction_equals_a_real_restart(engines, ansible_env, set_name, row_id):  # noqa: F811
    host, engine = lab_engine(engines, set_name)
    case = FLAG_CASES[row_id]
    want = combined_prediction(engine, case["uses"])
    flags = subst(case["flags"], GRAPH)
    with dropped_in(host, DROPIN, f"[Service]\nExecStart=\nExecStart={shlex.join(BASE + flags)}\n") as (started, log):
        assert started == want["starts"], (engine, row_id, want, log[-1500:])
        if not started:
            assert any(all(_norm(f) in _norm(log) for f in expected_fragments(p)) for p in want["refusing"]), \
                (engine, row_id, [p["message"] for p in want["refusing"]], log[-1500:])

        # the same answer from the facts the module reads on this host, through compat_findings
        gathered = facts(adhoc(host, ansible_env, module="docker_facts", check=True))
        unit_flags = [(f["flag"], f["value"]) for f in gathered["docker"]["daemon_flags"] if f["where"] == DROPIN]
        assert unit_flags[:2] == [("--host", "fd://"), ("--containerd", "/run/containerd/containerd.sock")]
        assert [value for _flag, value in unit_flags[2:]] == [arg for arg in flags if not arg.startswith("-")]
        refused = [f for f in compat_findings(gathered, {"engine": engine}) if f["id"] == "daemon_option_refused"]
        assert bool(refused) == (not started), (engine, row_id, refused)
        quoted = []
        for finding in refused:
            assert DROPIN in finding["message"] and DROPIN in finding["remedy"], finding
            quoted.append(re.search(r': "(.*)" \(`dockerd --validate`', finding["message"]).group(1))
        # dockerd stops at the first flag it refuses: one of the findings quotes what it printed
        assert not refused or any(_norm(q) in _norm(log) for q in quoted), (quoted, log[-1500:])


def test_every_variable_row_is_tried():
    rows = {row["id"] for row in _kb.sections_copy()["daemon_options"] if row["where"] == "environment"}
    assert rows and rows == set(ENV_CASES)


@pytest.mark.parametrize("row_id", sorted(ENV_CASES))
@pytest.mark.parametrize("set_name", SETS)
def test_variable_in_a_dropin_prediction_equals_a_real_restart(engines, ansible_env, set_name, row_id):  # noqa: F811
    host, engine = lab_engine(engines, set_name)
    case = ENV_CASES[row_id]
    want = combined_prediction(engine, [use for use in case["uses"] if use[0] == "environment"])   # the variable only
    (name, value), = case["env"].items()
    with dropped_in(host, ENV_DROPIN, f"[Service]\nEnvironment={name}={value}\n") as (started, log):
        assert started == want["starts"], (engine, row_id, want, log[-1500:])
        gathered = facts(adhoc(host, ansible_env, module="docker_facts", check=True))
        mine = [(e["source"], e["value"], e["where"]) for e in gathered["docker"]["daemon_environment"]
                if e["name"] == name]
        pid = host.exec(["pidof", "dockerd"]).stdout.strip()
        assert mine == [("environment", value, f"/proc/{pid}/environ"), ("systemd_dropin", value, ENV_DROPIN)], mine
        found = [f for f in compat_findings(gathered, {"engine": engine}) if name in f["message"]]
        state = want["parts"][0]["state"]
        assert [f["id"] for f in found] == ([STATE_FINDING[state]] if state in STATE_FINDING else []), (state, found)
        assert all(ENV_DROPIN in f["message"] and ENV_DROPIN in f["remedy"] for f in found), found


def test_host_facts_are_what_the_lab_host_shows(lab_host_factory, ansible_env):
    host = lab_host_factory("new")
    gathered = facts(adhoc(host, ansible_env, module="docker_facts", check=True))["docker"]
    env = gathered["host"]

    def said(*cmd):
        res = host.exec(list(cmd), check=False)
        return res.stdout.strip() or res.stderr.strip()

    assert env["container"] == said("systemd-detect-virt", "--container")
    assert env["virtualization"] == said("systemd-detect-virt", "--vm")
    assert env["kernel_release"] == said("uname", "-r")
    version = said("iptables", "-V")
    assert f"iptables v{env['iptables_version']} ({env['iptables_backend']})" == version
    assert env["firewalld_active"] is False and said("systemctl", "is-active", "firewalld") != "active"
    loaded = {line.split()[0] for line in said("cat", "/proc/modules").splitlines() if line.strip()}
    has_lists = host.exec(["test", "-r", f"/lib/modules/{env['kernel_release']}/modules.dep"],
                          check=False).returncode == 0
    for name, state in env["kernel_modules"].items():
        if name in loaded:
            assert state == "loaded", (name, state)
        elif not has_lists:
            assert state is None, (name, state)       # not loaded, and nothing here can say more

    pid = said("pidof", "dockerd")
    argv = [a for a in said("cat", f"/proc/{pid}/cmdline").split("\0") if a]
    running = [(f["flag"], f["value"]) for f in gathered["daemon_flags"] if f["source"] == "cmdline"]
    assert argv[1:] == ["-H", "fd://", "--containerd=/run/containerd/containerd.sock"], argv
    assert running == [("--host", "fd://"), ("--containerd", "/run/containerd/containerd.sock")], running

    host.sh("update-alternatives --set iptables /usr/sbin/iptables-legacy")
    legacy = facts(adhoc(host, ansible_env, module="docker_facts", check=True))["docker"]["host"]
    assert (legacy["iptables_backend"], said("iptables", "-V")) == ("legacy", f"iptables v{env['iptables_version']} "
                                                                    "(legacy)")
