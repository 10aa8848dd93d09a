"""Downtime of the upgrade role per package family, side by side: one lab host per family (Debian's docker.io and
Docker's docker-ce), each chained old -> mid -> new by the upgrade role with a container beating into a volume and the
Docker API asked every 50 ms from inside the host.

    .venv/bin/python benchmarks/bench_families.py [--families debian,docker-ce] [--keep]

Prints, per family and step: the role's wall time, the longest stretch the API did not answer, the container's
longest pause (its heartbeat), how many times containerd and dockerd started, who restarted dockerd in the engine step
(the role, or docker-ce's postinst) and in the containerd step (systemd with containerd, when docker.service requires
containerd.service), and whether a container without a restart policy runs after the step. Hosts are named
$FLEETSAFE_LAB_PREFIX-bench-FAMILY and removed at the end unless --keep.
Not a test: nothing here asserts a time; the machine's other load moves the wall times, the restarts it does not.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "lab"))
sys.path.insert(0, str(ROOT / "tests" / "integration"))
import lab  # noqa: E402
from _roles import api_down, longest_gap, start_workload, starts, uptime, watch_api  # noqa: E402
from _upgrade import EXTRA, drop_host_sources, play  # noqa: E402


def chain(family: str) -> list[dict]:
    host = lab.LabHost(f"{lab.PREFIX}-bench-{family}")
    host.remove()
    host.start("old", family)
    drop_host_sources(host)
    start_workload(host)
    # no restart policy: left stopped if dockerd goes down under it without the role planning for it
    host.sh("docker run -d --name plain busybox:lab sleep 86400 >/dev/null")
    watch_api(host)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / "build" / "collections"))
    rows = []
    try:
        for step in ("mid", "new"):
            before = {u: starts(host, u) for u in ("containerd", "docker")}
            since, t0 = uptime(host), time.monotonic()
            run = play(host, env, step, upgrade_package_family=family,
                       upgrade_extra_packages=EXTRA[step] if family == "debian" else {})
            if run.rc != 0:
                raise SystemExit(f"{family} -> {step} failed: {run}")
            engine = [s for s in run.result["steps"] if s["action"] == "upgrade_engine"][0]["result"]
            containerd_steps = ("upgrade_containerd", "restart_containerd")
            ctd = [s["result"] for s in run.result["steps"] if s["action"] in containerd_steps]
            plain = host.exec(["docker", "inspect", "-f", "{{.State.Status}}", "plain"], check=False).stdout.strip()
            rows.append({"family": family, "to": step, "role_s": round(time.monotonic() - t0, 1),
                         "api_down_s": api_down(host, since), "container_pause_s": longest_gap(host, since=since),
                         "containerd_starts": starts(host, "containerd") - before["containerd"],
                         "docker_starts": starts(host, "docker") - before["docker"],
                         "dockerd_restarted_by": "package" if engine.get("restarted_by") == "package" else "role",
                         "dockerd_with_containerd": ",".join(c.get("engine_restarted_by", "none") for c in ctd),
                         "plain_after": plain})
    finally:
        if not ARGS.keep:
            host.remove()
    return rows


def main() -> None:
    lab.build()
    rows = [row for family in ARGS.families.split(",") for row in chain(family)]
    keys = list(rows[0])
    print(" | ".join(keys))
    for row in rows:
        print(" | ".join(str(row[k]) for k in keys))
    out = ROOT / "build" / "figures"
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_families.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default="debian,docker-ce")
    parser.add_argument("--keep", action="store_true")
    ARGS = parser.parse_args()
    main()
