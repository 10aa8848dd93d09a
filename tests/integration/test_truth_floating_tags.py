"""Clients on floating image tags, on a real engine: what clients_facts learns about the release they run, and
whether the findings built on it match what the real clients do (tests/integration/_floating.py sets the host up).

One lab host at the old set (Engine 20.10.24) runs the lab's real API client, fleetsafe-lab/agent (it calls the
Engine API at its release's version; its healthcheck command makes that call), on tags that name no release:
one whose image carries a version label, one pushed to a registry in the host, one that nothing tells about; and a
busybox the knowledge base does not know. The findings against the running engine are checked against the agents'
own calls; then the host is upgraded to the mid set (26.1.5), the target the findings were asked about, and the
agents' calls made again.
"""
from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import _floating as F
import lab
import pytest
from _facts import adhoc, facts
from ansible_collections.fleetsafe.container_engine.plugins.filter.compat_findings import FilterModule

pytestmark = pytest.mark.xdist_group("test_truth_floating_tags")

ROOT = Path(__file__).resolve().parents[2]
compat_findings = FilterModule().filters()["compat_findings"]
KNOWLEDGE = F.agent_knowledge()
CLIENT_IDS = ("client_api_too_old", "client_api_too_new", "client_floating_tag_some_releases_break",
              "client_api_unknown", "client_api_unknown_min_api_raised")


@pytest.fixture(scope="module")
def env():
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / "build" / "collections"), ANSIBLE_FORCE_COLOR="0")


@pytest.fixture(scope="module")
def host(lab_ready):
    made = lab.LabHost(f"fleetsafe-floating-{uuid.uuid4().hex[:6]}")
    try:
        made.start("old")
        F.setup(made)
        yield made
    finally:
        made.remove()


@pytest.fixture(scope="module")
def gathered(host, env):
    """The engine's and the clients' facts, the registry in the host named (the aggregate module takes the clients
    module's options)."""
    result = adhoc(host, env, module="container_engine_facts",
                   args={"gather": ["docker", "clients"], "registries": [{"url": F.REGISTRY_URL}],
                         "host_processes": False})
    return facts(result)


def agent_call(host: lab.LabHost, name: str, timeout: float = 60) -> tuple[bool, str]:
    """(answered, output) of the agent's own API call (its healthcheck command, at its release's API version), made
    in the running container (waited for up to `timeout` s after an engine restart)."""
    deadline = time.monotonic() + timeout
    while True:
        res = host.exec(["docker", "exec", name, "/usr/local/bin/fleetsafe-agent-health"], check=False)
        if not any(s in res.stderr for s in ("is not running", "is restarting")) or time.monotonic() > deadline:
            return res.returncode == 0, res.stdout + res.stderr
        time.sleep(1)


def by_client(found: list) -> dict:
    result = {}
    for finding in found:
        if finding["id"] in CLIENT_IDS:
            result.setdefault(finding["component"].split(":", 1)[1], []).append(finding)
    return result


def test_facts_learn_the_release_from_the_label_and_the_registry(host, env, gathered):
    mounts = {m["name"]: m for m in gathered["clients"]["socket_mounts"]}
    assert {name: mounts[name]["image"] for name in F.CLIENTS} == F.CLIENTS
    assert mounts["fs-labelled"]["version_learned"] == {"version": "3.0.0", "source": f"label:{F.OCI}"}
    assert mounts["fs-pushed"]["version_learned"] == {
        "version": "2.0.0", "source": f"registry:{F.PUSHED}:2.0.0"}
    assert mounts["fs-stable"]["version_learned"] is None
    assert mounts["fs-thing"]["version_learned"] is None
    # no registry named: none is asked, the label still tells
    plain_result = adhoc(host, env, module="clients_facts", args={"host_processes": False})
    plain = {m["name"]: m for m in facts(plain_result)["clients"]["socket_mounts"]}
    assert plain["fs-pushed"]["version_learned"] is None
    assert plain["fs-labelled"]["version_learned"] == mounts["fs-labelled"]["version_learned"]
    # the credentials' option is checked before anything is asked
    bad = adhoc(host, env, module="clients_facts", args={"registries": [{"url": "http://u:secret@127.0.0.1:5000"}]})
    assert bad.get("failed") and "registries[0].url must not carry user information" in bad["msg"]
    assert "secret" not in json.dumps(bad)


def test_findings_on_the_running_engine_are_what_the_agents_do(host, gathered):
    found = by_client(compat_findings({"container_engine": gathered}, {}, KNOWLEDGE))
    # 3.0.0, learned from its label, speaks 1.43: Engine 20.10 serves 1.41 at most, and the real agent is refused
    [labelled] = found.pop("fs-labelled")
    assert (labelled["id"], labelled["severity"]) == ("client_api_too_new", "blocker")
    assert f"learned from its image label {F.OCI}" in labelled["message"]
    answered, output = agent_call(host, "fs-labelled")
    assert not answered and "client version 1.43 is too new. Maximum supported API version is 1.41" in output
    # 2.0.0, learned from the registry, speaks 1.24: no finding, and the agent works
    assert "fs-pushed" not in found
    assert agent_call(host, "fs-pushed")[0]
    # nothing tells fs-stable's release: some releases break (3.0.0), so a warning; the one it runs works
    [stable] = found.pop("fs-stable")
    assert (stable["id"], stable["severity"]) == ("client_floating_tag_some_releases_break", "warning")
    assert ">=3.0.0" in stable["message"] and ">=1.0.0,<3.0.0" in stable["remedy"]
    assert agent_call(host, "fs-stable")[0]
    [thing] = found.pop("fs-thing")
    assert (thing["id"], thing["severity"]) == ("client_api_unknown", "info")
    assert found == {}


def test_findings_against_a_target_hold_after_the_upgrade(host, gathered):
    facts_in = {"container_engine": gathered}
    on_29 = by_client(compat_findings(facts_in, {"engine": "29.0.0"}, KNOWLEDGE))
    assert [f["id"] for f in on_29["fs-labelled"]] == ["client_api_too_old"]       # 1.43 < 29.0's minimum 1.44
    [stable] = on_29["fs-stable"]                                                    # every release breaks on 29.0
    assert (stable["id"], stable["severity"]) == ("client_api_too_old", "blocker") and "floats" in stable["message"]
    assert [f["id"] for f in on_29["fs-thing"]] == ["client_api_unknown_min_api_raised"]

    found = by_client(compat_findings(facts_in, {"engine": "26.1.5"}, KNOWLEDGE))
    assert "fs-labelled" not in found and "fs-pushed" not in found
    [stable] = found["fs-stable"]
    assert stable["id"] == "client_floating_tag_some_releases_break" and ">=1.0.0,<2.0.0" in stable["message"]
    [thing] = found["fs-thing"]
    assert (thing["id"], thing["severity"]) == ("client_api_unknown_min_api_raised", "warning")
    assert "from 1.12" in thing["message"] and "to 1.24" in thing["message"]
    # the target for real: Engine 26.1.5 answers the agents the findings let through
    host.install_set("mid")
    assert host.exec(["docker", "version", "--format", "{{.Server.Version}}"]).stdout.startswith("26.1.5")
    for name in ("fs-labelled", "fs-pushed", "fs-stable"):
        answered, output = agent_call(host, name)
        assert answered and "engine 26.1.5" in output, (name, output)
