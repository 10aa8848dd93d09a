"""A fleet's facts on one controller: a playbook across N lab hosts against `ansible -m ping` on the same hosts.

    .venv/bin/python benchmarks/bench_fleet.py [--hosts 50] [--runs 5] [--forks 50] [--set old]
                                               [--playbook benchmarks/fleet_facts.yml] [--strategy linear|free]
                                               [--reuse] [--keep]

Starts N lab hosts from a version set's image (tests/lab/lab.py; named $FLEETSAFE_LAB_PREFIX-1..N), then runs,
paired and alternating so that drift and the other load of the machine hit both sides alike:
  ansible all -m ping -f FORKS                   (the floor: a connection and the smallest module per host)
  ansible-playbook PLAYBOOK -f FORKS             (default: benchmarks/fleet_facts.yml, one facts module per host)
and prints the median wall time of each and the median of the per-pair ratios. Goal: ratio <= 1.3.
It also counts the CPU each run costs, which the machine's other load does not change: the controller's (the
ansible process and everything it waited for: workers, docker CLI calls) and the lab hosts' (their cgroups'
CPU accounting: the modules, the commands they run, the daemons answering them). On a saturated machine the
wall times follow the CPU ratio; when the machine is shared, the CPU ratio is the steadier figure.
The playbook must gather facts on every host: the run fails when a host is missing from its recap or failed.
--playbook takes the collection's fleet playbooks (check, facts) the same way. Not a test: nothing here asserts
a time. The hosts are removed at the end unless --keep (--reuse takes running ones).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "lab"))
import lab  # noqa: E402

BIN = ROOT / ".venv" / "bin"


INOTIFY = Path("/proc/sys/fs/inotify/max_user_instances")
INOTIFY_PER_HOST = 8   # systemd, journald, udev-less services and dockerd of one lab host held 7 on the lab


def inotify_room(n: int) -> None:
    """systemd in each lab host takes inotify instances, counted against root on the machine: Debian's default of
    128 lets some 15 lab hosts boot next to other containers, the rest stop with 'Failed to create inotify
    object: Too many open files'. Raise the limit as for other container-in-container labs (kind), and say so."""
    limit = int(INOTIFY.read_text())
    in_use = 0
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            in_use += sum(1 for fd in fd_dir.iterdir() if os.readlink(fd) == "anon_inode:inotify")
        except OSError:
            continue   # gone, or not ours to read
    wanted = in_use + INOTIFY_PER_HOST * n + 256   # room for the machine's other containers to start too
    if limit >= wanted:
        return
    if os.geteuid() != 0:
        raise SystemExit(f"{n} lab hosts need fs.inotify.max_user_instances >= {wanted} (it is {limit}): "
                         f"run `sysctl -w fs.inotify.max_user_instances={wanted}` as root")
    subprocess.run(["sysctl", "-q", "-w", f"fs.inotify.max_user_instances={wanted}"], check=True)
    print(f"raised fs.inotify.max_user_instances from {limit} to {wanted} for {n} lab hosts", flush=True)


def start_hosts(n: int, set_name: str) -> list[str]:
    inotify_room(n)
    image = lab.set_image(set_name)
    names = lab.host_names(n)
    t0 = time.monotonic()
    for name in names:
        lab.start_host(name, image)
    for name in names:
        lab.wait_host(name, seconds=180)
    print(f"{n} lab hosts at the {set_name!r} set up in {time.monotonic() - t0:.1f} s", flush=True)
    return names


def cgroup_cpu_files(names: list[str]) -> list[Path] | None:
    """Each lab host's CPU usage file (cgroup v1 cpuacct, or v2 cpu.stat); None when they cannot be found."""
    ids = lab.run([lab.DOCKER, "inspect", "-f", "{{.Id}}", *names], capture=True).stdout.split()
    found = []
    for cid in ids:
        candidates = [Path(f"/sys/fs/cgroup/cpuacct/docker/{cid}/cpuacct.usage"),
                      Path(f"/sys/fs/cgroup/docker/{cid}/cpu.stat"),
                      Path(f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/cpu.stat")]
        path = next((c for c in candidates if c.exists()), None)
        if path is None:
            return None
        found.append(path)
    return found


def hosts_cpu(files: list[Path] | None) -> float:
    """Seconds of CPU the lab hosts have used so far."""
    total = 0.0
    for path in files or []:
        text = path.read_text()
        if path.name == "cpuacct.usage":
            total += int(text) / 1e9
        else:
            total += int(re.search(r"^usage_usec (\d+)", text, re.M).group(1)) / 1e6
    return total


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], env: dict,
          files: list[Path] | None = None) -> tuple[float, tuple[float, float], subprocess.CompletedProcess]:
    """(wall seconds, (CPU seconds of the controller, of the lab hosts), result)."""
    controller0, hosts0 = children_cpu(), hosts_cpu(files)
    t0 = time.monotonic()
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - t0
    return elapsed, (children_cpu() - controller0, hosts_cpu(files) - hosts0), res


RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=\d+\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def check_playbook(res: subprocess.CompletedProcess, names: list[str]) -> None:
    recap = {m.group(1): (int(m.group(2)), int(m.group(3)), int(m.group(4))) for m in RECAP.finditer(res.stdout)}
    bad = [n for n in names if n not in recap or recap[n][0] < 1 or recap[n][1] or recap[n][2]]
    if res.returncode != 0 or bad:
        raise SystemExit(f"playbook failed (rc {res.returncode}) on {bad[:5]}:\n"
                         f"{res.stdout[-3000:]}\n{res.stderr[-2000:]}")


def check_ping(res: subprocess.CompletedProcess, names: list[str]) -> None:
    ok = set(re.findall(r"^(\S+) \| SUCCESS", res.stdout, re.M))
    if res.returncode != 0 or set(names) - ok:
        raise SystemExit(f"ping failed (rc {res.returncode}):\n{res.stdout[-3000:]}\n{res.stderr[-2000:]}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", type=int, default=50)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--forks", type=int, default=0, help="default: one per host")
    ap.add_argument("--set", default="old", choices=sorted(lab.MANIFEST["sets"]))
    ap.add_argument("--playbook", type=Path, default=ROOT / "benchmarks" / "fleet_facts.yml")
    ap.add_argument("--strategy", default="linear", choices=["linear", "free", "host_pinned"])
    ap.add_argument("--extra", action="append", default=[], help="-e for the playbook (repeatable)")
    ap.add_argument("--reuse", action="store_true", help="use lab hosts already running under this prefix")
    ap.add_argument("--keep", action="store_true", help="leave the lab hosts running")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    forks = args.forks or args.hosts

    lab.build()
    names = lab.host_names(args.hosts)
    try:
        if args.reuse and set(names) <= set(lab.lab_hosts()):
            print(f"reusing {args.hosts} running lab hosts", flush=True)
        else:
            start_hosts(args.hosts, args.set)
        tmp = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
        inventory = tmp / "inventory.yml"
        inventory.write_text(lab.inventory_text(names))
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / "build" / "collections"),
                   ANSIBLE_FORCE_COLOR="0", ANSIBLE_PIPELINING="True", ANSIBLE_STRATEGY=args.strategy,
                   ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
        ping = [str(BIN / "ansible"), "-i", str(inventory), "all", "-m", "ping", "-f", str(forks), "-o"]
        play = [str(BIN / "ansible-playbook"), "-i", str(inventory), str(args.playbook), "-f", str(forks)]
        for extra in args.extra:
            play += ["-e", extra]
        # warm-up: the first runs pay for caches (page cache, the controller's bytecode) on both sides
        files = cgroup_cpu_files(names)
        check_ping(timed(ping, env)[2], names)
        check_playbook(timed(play, env)[2], names)
        pings, plays, ratios, cpu, split = [], [], [], {"ping": [], "play": []}, {"ping": [], "play": []}
        for i in range(args.runs):
            pair = {}
            for side in (("ping", "play") if i % 2 == 0 else ("play", "ping")):
                elapsed, used, res = timed(ping if side == "ping" else play, env, files)
                (check_ping if side == "ping" else check_playbook)(res, names)
                pair[side] = elapsed
                cpu[side].append(sum(used))
                split[side].append(used)
            pings.append(pair["ping"])
            plays.append(pair["play"])
            ratios.append(pair["play"] / pair["ping"])
            print(f"  run {i + 1}: ping {pair['ping']:.2f} s (CPU {split['ping'][-1][0]:.1f} s controller + "
                  f"{split['ping'][-1][1]:.1f} s hosts), playbook {pair['play']:.2f} s (CPU {split['play'][-1][0]:.1f} "
                  f"s controller + {split['play'][-1][1]:.1f} s hosts), ratio {ratios[-1]:.2f}", flush=True)
        figures = {
            "hosts": args.hosts, "forks": forks, "strategy": args.strategy, "set": args.set, "runs": args.runs,
            "playbook": str(args.playbook.relative_to(ROOT) if args.playbook.is_relative_to(ROOT) else args.playbook),
            "ping_median_s": round(statistics.median(pings), 2),
            "playbook_median_s": round(statistics.median(plays), 2),
            "ratio_median": round(statistics.median(ratios), 2),
            "ping_cpu_median_s": round(statistics.median(cpu["ping"]), 1),
            "playbook_cpu_median_s": round(statistics.median(cpu["play"]), 1),
            "cpu_ratio": round(statistics.median(cpu["play"]) / statistics.median(cpu["ping"]), 2),
            "controller_cpu_median_s": {k: round(statistics.median(c for c, _h in v), 1) for k, v in split.items()},
            "hosts_cpu_median_s": {k: round(statistics.median(h for _c, h in v), 1) for k, v in split.items()},
            "hosts_cpu_counted": files is not None,
            "load_average": os.getloadavg()[0], "cpus": os.cpu_count(),
        }
        print(f"{args.hosts} lab hosts, {forks} forks, strategy {args.strategy}, {args.runs} paired runs: "
              f"ping median {figures['ping_median_s']:.2f} s, {figures['playbook']} median "
              f"{figures['playbook_median_s']:.2f} s, ratio median {figures['ratio_median']:.2f} "
              f"(load average {figures['load_average']:.1f} on {figures['cpus']} cores); CPU median: ping "
              f"{figures['ping_cpu_median_s']:.1f} s, playbook {figures['playbook_cpu_median_s']:.1f} s, ratio "
              f"{figures['cpu_ratio']:.2f}" + ("" if files else " (controller only: no cgroup CPU accounting)"))
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2) + "\n")
        return 0
    finally:
        if not args.keep:
            for name in names:
                lab.remove_host(name)


if __name__ == "__main__":
    sys.exit(main())
