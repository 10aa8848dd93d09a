"""One host's upgrade, timed: old -> mid and mid -> new with the upgrade role on one lab host.

    .venv/bin/python benchmarks/bench_upgrade.py [--containers 1] [--runs 1] [--profile] [--keep] [--name HOST]

Starts one lab host at the old set (tests/lab/lab.py, named $FLEETSAFE_LAB_PREFIX-bench-upgrade), runs a container
keeping data in a named volume (and --containers - 1 more, each a process that ignores SIGTERM, as a PID 1 does
unless it handles it), then runs the upgrade role old -> mid and mid -> new as a user's play does, and prints per
upgrade: the tasks the play ran (every task banner, skipped ones too), its wall seconds, the role's own per-step
seconds (upgrade_result: preflight, backup, each step, verify) and each container's downtime, measured by the
engine from the container's own stop and start times. --profile adds the ten slowest tasks (ansible's
profile_tasks callback). With --runs N the host is started afresh for each run and the medians are printed too.
Not a test: nothing here asserts a time. The host is removed at the end unless --keep.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "lab"))
sys.path.insert(0, str(ROOT / "tests" / "integration"))
import lab  # noqa: E402
from _upgrade import EXTRA, PLAY, TARGETS, seed  # noqa: E402

BIN = ROOT / ".venv" / "bin"
TASK_RE = re.compile(r"^TASK \[(.*)\]")
PROFILE_RE = re.compile(r"^(.*?) -+ (\d+\.\d+)s$")


def upgrade(host: lab.LabHost, target: str, profile: bool) -> dict:
    vars_ = {"upgrade_target": TARGETS[target], "upgrade_apt_source": lab.REPO_LINE,
             "upgrade_extra_packages": EXTRA[target], "upgrade_smoke_image": "busybox:lab",
             "upgrade_containerd_allow_line_skip": True}
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / "build" / "collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0", ANSIBLE_PIPELINING="True")
    if profile:
        # PROFILE_TASKS_TASK_OUTPUT_LIMIT=400 in the environment lists every task
        env.update(ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks",
                   PROFILE_TASKS_TASK_OUTPUT_LIMIT=os.environ.get("PROFILE_TASKS_TASK_OUTPUT_LIMIT", "10"),
                   PROFILE_TASKS_SORT_ORDER="descending")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "inv.yml").write_text(lab.inventory_text([host.name]))
        (Path(tmp) / "play.yml").write_text(PLAY)
        vars_["result_file"] = f"{tmp}/result.json"
        (Path(tmp) / "vars.json").write_text(json.dumps(vars_))
        t0 = time.monotonic()
        proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", f"{tmp}/inv.yml", "-e", f"@{tmp}/vars.json",
                               f"{tmp}/play.yml"], env=env, capture_output=True, text=True, check=False)
        seconds = time.monotonic() - t0
        res = Path(vars_["result_file"])
        result = json.loads(res.read_text()) if res.exists() and res.read_text().strip() else {}
    lines = proc.stdout.splitlines()
    # the play's own bookkeeping task (the result file) is not the role's
    tasks = [m.group(1) for line in lines if (m := TASK_RE.match(line))][:-1]
    if proc.returncode != 0 or result.get("status") != "upgraded":
        raise SystemExit(f"the upgrade to {target} did not succeed (rc={proc.returncode}, "
                         f"status={result.get('status')}):\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    slow = []
    if profile:
        tail = lines[[i for i, line in enumerate(lines) if line.startswith("PLAY RECAP")][-1]:]
        slow = [(m.group(1).strip(), float(m.group(2))) for line in tail if (m := PROFILE_RE.match(line))]
    return {"target": target, "tasks": len(tasks), "seconds": round(seconds, 1), "result": result, "slowest": slow,
            "load": round(os.getloadavg()[0], 1)}


def phases(result: dict) -> list[tuple[str, float]]:
    """The role's own figures: each step's seconds, verify's, and the rest (preflight, backup, report)."""
    out = [(f"{s['order']} {s['action']} {s.get('to') or ''}".strip(), float(s["seconds"])) for s in result["steps"]]
    verify = float((result.get("verify") or {}).get("seconds") or 0)
    out.append(("verify", verify))
    total = float(result["seconds"]["total"])
    out.append(("preflight, backup, report", round(total - sum(seconds for _name, seconds in out), 2)))
    return out


def show(run: dict) -> None:
    r = run["result"]
    down = r["downtime"]["containers_seconds"]
    print(f"  {run['target']:>4}: {run['tasks']} tasks, {run['seconds']} s (the role's own total "
          f"{r['seconds']['total']} s), API down {r['downtime']['api_seconds']} s, load average {run['load']}")
    for name, seconds in phases(r):
        print(f"        {seconds:7.2f} s  {name}")
    if down:
        values = [v for v in down.values() if v is not None]
        print(f"        containers down: {len(down)} containers, max {max(values, default=0):.2f} s, "
              f"median {statistics.median(values) if values else 0:.2f} s")
    for name, seconds in run["slowest"]:
        print(f"        slow task {seconds:6.2f} s  {name[:100]}")


def one_run(name: str, containers: int, profile: bool, keep: bool) -> list[dict]:
    host = lab.LabHost(name)
    host.remove()
    host.start("old")
    try:
        host.sh("rm -f /etc/apt/sources.list.d/*.list")
        seed(host)
        for i in range(1, containers):
            host.exec(["docker", "run", "-d", "--name", f"sleeper-{i}", "--restart", "unless-stopped",
                       "busybox:lab", "sleep", "1000000"])
        out = []
        for target in ("mid", "new"):
            out.append(upgrade(host, target, profile))
            show(out[-1])
        return out
    finally:
        if not keep:
            host.remove()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--containers", type=int, default=1, help="running containers on the host (1: the keeper)")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--profile", action="store_true", help="the ten slowest tasks of each upgrade")
    ap.add_argument("--keep", action="store_true", help="leave the lab host running")
    ap.add_argument("--name", default=f"{lab.PREFIX}-bench-upgrade", help="the lab host's name")
    args = ap.parse_args()
    lab.build()
    name = args.name
    runs = []
    for i in range(args.runs):
        print(f"run {i + 1}/{args.runs}: one lab host ({name}), {args.containers} running container(s)", flush=True)
        pair = one_run(name, args.containers, args.profile, args.keep and i == args.runs - 1)
        runs.append(pair)
    if args.runs > 1:
        for k, target in enumerate(("mid", "new")):
            print(f"median {target}: {statistics.median(p[k]['tasks'] for p in runs)} tasks, "
                  f"{statistics.median(p[k]['seconds'] for p in runs):.1f} s")


if __name__ == "__main__":
    main()
