"""Facts gathered by separate modules add up: docker_facts then containerd_facts keeps both parts,
and a later module refreshes only its own part (the action plugins merge)."""
import json
import subprocess
import tempfile
from pathlib import Path

import lab

ROOT = Path(__file__).resolve().parents[2]

PLAY = """
- hosts: all
  gather_facts: false
  tasks:
    - fleetsafe.container_engine.docker_facts:
    - fleetsafe.container_engine.containerd_facts:
    - ansible.builtin.set_fact:
        first: "{{ ansible_facts.container_engine }}"
    - fleetsafe.container_engine.clients_facts:
        declared: [{name: ecs-agent, api_version: "1.21"}]
    - ansible.builtin.debug:
        var: ansible_facts.container_engine
"""


def test_facts_from_separate_modules_are_merged(lab_host_factory, ansible_env):
    host = lab_host_factory("old")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "inv.yml").write_text(lab.inventory_text([host.name]))
        (Path(tmp) / "play.yml").write_text(PLAY)
        proc = subprocess.run([str(ROOT / ".venv/bin/ansible-playbook"), "-i", f"{tmp}/inv.yml", f"{tmp}/play.yml"],
                              env=dict(ansible_env, ANSIBLE_STDOUT_CALLBACK="json"), capture_output=True, text=True,
                              check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    tasks = json.loads(proc.stdout)["plays"][0]["tasks"]
    first = tasks[2]["hosts"][host.name]["ansible_facts"]["first"]
    assert set(first) == {"docker", "containerd"}
    assert first["docker"]["version"] == "20.10.24+dfsg1"
    assert first["containerd"]["running_version"].startswith("1.6.20")
    final = tasks[4]["hosts"][host.name]["ansible_facts.container_engine"]
    assert set(final) == {"docker", "containerd", "clients"}
    assert final["docker"] == first["docker"]
    assert final["clients"]["declared"][0]["name"] == "ecs-agent"
