"""Verify on the real lab host: the agent moved from 1.0.0 (API 1.23) to 2.0.0 (API 1.24) with its configuration
kept and healthy against its engine; the client nobody knows untouched; the volume's data intact."""
import json
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests" / "integration"))
from _api_clients import KEPT, config_changes  # noqa: E402


def inspect(host, name):
    return json.loads(host.check_output(f"docker inspect {name}"))[0]


@pytest.fixture(scope="module")
def before(host):
    return {name: json.loads(host.file(f"/root/{name}-before.json").content_string)[0]
            for name in ("agent", "stranger")}


def test_agent_moved_to_2_0_0_keeping_its_config(host, before):
    after = inspect(host, "agent")
    assert before["agent"]["Config"]["Image"] == "fleetsafe-lab/agent:1.0.0"
    assert after["Config"]["Image"] == "fleetsafe-lab/agent:2.0.0"
    assert after["Id"] != before["agent"]["Id"]
    assert config_changes(before["agent"], after) == {}
    assert KEPT["env"](after) == ["AGENT_INTERVAL=3", "TEAM=ops"]


def test_agent_healthy_its_own_api_call_answered(host):
    end = time.monotonic() + 60
    while inspect(host, "agent")["State"]["Health"]["Status"] == "starting" and time.monotonic() < end:
        time.sleep(0.5)
    health = inspect(host, "agent")["State"]["Health"]
    assert health["Status"] == "healthy"
    assert health["Log"][-1]["Output"].strip() == "engine 20.10.24+dfsg1 answers API 1.24"


def test_unknown_client_untouched(host, before):
    now = inspect(host, "stranger")
    assert now["Id"] == before["stranger"]["Id"]
    assert now["State"]["StartedAt"] == before["stranger"]["State"]["StartedAt"]
    assert host.check_output("docker ps -a --format '{{.Names}}'").split() == ["agent", "stranger"]


def test_volume_data_intact(host):
    assert host.check_output("docker run --rm -v agentdata:/data busybox:lab cat /data/file") == "precious"
