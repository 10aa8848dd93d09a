"""Ad-hoc facts for one host vs community.docker.docker_host_info on the same engine.

    .venv/bin/python benchmarks/bench_facts.py [--runs 10] [--set old|mid|new] [--keep]

Starts one lab host with a version set (tests/lab/lab.py), then runs, alternating so that drift hits
both sides alike, `ansible HOST -m <module>` for:
  fleetsafe.container_engine.container_engine_facts   (every part: docker, containerd, rootless, clients)
  fleetsafe.container_engine.docker_facts
  community.docker.docker_host_info                   (the reference)
and prints the median wall time of each and the ratios to the reference (of the medians, and the median of
the rounds' ratios). Goal: ratio <= 0.9.
Not a test: nothing here asserts a time.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "lab"))
import lab  # noqa: E402

ANSIBLE = str(ROOT / ".venv" / "bin" / "ansible")
REFERENCE = "community.docker.docker_host_info"
CANDIDATES = ["fleetsafe.container_engine.container_engine_facts", "fleetsafe.container_engine.docker_facts"]


def run_once(module: str, inventory: Path, host: str, env: dict) -> float:
    t0 = time.monotonic()
    res = subprocess.run([ANSIBLE, "-i", str(inventory), host, "-m", module], env=env,
                         capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - t0
    if res.returncode != 0:
        raise SystemExit(f"{module} failed:\n{res.stdout}\n{res.stderr}")
    out = json.loads(res.stdout)["plays"][0]["tasks"][0]["hosts"][host]
    if module.startswith("fleetsafe") and not out.get("can_talk_to_docker"):
        raise SystemExit(f"{module} could not talk to Docker: {out}")
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--set", default="old", choices=sorted(lab.MANIFEST["sets"]))
    ap.add_argument("--keep", action="store_true", help="leave the lab host running")
    args = ap.parse_args()

    lab.build()
    host = lab.LabHost(f"{lab.PREFIX}-bench-facts-{os.getpid()}")
    try:
        host.start(args.set)   # from the set's image (tests/lab/lab.py set-image)
        tmp = Path(tempfile.mkdtemp(prefix="bench-facts-"))
        inventory = tmp / "inventory.yml"
        inventory.write_text(lab.inventory_text([host.name]))
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / "build" / "collections"),
                   ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_FORCE_COLOR="0")
        modules = [REFERENCE, *CANDIDATES]
        for module in modules:  # warm-up: first runs pay for caches on both sides
            run_once(module, inventory, host.name, env)
        times: dict[str, list[float]] = {m: [] for m in modules}
        for i in range(args.runs):
            order = modules if i % 2 == 0 else list(reversed(modules))
            for module in order:
                times[module].append(run_once(module, inventory, host.name, env))
        ref = statistics.median(times[REFERENCE])
        print(f"engine set {args.set!r} in lab host {host.name}; {args.runs} alternating runs each "
              f"(wall time of `ansible HOST -m MODULE`, connection community.docker.docker)")
        for module in modules:
            med = statistics.median(times[module])
            spread = f"min {min(times[module]):.3f} s, max {max(times[module]):.3f} s"
            # each round runs every module back to back: the median of the rounds' ratios is steadier than the
            # ratio of the medians when the machine's load swings
            paired = statistics.median(t / r for t, r in zip(times[module], times[REFERENCE], strict=True))
            ratio = "" if module == REFERENCE else f"   ratio {med / ref:.2f} (paired {paired:.2f})"
            print(f"  {module:55s} median {med:.3f} s ({spread}){ratio}")
        print(f"  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        return 0
    finally:
        if not args.keep:
            host.remove()


if __name__ == "__main__":
    sys.exit(main())
