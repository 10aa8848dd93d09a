"""Downgrading containerd on a real host: with containerd 2.1.9 running a container, the findings from
the host's real facts warn that going down to 1.7.24 stops what runs; installing 1.7.24 then really
kills the container's process, leaves its 2.1.9 shim orphaned, and dockerd, once restarted, reports
the container Exited (137) (docs/incidents.md#lab-containerd-downgrade)."""
from __future__ import annotations

import json

import lab
from _facts import adhoc, facts
from ansible_collections.fleetsafe.container_engine.plugins.filter.compat_findings import compat_findings


def state(host: lab.LabHost, name: str) -> dict:
    return json.loads(host.exec(["docker", "inspect", "--format", "{{json .State}}", name]).stdout)


def test_containerd_downgrade_stops_the_running_container(lab_host_factory, ansible_env):
    host = lab_host_factory("new")
    host.load_busybox()
    host.sh("docker run -d --name worker busybox:lab sleep 3600 >/dev/null")
    assert state(host, "worker")["Running"] is True

    current = facts(adhoc(host, ansible_env, check=True))
    assert current["containerd"]["running_version"].startswith("2.1.9")
    findings = compat_findings(current, {"containerd": "1.7.24"})
    downgrade = [f for f in findings if f["id"] == "containerd_downgrade"]
    assert downgrade and downgrade[0]["severity"] == "warning", json.dumps(findings, indent=1)

    mid = lab.MANIFEST["sets"]["mid"]["containerd"]
    host.sh("export DEBIAN_FRONTEND=noninteractive; "
            f"apt-get install -y -qq --allow-downgrades containerd={mid} >/tmp/downgrade.log 2>&1 "
            "|| { cat /tmp/downgrade.log; exit 1; }")
    assert host.exec(["containerd", "--version"]).stdout.split()[2].startswith("1.7.24")
    # the container's process is gone at once; its 2.1.9 shim is left running (its binary replaced)
    assert host.exec(["pgrep", "-f", "sleep 3600"], check=False).returncode == 1
    shims = host.exec(["pgrep", "-f", "containerd-shim-runc-v2 -namespace moby"]).stdout.split()
    assert any(host.exec(["readlink", f"/proc/{pid}/exe"]).stdout.strip().endswith("(deleted)") for pid in shims)
    assert host.exec(["docker", "exec", "worker", "true"], check=False).returncode != 0
    # dockerd learns it at its next restart: the container is Exited (137)
    host.sh("systemctl restart docker")
    after = state(host, "worker")
    assert (after["Running"], after["ExitCode"]) == (False, 137), after
