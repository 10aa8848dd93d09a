"""The upgrade role against the incidents, on real engines: a containerd upgraded under its running daemon
(stale shim, incident 2), an agent pinned to API 1.23 that the new engine would refuse (incident 4: the
client moves first and stays healthy; the naive order breaks it), and an agent speaking API 1.43 with a target
engine of 20.10 (incident 1: blocked by preflight, nothing changes). The agent is the lab's real API client
(fleetsafe-lab/agent: the docker CLI calling the Engine API at its pinned version, its healthcheck making the
call)."""
from __future__ import annotations

import json
import time

import lab
from _upgrade import checksum, drop_host_sources, packages, play, running, seed, start, versions

TOO_OLD = "client version 1.23 is too old. Minimum supported API version is 1.24"


def health(host, name: str, seconds: float = 90) -> tuple[str, str]:
    """(status, last healthcheck output) once the healthcheck has decided."""
    end = time.monotonic() + seconds
    while True:
        state = json.loads(host.exec(["docker", "inspect", name]).stdout)[0]["State"]
        h = state.get("Health") or {}
        if h.get("Status") in ("healthy", "unhealthy") or time.monotonic() > end:
            return h.get("Status"), ((h.get("Log") or [{}])[-1].get("Output") or "").strip()
        time.sleep(0.5)


def run_agent(host, tag: str) -> None:
    host.load_agent()
    host.exec(["docker", "run", "-d", "--name", "agent", "--restart", "unless-stopped", "-e", "AGENT_INTERVAL=2",
               "-v", "/var/run/docker.sock:/var/run/docker.sock", f"{lab.AGENT_IMAGE}:{tag}"])


def image_of(host, name: str) -> str:
    return host.exec(["docker", "inspect", "--format", "{{.Config.Image}}", name]).stdout.strip()


def test_stale_containerd_shim_is_healed(lab_host_factory, ansible_env):
    host = start(lab_host_factory, "mid")
    drop_host_sources(host)
    data = seed(host, stops_on_term=True)
    # containerd 2.1.9 installed while the 1.7 daemon keeps running (policy-rc.d forbids the restart)
    host.sh(f"echo '{lab.REPO_LINE}' > /etc/apt/sources.list.d/lab.list && apt-get update -qq\n"
            "printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d\n"
            "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq containerd=2.1.9+ds1-5 >/dev/null\n"
            "rm /usr/sbin/policy-rc.d /etc/apt/sources.list.d/lab.list")
    broken = host.exec(["docker", "run", "--rm", "busybox:lab", "true"], check=False)
    assert broken.returncode != 0 and "unsupported shim version (3)" in broken.stderr

    run = play(host, ansible_env, {"engine": "26.1.5", "containerd": "2.1.9"})
    assert run.rc == 0, run
    assert [s["action"] for s in run.result["steps"]] == ["restart_containerd"]
    assert host.exec(["docker", "run", "--rm", "busybox:lab", "true"]).returncode == 0
    assert versions(host) == ("26.1.5+dfsg1", "2.1.9+unknown")
    assert running(host)["keeper"] == "running" and checksum(host) == data
    # healed: nothing left to do
    again = play(host, ansible_env, {"engine": "26.1.5", "containerd": "2.1.9"})
    assert again.rc == 0 and again.result["status"] == "unchanged", again


def test_pinned_client_moves_before_the_engine_and_stays_healthy(lab_host_factory, ansible_env):
    host = start(lab_host_factory, "old")
    drop_host_sources(host)
    run_agent(host, "1.0.0")
    assert health(host, "agent") == ("healthy", "engine 20.10.24+dfsg1 answers API 1.23")

    run = play(host, ansible_env, "mid", upgrade_knowledge=lab.agent_knowledge())
    assert run.rc == 0, run
    steps = [(s["action"], s["component"]) for s in run.result["steps"]]
    assert steps[0] == ("upgrade_client", "client:agent")
    assert steps.index(("upgrade_client", "client:agent")) < steps.index(("restart_engine", "engine"))
    assert run.result["steps"][0]["result"]["moved"][0]["to"] == f"{lab.AGENT_IMAGE}:2.0.0"
    # verify waited for the moved agent to be healthy on the new engine
    assert image_of(host, "agent") == f"{lab.AGENT_IMAGE}:2.0.0"
    assert health(host, "agent") == ("healthy", "engine 26.1.5+dfsg1 answers API 1.24")
    assert run.result["verify"]["containers_running"] == ["agent"]


def test_client_no_release_of_which_works_on_both_engines_moves_right_after_the_engine(lab_host_factory, ansible_env):
    """Without the 2.x release (API 1.24), no agent works on both 20.10 and 26.1: it moves right after the
    engine, to 3.0.0 (API 1.43), and is down only in between."""
    host = start(lab_host_factory, "old")
    drop_host_sources(host)
    run_agent(host, "1.0.0")
    assert health(host, "agent") == ("healthy", "engine 20.10.24+dfsg1 answers API 1.23")
    rows = [r for r in lab.agent_knowledge()["clients"] if r["api_version"] != "1.24"]

    run = play(host, ansible_env, "mid", upgrade_knowledge={"clients": rows})
    assert run.rc == 0, run
    steps = [(s["action"], s["component"]) for s in run.result["steps"]]
    assert steps.index(("restart_engine", "engine")) < steps.index(("upgrade_client", "client:agent")), steps
    moved = run.result["steps"][steps.index(("upgrade_client", "client:agent"))]["result"]["moved"]
    assert [(m["name"], m["to"]) for m in moved] == [("agent", f"{lab.AGENT_IMAGE}:3.0.0")]
    assert image_of(host, "agent") == f"{lab.AGENT_IMAGE}:3.0.0"
    assert health(host, "agent") == ("healthy", "engine 26.1.5+dfsg1 answers API 1.43")
    assert run.result["verify"]["containers_running"] == ["agent"]


def test_naive_order_breaks_the_pinned_client(lab_host_factory):
    """The companion: the engine first, the client left as it is -> the client's calls fail."""
    host = start(lab_host_factory, "old")
    run_agent(host, "1.0.0")
    assert health(host, "agent")[0] == "healthy"
    # what a naive role does: the mid set's engine and containerd in one transaction, then restarts
    host.sh("DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io=26.1.5+dfsg1-9+deb13u1+b1 "
            "docker-cli=26.1.5+dfsg1-9+deb13u1+b1 containerd=1.7.24~ds1-6+deb13u1 >/dev/null\n"
            "systemctl restart containerd docker")
    assert versions(host)[0] == "26.1.5+dfsg1"
    status, output = health(host, "agent")
    deadline = time.monotonic() + 60
    while status != "unhealthy" and time.monotonic() < deadline:
        time.sleep(1)
        status, output = health(host, "agent")
    assert status == "unhealthy" and TOO_OLD in output


def test_client_too_new_for_the_target_engine_is_blocked_and_nothing_changes(lab_host_factory, ansible_env):
    host = start(lab_host_factory, "mid")
    drop_host_sources(host)
    run_agent(host, "3.0.0")  # speaks API 1.43: Engine 20.10 serves at most 1.41
    assert health(host, "agent") == ("healthy", "engine 26.1.5+dfsg1 answers API 1.43")
    before = packages(host)
    pid = host.exec(["systemctl", "show", "-p", "MainPID", "--value", "docker"]).stdout.strip()
    agent_id = host.exec(["docker", "inspect", "--format", "{{.Id}}", "agent"]).stdout

    # the knowledge base knows this release speaks 1.43, and of no release that works with both engines:
    # nothing the role can do but stop
    rows = [r for r in lab.agent_knowledge()["clients"] if r["api_version"] == "1.43"]
    run = play(host, ansible_env, "old", upgrade_knowledge={"clients": rows})
    assert run.rc != 0
    assert run.result.get("status") == "blocked", run
    assert any("1.43" in b["message"] for b in run.result["blockers"]), run.result["blockers"]
    assert "remedy" in run.out
    assert packages(host) == before
    assert host.exec(["systemctl", "show", "-p", "MainPID", "--value", "docker"]).stdout.strip() == pid
    assert host.exec(["docker", "inspect", "--format", "{{.Id}}", "agent"]).stdout == agent_id
    assert health(host, "agent")[0] == "healthy"
