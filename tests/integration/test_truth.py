"""What compat_findings (the filter users run) says against what real engines do (issue 4, "Truth").

Every judgement here is the production path: the host's real facts (container_engine_facts) go through
compat_findings, and its findings are compared with the real daemon.

- For each engine the lab runs and every API version 1.12..1.55: a client declared at that version gets
  client_api_too_new / client_api_too_old exactly when the real daemon refuses a request pinned at that
  version, and the finding quotes the daemon's own error message.
- Minimum-API overrides: min_api_override_invalid / _unsupported exactly when a real restart of the daemon
  with the override in a systemd drop-in (the ECS-agent incident) or in daemon.json fails, and
  min_api_override_ignored exactly when the restarted daemon does not apply it.
- containerd: the prediction made from the real facts of a stale daemon equals the real outcome of
  `docker run` (incident 2), before and after the restart the finding asks for.
"""
from __future__ import annotations

import json
import uuid

import lab
import pytest
from _facts import adhoc, ask
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._compat_findings import compat_findings
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._predict import engine_api_range

# module-scoped lab hosts: every test of this file runs on one worker (make integration: --dist loadgroup)
pytestmark = pytest.mark.xdist_group("test_truth")

SETS = ["old", "mid", "new"]
API_VERSIONS = [f"1.{minor}" for minor in range(12, 56)]
OVERRIDES = ["1.12", "1.17", "1.23", "1.24", "1.30"]
DROPIN = "/etc/systemd/system/docker.service.d/fleetsafe-min-api.conf"


@pytest.fixture(scope="module")
def engines(lab_ready):
    """One lab host per version set, shared by this module's tests, started on first use."""
    hosts: dict[str, lab.LabHost] = {}
    tag = uuid.uuid4().hex[:6]

    def get(set_name: str) -> lab.LabHost:
        if set_name not in hosts:
            host = lab.LabHost(f"fleetsafe-truth-{set_name}-{tag}")
            hosts[set_name] = host
            host.start(set_name)
        return hosts[set_name]

    yield get
    for host in hosts.values():
        host.remove()


def restart_docker(host: lab.LabHost) -> tuple[bool, dict | None, str]:
    """Restart dockerd for real; (started, unversioned /version or None, the daemon's log of this start)."""
    host.sh("systemctl daemon-reload; systemctl reset-failed docker.service docker.socket || true")
    since = host.exec(["date", "+%Y-%m-%d %H:%M:%S"]).stdout.strip()
    started = host.exec(["systemctl", "restart", "docker"], check=False).returncode == 0
    journal = host.exec(["journalctl", "-u", "docker", "--since", since, "--no-pager", "-o", "cat"],
                        check=False).stdout
    version = ask(host, "/version")["/version"][1] if started else None
    return started, version, journal


def client_findings(findings: list, name: str) -> list:
    return [f for f in findings if f["component"] == f"client:{name}" and f["id"].startswith("client_api_too")]


@pytest.mark.parametrize("set_name", SETS)
def test_api_accept_reject_matches_the_real_engine(engines, ansible_env, set_name):
    host = engines(set_name)
    answers = ask(host, "/version", *[f"/v{v}/version" for v in API_VERSIONS])
    real = answers["/version"][1]
    rng = engine_api_range(real["Version"])
    assert (rng["max"], rng["min"]) == (real["ApiVersion"], real["MinAPIVersion"])
    # one client per API version, declared the way operators declare theirs; the host's real facts
    declared = [{"name": f"api-{v}", "api_version": v} for v in API_VERSIONS]
    facts = adhoc(host, ansible_env, args={"declared": declared})["ansible_facts"]["container_engine"]
    findings = compat_findings(facts)
    mismatches = []
    for v in API_VERSIONS:
        status, body = answers[f"/v{v}/version"]
        refused = client_findings(findings, f"api-{v}")
        if bool(refused) == (status == 200):
            mismatches.append((v, [f["id"] for f in refused], status, body))
            continue
        if status != 200:
            message = body["message"] if isinstance(body, dict) else body.strip()  # 28.x answers plain text
            assert len(refused) == 1 and message in refused[0]["message"], (message, refused)
    assert mismatches == [], f"engine {real['Version']}: compat_findings != reality for {mismatches}"
    accepted = [v for v in API_VERSIONS if answers[f"/v{v}/version"][0] == 200]
    assert (accepted[0], accepted[-1]) == (real["MinAPIVersion"], real["ApiVersion"])


def override_findings(host: lab.LabHost, ansible_env: dict, engine: str) -> dict:
    """compat_findings on the host's real facts, the override written but dockerd not restarted yet, with the
    installed engine as the target (what its next start runs): finding id -> messages, for the minimum-API findings."""
    facts = adhoc(host, ansible_env, args={"gather": ["docker"]})["ansible_facts"]["container_engine"]
    found = {}
    for f in compat_findings(facts, {"engine": engine}):
        if f["id"].startswith("min_api_override") and f["component"] == "engine":
            found.setdefault(f["id"], []).append(f["message"])
    return found


@pytest.mark.parametrize("set_name", SETS)
def test_min_api_override_findings_match_a_real_start(engines, ansible_env, set_name):
    host = engines(set_name)
    engine = ask(host, "/version")["/version"][1]
    default_min = engine["MinAPIVersion"]
    refusing = ("min_api_override_invalid", "min_api_override_unsupported")
    try:
        for value in OVERRIDES:
            host.sh(f"mkdir -p {DROPIN.rsplit('/', 1)[0]}; "
                    f"printf '[Service]\\nEnvironment=DOCKER_MIN_API_VERSION={value}\\n' > {DROPIN}; "
                    "systemctl daemon-reload")
            judged = override_findings(host, ansible_env, engine["Version"])
            refused = [m for fid in refusing for m in judged.get(fid, [])]
            started, version, journal = restart_docker(host)
            assert (not refused) == started, (value, judged, journal[-600:])
            if started:
                applies = "min_api_override_ignored" not in judged
                assert version["MinAPIVersion"] == (value if applies else default_min), (value, judged)
            else:
                expected = f"invalid DOCKER_MIN_API_VERSION: minimum supported API version is {default_min}: {value}"
                assert expected in journal, journal[-600:]
                assert any(expected in m for m in refused), refused  # the finding quotes dockerd's refusal
                # back to a running daemon, so that the next value is judged on a host that answers
                host.sh(f"rm -f {DROPIN}; systemctl daemon-reload")
                assert restart_docker(host)[0]
        host.sh(f"rm -f {DROPIN}; systemctl daemon-reload")
        restart_docker(host)
        # min-api-version in daemon.json (read from 29.0; an unknown directive before that)
        host.sh("echo '{\"min-api-version\": \"1.24\"}' > /etc/docker/daemon.json")
        judged = override_findings(host, ansible_env, engine["Version"])
        refused = [m for fid in refusing for m in judged.get(fid, [])]
        started, version, journal = restart_docker(host)
        assert (not refused) == started, (judged, journal[-600:])
        if not started:
            assert "min-api-version" in journal, journal[-600:]
    finally:
        host.sh(f"rm -f {DROPIN} /etc/docker/daemon.json")
        started, version, unused = restart_docker(host)
        assert started and version["MinAPIVersion"] == default_min


def run_busybox(host: lab.LabHost, name: str) -> tuple[bool, str]:
    res = host.exec(["docker", "run", "--name", name, "busybox:lab", "true"], check=False)
    host.exec(["docker", "rm", "-f", name], check=False)
    return res.returncode == 0, res.stderr


def test_containerd_prediction_matches_the_stale_daemon_outcome(lab_host_factory, ansible_env):
    """containerd 2.1.9 installed under a running 1.7.24 daemon: the findings computed from the real
    facts say new containers will fail with the shim error, and they do; after the restart the finding
    asks for, no blocker is predicted and containers start."""
    host = lab_host_factory("mid")
    host.load_busybox()
    assert run_busybox(host, "before")[0]
    host.install_set("new", restart=False, no_restart_policy=True)
    facts = adhoc(host, ansible_env)["ansible_facts"]["container_engine"]
    assert facts["containerd"]["running_version"].startswith("1.7.24")
    assert facts["containerd"]["installed_version"].startswith("2.1.9")
    findings = compat_findings(facts)
    shim = [f for f in findings if f["id"] == "containerd_shim_protocol_mismatch"]
    assert shim and shim[0]["severity"] == "blocker", json.dumps(findings, indent=1)
    started, stderr = run_busybox(host, "during")
    assert not started
    assert "unsupported shim version (3): not implemented" in stderr
    assert "unsupported shim version (3)" in shim[0]["message"]

    host.sh("systemctl restart containerd")
    facts = adhoc(host, ansible_env)["ansible_facts"]["container_engine"]
    findings = compat_findings(facts)
    assert not [f for f in findings if f["component"] == "containerd" and f["severity"] == "blocker"], findings
    assert facts["containerd"]["restart_required"] is False
    assert run_busybox(host, "after")[0]
