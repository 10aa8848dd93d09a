"""Live restore across a minor upgrade on a real host: with "live-restore": true, the facts say so and
the findings warn that 26.1.5 -> 28.5.2 is beyond what Docker promises (patch releases only); the real
upgrade, with containerd and docker restarted, still kept the container running under the same PID.
The project plans for the promise, not for this luck (docs/incidents.md#lab-live-restore)."""
from __future__ import annotations

import json

import lab
from _facts import adhoc, facts
from ansible_collections.fleetsafe.container_engine.plugins.filter.compat_findings import compat_findings


def state(host: lab.LabHost, name: str) -> dict:
    return json.loads(host.exec(["docker", "inspect", "--format", "{{json .State}}", name]).stdout)


def test_live_restore_kept_the_container_across_26_1_to_28_5(lab_host_factory, ansible_env):
    host = lab_host_factory("mid")
    host.load_busybox()
    host.sh("mkdir -p /etc/docker; echo '{\"live-restore\": true}' > /etc/docker/daemon.json; "
            "systemctl restart docker; docker run -d --name worker busybox:lab sleep 3600 >/dev/null")
    before = state(host, "worker")
    assert before["Running"] is True

    current = facts(adhoc(host, ansible_env, check=True))
    assert current["docker"]["live_restore"] is True
    findings = compat_findings(current, {"engine": "28.5.2", "containerd": "2.1.9"})
    warning = [f for f in findings if f["id"] == "live_restore_not_covering"]
    assert warning and warning[0]["severity"] == "warning", json.dumps(findings, indent=1)

    host.install_set("new")  # installs 28.5.2 and 2.1.9, then restarts containerd and docker
    assert host.exec(["docker", "version", "--format", "{{.Server.Version}}"]).stdout.startswith("28.5.2")
    after = state(host, "worker")
    assert (after["Running"], after["Pid"], after["StartedAt"]) == (True, before["Pid"], before["StartedAt"])
