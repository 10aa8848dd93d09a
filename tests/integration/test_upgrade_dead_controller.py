"""A controller that dies mid-run, on real lab hosts: the controller's ansible-playbook (its whole process group,
as when the machine running Ansible is lost) is killed with SIGKILL at a point of a real old -> mid upgrade or of a
rollback, chosen by what the run's journal and the host's processes show; where the point says so, the run's
host-side processes are then hung up by pid the way sshd hangs them up when a connection drops (the lab's
docker-exec connection does not). The role is run again, and every time: the host is at the target or at its start,
every container that ran runs, the volume's checksum is unchanged, no shim is orphaned, the holds are as before.

The docker-ce chain does the same on Docker's packages (docker-ce 20.10, whose unit Requires=containerd.service):
cut while the containerd.io step stops the containers for it, and while dpkg replaces containerd.io with them down.
A last test cuts the family switch (Debian's packages -> Docker's, one apt transaction) while dpkg runs it: rolled
back, the host has Debian's whole family again; resumed, Docker's; never a mix.

Kill points are chained on one host per chain (a rollback re-run returns the host to the old set, ready for the
next point); the chains run in parallel under xdist. Each re-run's findings are printed (pytest -s shows them)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

import pytest
from _upgrade import checksum, drop_host_sources, play, play_cmd, read_result, running, seed, start, versions

OLD = ("20.10.24+dfsg1", "1.6.20~ds1")
MID = ("26.1.5+dfsg1", "1.7.24~ds1")
# what an old -> mid run that is never cut holds at its end (with upgrade_hold, the default): each install step's pins
HELD_BY_UPGRADE = {"containerd", "docker.io", "docker-cli", "runc"}
HELD_BY_UPGRADE_CE = {"containerd.io", "docker-ce", "docker-ce-cli", "docker-ce-rootless-extras"}
# Chains on a host of Docker's packages (docker-ce 20.10, whose docker.service Requires=containerd.service: the
# containerd.io step stops the containers first, noted in the journal, as systemd takes dockerd down with containerd)
CE_CHAINS = {"docker-ce"}
CE = {"upgrade_package_family": "docker-ce", "upgrade_extra_packages": {}}
# (in this run's journal: the one the point before cut and its re-run recovered holds the same event)
CONTAINERS_STOPPED_IN_THIS_RUN = ("j.get('status') == 'running' and "
                                  "any(e.get('what') == 'containers_stopped' for e in j.get('events', []))")
STORAGE_FAULT = "echo '{\"storage-driver\": \"overlay\"}' > /etc/docker/daemon.json && systemctl restart docker"

# Polls inside the host until COND (a Python expression over the newest run's journal j, its sections' statuses
# sec(name), a step's status step(action), the running process names procs) holds, then waits DELAY seconds; with
# KILL_DPKG 1, dpkg is killed (SIGKILL) as soon as it unpacks (dpkg-deb runs; 5 s at most) once COND holds, and the
# run's name is followed by ' dpkg-killed'.
POLL = r"""
import glob, json, os, sys, time
cond, delay, end, kill_dpkg = sys.argv[1], float(sys.argv[2]), time.time() + float(sys.argv[3]), sys.argv[4] == '1'
def comms():
    out = set()
    for p in glob.glob('/proc/[0-9]*/comm'):
        try:
            out.add(open(p).read().strip())
        except OSError:
            pass
    return out
def load(p):
    try:
        return json.load(open(p))
    except Exception:
        return None
while time.time() < end:
    runs = sorted(glob.glob('/var/backups/fleetsafe-container-engine/2*/journal.json'))
    j = load(runs[-1]) if runs else None
    if j is not None:
        d = os.path.dirname(runs[-1])
        def sec(n):
            return (load(os.path.join(d, 'sections', n + '.json')) or {}).get('status')
        def step(a):
            s = [x['status'] for x in j.get('steps', []) if x['action'] == a]
            return s[-1] if s else None
        procs = comms()
        if eval(cond):
            until = time.time() + 5
            while kill_dpkg and 'dpkg-deb' not in comms() and time.time() < until:
                time.sleep(0.01)
            killed = kill_dpkg and os.system('pkill -KILL -x dpkg') == 0
            time.sleep(delay)
            print(j['run'] + (' dpkg-killed' if killed else ''))
            sys.exit(0)
    time.sleep(0.05)
sys.exit(1)
"""


@dataclass
class Kill:
    name: str
    cond: str
    delay: float = 0.0
    hangup: bool = True
    mode: str = "rollback"  # upgrade_unfinished of the re-run
    fault: bool = False  # the run meets a setting the target refuses (upgrade_preflight_blocking false): it rolls back
    then_kill: Kill | None = None  # the re-run itself killed at a point of its recovery
    other_target_first: bool = False  # a resume towards another target is tried first: refused, nothing changed
    kill_dpkg: bool = False  # dpkg itself killed (SIGKILL, as by the OOM killer): a half-installed package is left
    expect: tuple = (OLD,)
    notes: dict = field(default_factory=dict)


CHAINS = {
    "apt-and-steps": [
        Kill("containerd apt: dpkg unpacking", "step('upgrade_containerd') == 'started' and 'dpkg' in procs"),
        Kill("between steps: containerd done, restart_containerd next", "step('upgrade_containerd') == 'done'",
             hangup=False),
        # a run cut before its first change is closed as abandoned and the re-run goes on: the host ends at the
        # target, so this point comes last (cut after the backup instead, the re-run does the same: seen in the lab)
        Kill("during the backup (apt-get download)", "not j.get('backup')", expect=(MID,)),
    ],
    # The point "containers stopping" (0.5 s into the restart section) went: the section runs as a systemd unit, so
    # where in it the controller dies does not change what the re-run finds; the recovery chain's first point kills
    # at 1.0 s into the same section (containers stopping), this chain's first at 11 s (dockerd restarting).
    "engine": [
        Kill("engine restart: dockerd restarting", "sec('restart-docker') == 'running'", delay=11.0),
        Kill("engine apt: dpkg unpacking docker.io, re-run resumes",
             "step('upgrade_engine') == 'started' and 'dpkg' in procs", mode="resume", expect=(MID,),
             other_target_first=True),
    ],
    "rollback": [
        Kill("rollback: apt reinstalling the kept packages", "sec('rollback') == 'running' and 'dpkg' in procs",
             fault=True),
        Kill("rollback: daemons restarting", "sec('rollback') == 'running' and 'dpkg' not in procs", delay=2.0,
             fault=True),
    ],
    "docker-ce": [
        # the containers are noted, then stopped (each waits out its 10 s grace): cut 3 s into their stop
        Kill("containerd.io step: containers stopping for it (Requires=), re-run rolls back",
             f"step('upgrade_containerd') == 'started' and {CONTAINERS_STOPPED_IN_THIS_RUN}", delay=3.0),
        # the containers are down and dpkg replaces containerd.io (systemd takes dockerd down with containerd): the
        # resumed step must start exactly the containers the dead one stopped
        Kill("containerd.io apt with the containers stopped, re-run resumes",
             f"step('upgrade_containerd') == 'started' and {CONTAINERS_STOPPED_IN_THIS_RUN} and 'dpkg' in procs",
             mode="resume", expect=(MID,)),
    ],
    "recovery": [
        Kill("engine restart, then the recovery's own rollback killed", "sec('restart-docker') == 'running'", delay=1.0,
             then_kill=Kill("recovery rollback: apt", "sec('recover-rollback') == 'running' and 'dpkg' in procs")),
        Kill("verify (restart_engine done)", "step('restart_engine') == 'done'"),
        # a hung-up dpkg often unpacks to its end (dpkg_interrupted empty); killed, it leaves containerd
        # half-installed, which dpkg --configure -a does not finish: the resumed step must reinstall and hold it
        Kill("containerd apt, dpkg killed, re-run resumes",
             "step('upgrade_containerd') == 'started' and 'dpkg' in procs", mode="resume", expect=(MID,),
             kill_dpkg=True),
    ],
}


def wait_for_point(host, cond: str, delay: float, timeout: float = 900, kill_dpkg: bool = False) -> str | None:
    res = host.exec(["python3", "-c", POLL, cond, str(delay), str(timeout), "1" if kill_dpkg else "0"], check=False)
    return res.stdout.strip() if res.returncode == 0 else None


def hang_up(host) -> list[str]:
    """SIGHUP to every process a connection session started in the host and their children (docker exec sessions
    have parent 0 in the host's pid namespace), as sshd does to a session whose connection dropped."""
    out = host.exec(["ps", "-e", "-o", "pid=,ppid=,comm="]).stdout
    procs = [line.split(None, 2) for line in out.splitlines() if line.strip()]
    children: dict[str, list[str]] = {}
    for pid, ppid, _comm in procs:
        children.setdefault(ppid, []).append(pid)
    names = {pid: comm for pid, _ppid, comm in procs}
    roots = [pid for pid, ppid, comm in procs if ppid == "0" and pid != "1" and comm != "ps"]
    tree, todo = [], list(roots)
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += children.get(pid, [])
    if tree:
        host.exec(["kill", "-HUP", *tree], check=False)
    return sorted({names[p] for p in tree})


def shims_orphaned(host) -> list[str]:
    """Shims whose container does not run, or whose binary was replaced on disk."""
    ids = set(host.exec(["docker", "ps", "-q", "--no-trunc"]).stdout.split())
    bad = []
    for line in host.exec(["ps", "-e", "-o", "pid=,args="]).stdout.splitlines():
        pid, args = line.strip().split(None, 1)
        if "containerd-shim" not in args.split()[0]:
            continue
        parts = args.split()
        cid = parts[parts.index("-id") + 1] if "-id" in parts else "?"
        exe = host.exec(["readlink", f"/proc/{pid}/exe"], check=False).stdout.strip()
        if cid not in ids or exe.endswith("(deleted)"):
            bad.append(f"{pid}:{cid[:12]}:{exe}")
    return bad


def holds(host) -> set[str]:
    return set(host.exec(["apt-mark", "showhold"]).stdout.split())


def killed_run(host, env, point: Kill, **role_vars) -> dict:
    """Start the role, kill its controller at the point (and hang up its host-side processes), return what
    was seen."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd, _res = play_cmd(host, tmp, "mid", **role_vars)
        with open(f"{tmp}/out.log", "w") as log:
            proc = subprocess.Popen(cmd, env=dict(env, ANSIBLE_NOCOLOR="1"), stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            try:
                run = wait_for_point(host, point.cond, point.delay, kill_dpkg=point.kill_dpkg)
            finally:
                alive = proc.poll() is None
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        tail = "" if run and alive else open(f"{tmp}/out.log").read()[-3000:]
    hung = hang_up(host) if point.hangup and run else []
    # what the dead run left: the containers' states, or that the engine does not answer
    ps = host.exec(["timeout", "5", "docker", "ps", "-a", "--format", "{{.Names}}={{.State}}"], check=False)
    left = " ".join(sorted(ps.stdout.split())) if ps.returncode == 0 else "engine not answering"
    if run and run.endswith(" dpkg-killed"):
        hung.append("dpkg killed (SIGKILL) first")
    why = f"poll {'met' if run else 'timed out'}, play {'alive' if alive else 'ended'}: {tail}"
    return {"reached": bool(run) and alive, "run": run, "hung_up": hung, "why": why, "left": left}


def rerun(host, env, point: Kill, **role_vars):
    with tempfile.TemporaryDirectory() as tmp:
        cmd, res = play_cmd(host, tmp, "mid", upgrade_unfinished=point.mode, **role_vars)
        proc = subprocess.run(cmd, env=dict(env, ANSIBLE_NOCOLOR="1"), capture_output=True, text=True, check=False)
        return proc, read_result(res)


def refused_other_target(host, env) -> str:
    """A resume asked with another target than the unfinished run's: refused before any change, naming both."""
    journal = "cat $(ls -d /var/backups/fleetsafe-container-engine/2*/ | tail -1)journal.json"
    before = versions(host), holds(host), json.loads(host.sh(journal).stdout)
    run = play(host, env, "new", upgrade_unfinished="resume")
    after = versions(host), holds(host), json.loads(host.sh(journal).stdout)
    msg = next((ln for ln in run.out.splitlines() if "target nobody asks for now" in ln), "")
    assert run.rc != 0 and "26.1.5" in msg and "28.5.2" in msg, run
    assert "upgrade_unfinished: rollback" in msg, msg
    assert after[:2] == before[:2] and after[2]["status"] == "running", (before, after)
    assert [e["what"] for e in after[2]["events"]] == [e["what"] for e in before[2]["events"]], after[2]["events"]
    return "refused, nothing changed"


@pytest.mark.parametrize("chain", sorted(CHAINS))
def test_a_dead_controller_at_any_point_leaves_the_host_at_its_start_or_its_target(chain, lab_host_factory,
                                                                                   ansible_env):
    ce = chain in CE_CHAINS
    host = lab_host_factory("old", "docker-ce") if ce else start(lab_host_factory, "old")
    drop_host_sources(host)
    fault = any(p.fault for p in CHAINS[chain])
    if fault:  # before the container: the old engine runs the legacy driver, the target refuses it
        host.sh(STORAGE_FAULT)
    data = seed(host)
    if ce:  # a container with no restart policy: nothing but the role starts it again
        host.sh("docker run -d --name plain busybox:lab sleep 86400 >/dev/null")
    holds_old = holds(host)
    lines = []
    for point in CHAINS[chain]:
        t0 = time.time()
        role_vars = dict({"upgrade_preflight_blocking": False} if point.fault else {}, **(CE if ce else {}))
        seen = killed_run(host, ansible_env, point, **role_vars)
        assert seen["reached"], f"{point.name}: the kill point was not reached: {seen['why']}"
        if point.then_kill:
            inner = point.then_kill
            seen2 = killed_run(host, ansible_env, inner, upgrade_unfinished=point.mode, **role_vars)
            assert seen2["reached"], f"{inner.name}: the kill point was not reached: {seen2['why']}"
            seen["then"] = {"point": inner.name, "hung_up": seen2["hung_up"]}
        if point.other_target_first:
            seen["other_target"] = refused_other_target(host, ansible_env)
        proc, result = rerun(host, ansible_env, point, **role_vars)
        rec = result.get("recovery") or {}
        now = versions(host)
        found = {
            "rc": proc.returncode, "status": result.get("status"), "action": rec.get("action"),
            "cut": (rec.get("found") or {}).get("steps_cut"), "done": (rec.get("found") or {}).get("steps_done"),
            "sections": (rec.get("found") or {}).get("sections"), "dpkg_interrupted": rec.get("dpkg_interrupted"),
            "host": "old" if now == OLD else "mid" if now == MID else now,
            "keeper": running(host).get("keeper"), "plain": running(host).get("plain"),
            "volume_same": checksum(host) == data,
            "orphaned_shims": shims_orphaned(host), "holds": sorted(holds(host)),
            "seconds": round(time.time() - t0, 1),
        }
        lines.append(f"KILL [{chain}] {point.name} (hung up {seen['hung_up'] or 'nothing'}; left {seen['left']}"
                     f"{'; then ' + json.dumps(seen['then']) if 'then' in seen else ''}"
                     f"{'; resume to another target: ' + seen['other_target'] if 'other_target' in seen else ''})"
                     f" -> {json.dumps(found)}")
        print(lines[-1])
        if os.environ.get("FLEETSAFE_KILL_LOG"):  # xdist keeps the workers' output: a file shows it as it comes
            with open(os.environ["FLEETSAFE_KILL_LOG"], "a") as fh:
                fh.write(lines[-1] + "\n")
        assert proc.returncode == 0, proc.stdout[-3000:]
        assert now in point.expect, lines[-1]
        assert found["keeper"] == "running" and found["volume_same"], lines[-1]
        assert found["plain"] == ("running" if ce else None), lines[-1]
        if ce:  # the re-run found the cut run and did what it was asked (a point met too early finds none)
            assert found["action"] == ("resumed" if point.mode == "resume" else "rolled_back"), lines[-1]
        assert not found["orphaned_shims"], lines[-1]
        # as before: at the start, the holds of the start; at the target, those a run never cut leaves
        held_by_upgrade = HELD_BY_UPGRADE_CE if ce else HELD_BY_UPGRADE
        assert set(found["holds"]) == (holds_old if now == OLD else holds_old | held_by_upgrade), lines[-1]
    print("\n".join(lines))
    # the host is usable afterwards: the upgrade goes through (a chain whose last re-run upgraded the host proved it;
    # that a second run then changes nothing is test_upgrade_role's)
    if not fault and result.get("status") != "upgraded":
        final = play(host, ansible_env, "mid", **(CE if ce else {}))
        assert final.rc == 0 and final.result["status"] in ("upgraded", "unchanged"), final


# The family switch (Debian's packages -> Docker's at the same releases) is one apt transaction run with the containers
# stopped (noted in the journal first): cut while dpkg runs it, the re-run leaves one whole family, never a mix.
SWITCH_VARS = {"upgrade_package_family": "docker-ce", "upgrade_package_family_switch": True,
               "upgrade_extra_packages": {}}
FAMILIES = {"debian": ("docker.io", "docker-cli", "containerd", "runc"),
            "docker-ce": ("docker-ce", "docker-ce-cli", "containerd.io")}
IN_SWITCH = f"step('switch_family') == 'started' and {CONTAINERS_STOPPED_IN_THIS_RUN} and 'dpkg' in procs"
SWITCH_POINTS = [
    (Kill("family switch: dpkg mid-transaction, re-run rolls back", IN_SWITCH), "debian"),
    (Kill("family switch: dpkg mid-transaction, re-run resumes", IN_SWITCH, mode="resume"), "docker-ce"),
]


def family_installed(host) -> str:
    out = host.exec(["dpkg-query", "-W", "-f=${Package}\t${db:Status-Abbrev}\n"]).stdout
    there = {p for p, s in (line.split("\t") for line in out.splitlines()) if s[1:2] == "i"}
    whole = [name for name, pkgs in FAMILIES.items() if set(pkgs) <= there]
    other = {p for pkgs in FAMILIES.values() for p in pkgs} & there
    return whole[0] if len(whole) == 1 and other == set(FAMILIES[whole[0]]) else f"mixed: {sorted(other)}"


def test_a_dead_controller_during_the_family_switch_leaves_one_whole_family(lab_host_factory, ansible_env):
    host = start(lab_host_factory, "mid")
    drop_host_sources(host)
    data = seed(host)
    host.sh("docker run -d --name plain busybox:lab sleep 86400 >/dev/null")
    holds_start = holds(host)
    lines = []
    for point, want in SWITCH_POINTS:
        seen = killed_run(host, ansible_env, point, **SWITCH_VARS)
        assert seen["reached"], f"{point.name}: the kill point was not reached: {seen['why']}"
        proc, result = rerun(host, ansible_env, point, **SWITCH_VARS)
        rec = result.get("recovery") or {}
        found = {"rc": proc.returncode, "status": result.get("status"), "action": rec.get("action"),
                 "family": family_installed(host), "versions": versions(host), "containers": running(host),
                 "volume_same": checksum(host) == data, "orphaned_shims": shims_orphaned(host),
                 "holds": sorted(holds(host))}
        lines.append(f"KILL [switch] {point.name} (hung up {seen['hung_up'] or 'nothing'}; left {seen['left']})"
                     f" -> {json.dumps(found)}")
        print(lines[-1])
        assert proc.returncode == 0, proc.stdout[-3000:]
        assert found["action"] == ("resumed" if point.mode == "resume" else "rolled_back"), lines[-1]
        assert found["family"] == want and found["versions"] == MID, lines[-1]
        assert found["containers"] == {"keeper": "running", "plain": "running"} and found["volume_same"], lines[-1]
        assert not found["orphaned_shims"], lines[-1]
        # rolled back: the holds of the start; switched: Docker's packages held as the switch holds them
        assert (set(found["holds"]) == holds_start if want == "debian"
                else set(found["holds"]) >= set(FAMILIES["docker-ce"])), lines[-1]
    print("\n".join(lines))
