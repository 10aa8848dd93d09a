"""A removed storage driver, on real engines: Engine 20.10.24 runs with the legacy `overlay` driver,
its facts say so, and the findings computed from those facts say Engine 26.1.5 removed it (blocker);
upgrading the same host to 26.1.5 then really leaves dockerd unable to start, with the message the
knowledge base's source describes (docs/incidents.md#lab-storage-driver-removed)."""
from __future__ import annotations

import json

from _facts import adhoc, facts
from ansible_collections.fleetsafe.container_engine.plugins.filter.compat_findings import compat_findings

REMOVED = ("[graphdriver] ERROR: the overlay storage-driver has been deprecated and removed; visit "
           "https://docs.docker.com/go/storage-driver/ for more information: overlay")


def test_overlay_runs_on_20_10_and_stops_26_1_from_starting(lab_host_factory, ansible_env):
    host = lab_host_factory("old")
    host.sh("mkdir -p /etc/docker; echo '{\"storage-driver\": \"overlay\"}' > /etc/docker/daemon.json; "
            "systemctl restart docker")
    assert host.exec(["docker", "info", "--format", "{{.Driver}}"]).stdout.strip() == "overlay"
    docker = facts(adhoc(host, ansible_env, module="docker_facts", check=True))
    assert docker["docker"]["storage_driver"] == "overlay"

    by_id = {f["id"]: f for f in compat_findings(docker, {"engine": "26.1.5"})}
    assert by_id["storage_driver_removed"]["severity"] == "blocker", json.dumps(list(by_id.values()), indent=1)
    assert "overlay" in by_id["storage_driver_removed"]["message"]
    assert "storage_driver_removed" not in {f["id"] for f in compat_findings(docker, {"engine": "20.10.24"})}

    host.install_set("mid", restart=False)
    since = host.exec(["date", "+%Y-%m-%d %H:%M:%S"]).stdout.strip()
    restarted = host.exec(["systemctl", "restart", "docker"], check=False)
    journal = host.exec(["journalctl", "-u", "docker", "--since", since, "--no-pager", "-o", "cat"],
                        check=False).stdout
    assert restarted.returncode != 0, journal[-800:]
    assert REMOVED in journal, journal[-800:]
    assert host.exec(["docker", "version"], check=False).returncode != 0  # no daemon answers
