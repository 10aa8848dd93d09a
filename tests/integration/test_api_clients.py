"""The lab agent (a real Engine API client) and the api_clients role on real engines.

Incident 4 in the lab: an agent pinned to API 1.23 works on Engine 20.10 and breaks when the engine moves
to 26.1 first (the naive order); the api_clients role moves it to a release both engines accept before
the engine changes, keeping its configuration, and it stays healthy across the engine upgrade."""
from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path

import lab
from _api_clients import KEPT, config_changes

ROOT = Path(__file__).resolve().parents[2]

PLAY = """
- hosts: all
  gather_facts: false
  roles:
    - role: fleetsafe.container_engine.api_clients
      vars:
        api_clients_knowledge: "{{ fleetsafe_lab_knowledge }}"
        api_clients_wait_timeout: 60
  post_tasks:
    - name: Hand the role's result to the test
      ansible.builtin.copy:
        content: "{{ api_clients_result | to_json }}"
        dest: "{{ result_file }}"
        mode: "0600"
      delegate_to: localhost
      check_mode: false
      changed_when: false  # the test's own bookkeeping, not a change on the host
"""

TOO_OLD = ("client version 1.23 is too old. Minimum supported API version is 1.24, "
           "please upgrade your client to a newer version")
TOO_NEW = "client version 1.43 is too new. Maximum supported API version is 1.41"


def play(host: lab.LabHost, env: dict, extra: dict, check: bool = False) -> subprocess.CompletedProcess:
    """Run the role; res.result is api_clients_result when the play got to its end, else None."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "inv.yml").write_text(lab.inventory_text([host.name]))
        (Path(tmp) / "play.yml").write_text(PLAY)
        (Path(tmp) / "vars.json").write_text(json.dumps(dict(extra, result_file=f"{tmp}/result.json")))
        cmd = [str(ROOT / ".venv/bin/ansible-playbook"), "-i", f"{tmp}/inv.yml", "-e", f"@{tmp}/vars.json",
               f"{tmp}/play.yml"] + (["--check"] if check else [])
        res = subprocess.run(cmd, env=dict(env, ANSIBLE_NOCOLOR="1"), capture_output=True, text=True, check=False)
        result = Path(tmp) / "result.json"
        res.result = json.loads(result.read_text()) if result.exists() else None
        return res


def inspect(host: lab.LabHost, name: str) -> dict:
    return json.loads(host.exec(["docker", "inspect", name]).stdout)[0]


def _stamp(ts: str) -> str:
    """Docker's RFC 3339 times (0 to 9 fractional digits) in one fixed width, so they compare as strings."""
    base, _dot, frac = ts.rstrip("Z").partition(".")
    return f"{base}.{(frac + '0' * 9)[:9]}"


def settled_health(host: lab.LabHost, name: str, seconds: float = 90,
                   not_started_at: str | None = None) -> tuple[str, str]:
    """(status, last healthcheck output) once the healthcheck of the running container has decided.

    Only a check made since the container last started counts (after an engine restart, inspect may still
    show the verdict from before it); not_started_at: the StartedAt the container had before a restart."""
    end = time.monotonic() + seconds
    while True:
        state = inspect(host, name)["State"]
        health = state.get("Health") or {}
        log = health.get("Log") or [{}]
        fresh = (state.get("Running") and state.get("StartedAt") != not_started_at
                 and _stamp(log[-1].get("Start") or "0") >= _stamp(state["StartedAt"]))
        if (fresh and health.get("Status") in ("healthy", "unhealthy")) or time.monotonic() > end:
            return health.get("Status"), (log[-1].get("Output") or "").strip()
        time.sleep(0.5)


def run_agent(host: lab.LabHost, name: str, tag: str) -> None:
    host.exec(["docker", "run", "-d", "--name", name, "--restart", "unless-stopped",
               "-v", "/var/run/docker.sock:/var/run/docker.sock", f"fleetsafe-lab/agent:{tag}"])


def upgrade_engine(host: lab.LabHost, set_name: str) -> dict:
    """The engine alone, as a naive upgrade does it (packages, then a restart of both daemons).

    Returns each container's StartedAt from before, for settled_health(not_started_at=...)."""
    names = host.exec(["docker", "ps", "-q"]).stdout.split()
    started = {c["Name"].lstrip("/"): c["State"]["StartedAt"]
               for c in json.loads(host.exec(["docker", "inspect", *names]).stdout)} if names else {}
    host.install_set(set_name)
    host.sh("until docker info >/dev/null 2>&1; do sleep 0.2; done")
    return started


def test_engine_first_breaks_agent_1_0_while_2_0_works_on_every_engine(lab_host_factory):
    """The naive order, on real engines: each agent release against 20.10.24, 26.1.5 and 28.5.2."""
    host = lab_host_factory("old")
    host.load_agent()
    for tag in ("1.0.0", "2.0.0", "3.0.0"):
        run_agent(host, f"agent-{tag}", tag)
    seen = {}
    for set_name in ("old", "mid", "new"):
        before = upgrade_engine(host, set_name) if set_name != "old" else {}
        engine = host.exec(["docker", "version", "--format", "{{.Server.Version}}"]).stdout.strip()
        seen[engine] = {tag: settled_health(host, f"agent-{tag}", not_started_at=before.get(f"agent-{tag}"))
                        for tag in ("1.0.0", "2.0.0", "3.0.0")}
    assert list(seen) == ["20.10.24+dfsg1", "26.1.5+dfsg1", "28.5.2+dfsg4"]
    old, mid, new = (seen[engine] for engine in seen)
    assert old["1.0.0"][0] == "healthy" and "answers API 1.23" in old["1.0.0"][1]
    assert old["2.0.0"][0] == "healthy" and "answers API 1.24" in old["2.0.0"][1]
    assert old["3.0.0"][0] == "unhealthy" and TOO_NEW in old["3.0.0"][1]
    for engine in (mid, new):
        assert engine["1.0.0"][0] == "unhealthy" and TOO_OLD in engine["1.0.0"][1]
        assert engine["2.0.0"][0] == "healthy" and "answers API 1.24" in engine["2.0.0"][1]
        assert engine["3.0.0"][0] == "healthy" and "answers API 1.43" in engine["3.0.0"][1]
    # the agent's own loop saw the same refusal (its log, not only its healthcheck)
    assert TOO_OLD in host.exec(["docker", "logs", "agent-1.0.0"]).stdout


def test_role_moves_the_agent_first_keeping_its_config_and_it_stays_healthy_across_the_engine_upgrade(
        lab_host_factory, ansible_env):
    host = lab_host_factory("old")
    host.load_agent()
    host.load_busybox()
    host.sh("docker network create agentnet >/dev/null\n"
            "docker volume create agentdata >/dev/null\n"
            "docker run --rm -v agentdata:/data busybox:lab sh -c 'echo precious > /data/file'\n"
            "docker run -d --name agent --restart unless-stopped -e TEAM=ops -e AGENT_INTERVAL=3 "
            "-v agentdata:/data -v /var/run/docker.sock:/var/run/docker.sock --label team=ops -p 8080:80 "
            "--network agentnet --network-alias ag --user 0:0 --stop-timeout 5 fleetsafe-lab/agent:1.0.0 >/dev/null\n"
            # a socket client the knowledge base does not know: never touched
            "docker run -d --name stranger -v /var/run/docker.sock:/var/run/docker.sock busybox:lab sleep 100000 "
            ">/dev/null")
    assert settled_health(host, "agent")[0] == "healthy"
    before = inspect(host, "agent")
    stranger = inspect(host, "stranger")

    # check mode: prints the move, changes nothing
    res = play(host, ansible_env, {"api_clients_target": "26.1.5"}, check=True)
    assert res.returncode == 0, res.stdout[-4000:]
    assert "fleetsafe-lab/agent:1.0.0 -> fleetsafe-lab/agent:2.0.0" in res.stdout
    assert "changed=1" in res.stdout
    assert [(m["name"], m["image"]) for m in res.result["planned"]] == [("agent", "fleetsafe-lab/agent:2.0.0")]
    assert res.result["moved"] == []
    assert inspect(host, "agent")["Id"] == before["Id"]

    res = play(host, ansible_env, {"api_clients_target": "26.1.5"})
    assert res.returncode == 0, res.stdout[-4000:]
    after = inspect(host, "agent")
    assert after["Id"] != before["Id"] and after["Config"]["Image"] == "fleetsafe-lab/agent:2.0.0"
    assert config_changes(before, after) == {}
    assert KEPT["env"](after) == ["AGENT_INTERVAL=3", "TEAM=ops"]
    assert KEPT["aliases"](after) == ["ag"] and KEPT["user"](after) == "0:0"
    assert after["Config"]["Labels"]["org.opencontainers.image.version"] == "2.0.0"  # the new image's own
    assert settled_health(host, "agent") == ("healthy", "engine 20.10.24+dfsg1 answers API 1.24")
    assert inspect(host, "stranger")["Id"] == stranger["Id"]
    assert inspect(host, "stranger")["State"]["StartedAt"] == stranger["State"]["StartedAt"]
    assert host.exec(["docker", "ps", "-a", "--format", "{{.Names}}"]).stdout.split() == ["agent", "stranger"]
    assert res.result["untouched"] == ["stranger"] and res.result["blockers"] == []
    assert [(m["name"], m["from"], m["to"]) for m in res.result["moved"]] == [
        ("agent", "fleetsafe-lab/agent:1.0.0", "fleetsafe-lab/agent:2.0.0")]
    assert res.result["moved"][0]["seconds_down"] > 0

    # idempotent: the agent is on a release the target accepts
    res = play(host, ansible_env, {"api_clients_target": "26.1.5"})
    assert res.returncode == 0 and "changed=0" in res.stdout, res.stdout[-4000:]
    assert inspect(host, "agent")["Id"] == after["Id"]

    # now the engine: the moved agent comes back by its restart policy and stays healthy on 26.1.5
    before_upgrade = upgrade_engine(host, "mid")
    assert settled_health(host, "agent", not_started_at=before_upgrade["agent"]) == (
        "healthy", "engine 26.1.5+dfsg1 answers API 1.24")
    assert host.exec(["docker", "run", "--rm", "-v", "agentdata:/data", "busybox:lab",
                      "cat", "/data/file"]).stdout == "precious\n"

    # a move that does not become healthy is put back: an API pin the engine refuses
    res = play(host, ansible_env, {"api_clients_moves": [
        {"name": "agent", "tag": "2.0.0", "env": {"DOCKER_API_VERSION": "1.23"}}]})
    assert res.returncode != 0
    assert "agent did not become healthy on fleetsafe-lab/agent:2.0.0" in res.stdout
    assert TOO_OLD in res.stdout and "rolled back: agent runs fleetsafe-lab/agent:2.0.0 again (healthy)" in res.stdout
    back = inspect(host, "agent")
    assert back["Id"] == after["Id"] and back["State"]["Running"]
    assert settled_health(host, "agent")[0] == "healthy"
    assert host.exec(["docker", "ps", "-a", "--format", "{{.Names}}"]).stdout.split() == ["agent", "stranger"]


def test_blockers_and_bad_input_stop_the_role_before_any_change(lab_host_factory, ansible_env):
    host = lab_host_factory("old")
    host.load_agent()
    host.load_busybox()
    # a client the knowledge base does not know, pinned in its environment to an API 26.1 refuses
    host.sh("docker run -d --name pinned -e DOCKER_API_VERSION=1.23 -v /var/run/docker.sock:/var/run/docker.sock "
            "busybox:lab sleep 100000 >/dev/null")
    # the agent with a command, entrypoint and healthcheck of its own, and an anonymous volume holding data
    host.sh("docker run -d --name agent -v /var/run/docker.sock:/var/run/docker.sock -v /cache --entrypoint /bin/sh "
            "--health-cmd /usr/local/bin/fleetsafe-agent-health --health-interval 1s --health-retries 4 "
            "fleetsafe-lab/agent:1.0.0 -c 'exec /usr/local/bin/fleetsafe-agent' >/dev/null\n"
            "docker exec agent sh -c 'echo kept > /cache/file'")
    assert settled_health(host, "agent")[0] == "healthy"
    before = inspect(host, "agent")
    ids = {name: inspect(host, name)["Id"] for name in ("pinned", "agent")}

    res = play(host, ansible_env, {"api_clients_target": "26.1.5"})
    assert res.returncode != 0
    assert "api_clients: 1 client(s) the target engine 26.1.5 would refuse" in res.stdout
    assert "[pinned]" in res.stdout and "client version 1.23 is too old" in res.stdout and "Remedy:" in res.stdout
    assert {name: inspect(host, name)["Id"] for name in ids} == ids

    # with api_clients_fail_on_blockers=false the agent moves, the blocker is reported
    res = play(host, ansible_env, {"api_clients_target": "26.1.5", "api_clients_fail_on_blockers": False})
    assert res.returncode == 0, res.stdout[-4000:]
    assert inspect(host, "agent")["Config"]["Image"] == "fleetsafe-lab/agent:2.0.0"
    assert inspect(host, "pinned")["Id"] == ids["pinned"]
    assert [(b["client"], b["finding"]) for b in res.result["blockers"]] == [("pinned", "client_api_too_old")]
    assert [m["name"] for m in res.result["moved"]] == ["agent"] and res.result["untouched"] == ["pinned"]
    after = inspect(host, "agent")
    for key in ("Entrypoint", "Cmd", "Healthcheck"):
        assert after["Config"][key] == before["Config"][key], key
    assert after["Config"]["Healthcheck"]["Interval"] == 1_000_000_000
    assert [(m["Name"], m["Destination"]) for m in after["Mounts"] if m["Destination"] == "/cache"] == [
        (m["Name"], "/cache") for m in before["Mounts"] if m["Destination"] == "/cache"]
    assert host.exec(["docker", "exec", "agent", "cat", "/cache/file"]).stdout == "kept\n"
    assert settled_health(host, "agent")[0] == "healthy"

    for extra, message in (
            ({"api_clients_target": "twenty-six"}, "api_clients_target=twenty-six is not an engine version"),
            ({"api_clients_moves": [{"name": "ghost", "tag": "2.0.0"}]},
             "api_clients_moves names ghost, not a container that mounts the Docker socket"),
            ({"api_clients_moves": [{"name": "agent", "tag": "9.9.9"}]},
             "image 'fleetsafe-lab/agent:9.9.9' is not on this host"),
            ({"api_clients_moves": [{"name": "agent"}]}, "need a name and exactly one of image or tag")):
        now = {name: inspect(host, name)["Id"] for name in ids}
        res = play(host, ansible_env, dict(extra, api_clients_fail_on_blockers=False))
        assert res.returncode != 0 and message in res.stdout, (extra, res.stdout[-3000:])
        assert "Traceback" not in res.stdout + res.stderr
        assert {name: inspect(host, name)["Id"] for name in ids} == now

    # a client that was not running is recreated from its new release and left as it was: not running
    host.sh("docker create --name idle -v /var/run/docker.sock:/var/run/docker.sock fleetsafe-lab/agent:1.0.0 "
            ">/dev/null")
    res = play(host, ansible_env, {"api_clients_moves": [{"name": "idle", "tag": "2.0.0"}]})
    assert res.returncode == 0, res.stdout[-4000:]
    idle = inspect(host, "idle")
    assert idle["Config"]["Image"] == "fleetsafe-lab/agent:2.0.0" and idle["State"]["Status"] == "created"
    assert [(m["name"], m["seconds_down"]) for m in res.result["moved"]] == [("idle", 0.0)]

    # an explicit move to another repository, which no knowledge-base row covers: judged on the host after the move
    host.sh("docker tag fleetsafe-lab/agent:2.0.0 acme/agent:2 && docker rm -f pinned >/dev/null")
    run_agent(host, "legacy", "1.0.0")
    res = play(host, ansible_env, {"api_clients_target": "26.1.5",
                                   "api_clients_moves": [{"name": "legacy", "image": "acme/agent:2"}]})
    assert res.returncode == 0, res.stdout[-4000:]
    assert [(m["name"], m["to"]) for m in res.result["moved"]] == [("legacy", "acme/agent:2")]
    assert res.result["blockers"] == []
    assert settled_health(host, "legacy") == ("healthy", "engine 20.10.24+dfsg1 answers API 1.24")
