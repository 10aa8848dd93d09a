"""What the api_clients role must carry over when it recreates a client, read from `docker inspect`; shared by
tests/integration/test_api_clients.py and the molecule scenario's verifier (stdlib only)."""
from __future__ import annotations

KEPT = {
    "env": lambda c: sorted(e for e in c["Config"]["Env"] if e.startswith(("TEAM=", "AGENT_INTERVAL="))),
    "labels": lambda c: {k: v for k, v in c["Config"]["Labels"].items() if k == "team"},
    "restart policy": lambda c: c["HostConfig"]["RestartPolicy"],
    "published ports": lambda c: c["HostConfig"]["PortBindings"],
    "binds": lambda c: sorted(c["HostConfig"]["Binds"]),
    "volumes": lambda c: sorted((m["Type"], m.get("Name"), m["Destination"]) for m in c["Mounts"]),
    "network": lambda c: c["HostConfig"]["NetworkMode"],
    "aliases": lambda c: [a for a in c["NetworkSettings"]["Networks"]["agentnet"]["Aliases"] if a == "ag"],
    "user": lambda c: c["Config"]["User"],
    "stop timeout": lambda c: c["Config"].get("StopTimeout"),
    "healthcheck": lambda c: c["Config"]["Healthcheck"],
}


def config_changes(before: dict, after: dict) -> dict:
    """{item: (before, after)} for every KEPT item that differs between two inspect results."""
    return {item: (read(before), read(after)) for item, read in KEPT.items() if read(before) != read(after)}
