"""API clients that Compose or a swarm manage, on a real engine: the lab agent (a real API client pinned to 1.23) run by
a Compose v2 project (Debian's Compose 2.26.1), by a Compose project whose file is gone from the host, and as a swarm
service task, on Engine 20.10.24, with Engine 26.1.5 as the target (which refuses API 1.23).

The facts name each client's manager; the findings block the two that only their manager can move, naming the
command; the api_clients role moves the Compose client through its project (its compose file gets agent 2.0.0), and
the client stays moved after `docker compose up -d --force-recreate`, which brings the old image back after a move
made behind Compose's back (docs/managed_clients.md). One lab host for the whole file."""
from __future__ import annotations

import json
import subprocess
import tempfile
import uuid
from pathlib import Path

import lab
import pytest
from ansible_collections.fleetsafe.container_engine.plugins.filter.compat_findings import compat_findings

pytestmark = pytest.mark.xdist_group("test_api_clients_managed")

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_PIN = lab.MANIFEST["extras"]["compose"][0]
AGENT_OLD, AGENT_NEW, AGENT_BAD = (f"{lab.AGENT_IMAGE}:{tag}" for tag in ("1.0.0", "2.0.0", "3.0.0"))
SERVICE = """\
# the monitoring agent (a comment the move keeps)
services:
  agent:
    image: {image}   # pinned
    restart: unless-stopped
    environment:
      TEAM: ops
    volumes:
      - /var/run/docker.sock:/var/run/docker.sock
"""
MONITORING = "/srv/monitoring/compose.yaml"
STRAY = "/srv/stray/compose.yaml"

PLAY = """
- hosts: all
  gather_facts: false
  tasks:
    - name: Gather the clients
      fleetsafe.container_engine.container_engine_facts:
        gather: [docker, clients]
        host_processes: false
    - name: Hand the facts to the test
      ansible.builtin.copy:
        content: "{{ ansible_facts.container_engine | to_json }}"
        dest: "{{ result_dir }}/facts.json"
        mode: "0600"
      delegate_to: localhost
      check_mode: false
      changed_when: false  # the test's own bookkeeping
    - name: The role
      ansible.builtin.include_role:
        name: fleetsafe.container_engine.api_clients
      vars:
        api_clients_target: "26.1.5"
        api_clients_knowledge: "{{ fleetsafe_lab_knowledge }}"
        api_clients_wait_timeout: 60
    - name: Hand the role's result to the test
      ansible.builtin.copy:
        content: "{{ api_clients_result | to_json }}"
        dest: "{{ result_dir }}/result.json"
        mode: "0600"
      delegate_to: localhost
      check_mode: false
      changed_when: false  # the test's own bookkeeping
"""


def play(host: lab.LabHost, env: dict, **role_vars) -> subprocess.CompletedProcess:
    """Run the play; res.facts (the clients facts) and res.result (api_clients_result) when it got there."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "inv.yml").write_text(lab.inventory_text([host.name]))
        (Path(tmp) / "play.yml").write_text(PLAY)
        (Path(tmp) / "vars.json").write_text(json.dumps(dict(role_vars, result_dir=tmp)))
        cmd = [str(ROOT / ".venv/bin/ansible-playbook"), "-i", f"{tmp}/inv.yml", "-e", f"@{tmp}/vars.json",
               f"{tmp}/play.yml"]
        res = subprocess.run(cmd, env=dict(env, ANSIBLE_NOCOLOR="1"), capture_output=True, text=True, check=False)
        for name in ("facts", "result"):
            path = Path(tmp) / f"{name}.json"
            setattr(res, name, json.loads(path.read_text()) if path.exists() else None)
        return res


def move(host: lab.LabHost, env: dict, name: str, image: str) -> dict:
    """api_client_move run ad hoc; its result as JSON."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "inv.yml").write_text(lab.inventory_text([host.name]))
        res = subprocess.run([str(ROOT / ".venv/bin/ansible"), "-i", f"{tmp}/inv.yml", host.name, "-m",
                              "fleetsafe.container_engine.api_client_move", "-a",
                              json.dumps({"name": name, "image": image, "wait_timeout": 60})],
                             env=dict(env, ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="json"),
                             capture_output=True, text=True, check=False)
    return json.loads(res.stdout)["plays"][0]["tasks"][0]["hosts"][host.name]


def running(host: lab.LabHost) -> dict:
    """{container name: image} of the running containers."""
    out = host.exec(["docker", "ps", "--format", "{{.Names}} {{.Image}}"]).stdout.split("\n")
    return dict(line.split(" ", 1) for line in out if line.strip())


def wait_healthy(host: lab.LabHost, name: str) -> None:
    host.sh(f"for i in $(seq 120); do [ \"$(docker inspect -f '{{{{.State.Health.Status}}}}' {name})\" = healthy ] "
            f"&& exit 0; sleep 0.5; done; docker inspect -f '{{{{json .State}}}}' {name}; exit 1")


@pytest.fixture(scope="module")
def host(lab_ready):
    """Engine 20.10.24 with Compose v2 and three agents at 1.0.0 (API 1.23): a Compose project's, a Compose project's
    whose file is gone, and a swarm service's task."""
    made = lab.LabHost(f"{lab.IT_PREFIX}-managed-{uuid.uuid4().hex[:6]}")
    try:
        made.start("old")
        made.load_agent()
        made.sh(f"export DEBIAN_FRONTEND=noninteractive; apt-get update -qq; apt-get install -y -qq "
                f"--no-install-recommends {COMPOSE_PIN} >/tmp/compose.log 2>&1 || {{ cat /tmp/compose.log; exit 1; }}")
        for path in (MONITORING, STRAY):
            made.exec(["mkdir", "-p", str(Path(path).parent)])
            made.exec(["sh", "-c", f"cat > {path}"], input=SERVICE.format(image=AGENT_OLD))
            made.sh(f"cd {Path(path).parent} && docker compose up -d -q 2>/dev/null || docker compose up -d")
        made.exec(["rm", "-r", str(Path(STRAY).parent)])   # brought up from a file that is not on the host (any more)
        made.sh("docker swarm init --advertise-addr 127.0.0.1 >/dev/null && docker service create -d -q --name watcher "
                f"--mount type=bind,src=/var/run/docker.sock,dst=/var/run/docker.sock {AGENT_OLD} >/dev/null 2>&1")
        made.sh("for i in $(seq 60); do docker ps -q --filter label=com.docker.swarm.service.name=watcher | grep -q . "
                "&& exit 0; sleep 0.5; done; docker service ps --no-trunc watcher; exit 1")
        for name in ("monitoring-agent-1", "stray-agent-1"):
            wait_healthy(made, name)
        yield made
    finally:
        made.remove()


def swarm_tasks(host: lab.LabHost) -> list[str]:
    """The images of the swarm service's running task containers."""
    out = host.exec(["docker", "ps", "--filter", "label=com.docker.swarm.service.name=watcher", "--format",
                     "{{.Image}}"]).stdout
    return out.split()


def test_facts_name_each_clients_manager_and_the_gate_stops_before_any_change(host, ansible_env):
    """The role with the default api_clients_fail_on_blockers: the swarm task and the Compose client without its file
    stop it before any change, each blocker naming the command; the move of the Compose client was checked (the module
    in check mode) and nothing changed."""
    res = play(host, ansible_env)
    mounts = {m["name"]: m for m in res.facts["clients"]["socket_mounts"]}
    task = next(name for name in mounts if name.startswith("watcher.1."))
    assert mounts["monitoring-agent-1"]["managed_by"] == "compose"
    assert mounts["monitoring-agent-1"]["manager"] == {
        "project": "monitoring", "service": "agent", "working_dir": "/srv/monitoring", "config_files": [MONITORING],
        "compose_version": "2.26.1", "image_file": MONITORING, "image_in_file": AGENT_OLD, "problem": None}
    assert mounts["stray-agent-1"]["manager"]["problem"] == f"{STRAY} does not exist on this host"
    assert mounts[task]["managed_by"] == "swarm" and mounts[task]["manager"]["service_name"] == "watcher"

    found = {(f["id"], f["component"]): f for f in compat_findings(
        res.facts, {"engine": "26.1.5"}, knowledge=lab.agent_knowledge())}
    swarm = found[("client_swarm_managed", f"client:{task}")]
    assert swarm["severity"] == "blocker"
    assert f"docker service update --image {AGENT_NEW} watcher" in swarm["remedy"]
    stray = found[("client_compose_file_unreachable", "client:stray-agent-1")]
    assert stray["remedy"].startswith(f"change the image of service agent in {STRAY} to {AGENT_NEW}, then docker "
                                      f"compose -p stray -f {STRAY} up -d agent")
    assert ("client_compose_file_unreachable", "client:monitoring-agent-1") not in found

    assert res.returncode != 0 and res.result is None, res.stdout[-3000:]
    assert "Check each move" in res.stdout and "monitoring-agent-1" in res.stdout
    assert f"docker service update --image {AGENT_NEW} watcher" in res.stdout
    assert f"change the image of service agent in {STRAY}" in res.stdout
    assert host.exec(["cat", MONITORING]).stdout == SERVICE.format(image=AGENT_OLD)
    assert running(host)["monitoring-agent-1"] == AGENT_OLD


def test_a_compose_move_that_fails_puts_the_file_and_the_client_back(host, ansible_env):
    """Agent 3.0.0 (API 1.43) is unhealthy on Engine 20.10: the move edits the file, Compose recreates the service,
    the new container fails its healthcheck, and the module restores the file and brings 1.0.0 back."""
    before = host.exec(["cat", MONITORING]).stdout
    result = move(host, ansible_env, "monitoring-agent-1", AGENT_BAD)
    assert result.get("failed") and result["rolled_back"], result
    assert "did not become healthy" in result["msg"] and "rolled back" in result["msg"], result["msg"]
    assert host.exec(["cat", MONITORING]).stdout == before
    assert running(host)["monitoring-agent-1"] == AGENT_OLD
    wait_healthy(host, "monitoring-agent-1")


def test_the_role_moves_a_compose_client_through_its_project_and_it_stays_moved(host, ansible_env):
    moved = play(host, ansible_env, api_clients_fail_on_blockers=False)
    assert moved.returncode == 0, moved.stdout[-3000:]
    assert [(m["name"], m["to"], m["managed_by"], m["compose_file"]) for m in moved.result["moved"]] == [
        ("monitoring-agent-1", AGENT_NEW, "compose", MONITORING)]
    # (verify judges them against the target as they are: client_api_too_old too)
    assert "client_compose_file_unreachable" in {b["finding"] for b in moved.result["blockers"]
                                                 if b["client"] == "stray-agent-1"}
    assert "client_swarm_managed" in {b["finding"] for b in moved.result["blockers"]
                                      if b["client"].startswith("watcher.1.")}
    assert host.exec(["cat", MONITORING]).stdout == SERVICE.format(image=AGENT_NEW)
    # the other two were not recreated: every task of the swarm runs 1.0.0 (no 2.0.0 outside it either), the
    # stray project its 1.0.0
    assert set(swarm_tasks(host)) == {AGENT_OLD} and running(host)["stray-agent-1"] == AGENT_OLD
    assert host.exec(["docker", "service", "inspect", "-f", "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
                      "watcher"]).stdout.strip() == AGENT_OLD

    # Compose recreates the service from its file: the new release stays
    host.sh("cd /srv/monitoring && docker compose up -d --force-recreate 2>&1")
    assert running(host)["monitoring-agent-1"] == AGENT_NEW
    wait_healthy(host, "monitoring-agent-1")

    again = play(host, ansible_env, api_clients_fail_on_blockers=False)
    assert again.returncode == 0, again.stdout[-3000:]
    assert again.result["moved"] == [] and again.result["planned"] == []
    assert host.exec(["cat", MONITORING]).stdout == SERVICE.format(image=AGENT_NEW)
