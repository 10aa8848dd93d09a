"""Helpers for the role tests on lab hosts: run a play, read the host's packages, holds and daemons, and
watch the Docker API and a container from inside the host while a role works."""
from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import lab

ROOT = Path(__file__).resolve().parents[2]
SOURCE_FILES = ("/etc/apt/sources.list.d/fleetsafe-docker-engine.list",
                "/etc/apt/sources.list.d/fleetsafe-containerd.list")


def run_play(host: lab.LabHost, env: dict, play: str, extra: dict, check: bool = False,
             tags: str | None = None) -> subprocess.CompletedProcess:
    """ansible-playbook PLAY against one lab host, with EXTRA as extra vars."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "inv.yml").write_text(lab.inventory_text([host.name]))
        (Path(tmp) / "play.yml").write_text(play)
        (Path(tmp) / "vars.json").write_text(json.dumps(extra))
        cmd = [str(ROOT / ".venv/bin/ansible-playbook"), "-i", f"{tmp}/inv.yml", "-e", f"@{tmp}/vars.json",
               f"{tmp}/play.yml"] + (["--check"] if check else []) + (["--tags", tags] if tags else [])
        return subprocess.run(cmd, env=dict(env, ANSIBLE_NOCOLOR="1"), capture_output=True, text=True, check=False)


def fact(res: subprocess.CompletedProcess, name: str) -> dict:
    """The value of a fact the play printed with `debug: var=NAME` (the last time it did)."""
    marker = f'"{name}": '
    start = res.stdout.rindex(marker) + len(marker)
    return json.JSONDecoder().raw_decode(res.stdout[start:])[0]


PACKAGES = ("docker.io", "docker-cli", "containerd", "runc", "tini", "tini-static")


def installed(host: lab.LabHost) -> dict:
    out = host.exec(["dpkg-query", "-W", "-f=${Package} ${Status} ${Version}\n"]).stdout
    return {p: v for p, *status, v in (line.split(" ") for line in out.splitlines())
            if "installed" in status and p in PACKAGES}


def holds(host: lab.LabHost) -> set:
    return set(host.exec(["apt-mark", "showhold"]).stdout.split())


def main_pid(host: lab.LabHost, unit: str) -> str:
    return host.exec(["systemctl", "show", "-p", "MainPID", "--value", unit]).stdout.strip()


def starts(host: lab.LabHost, unit: str) -> int:
    """How many times systemd started UNIT since the host booted."""
    out = host.exec(["journalctl", "-q", "-o", "cat", "-u", unit], check=False).stdout
    return sum(1 for line in out.splitlines() if line.startswith("Started "))


def source_files(host: lab.LabHost) -> list[str]:
    return [f for f in SOURCE_FILES if host.exec(["test", "-e", f], check=False).returncode == 0]


def container_state(host: lab.LabHost, name: str) -> str:
    return host.exec(["docker", "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name]).stdout.strip()


# A container that keeps data in a named volume and beats into another one (its uptime, every 0.2 s), so its
# downtime can be read afterwards without asking the Docker API (which is down part of the time).
def start_workload(host: lab.LabHost, name: str = "fleetsafe-data") -> str:
    host.load_busybox()
    host.sh(f"""
docker volume create {name}-vol >/dev/null
docker volume create {name}-beats >/dev/null
docker run --rm -v {name}-vol:/data busybox:lab sh -c 'for i in $(seq 1 200); do echo "row $i" >> /data/table; done'
docker run -d --name {name} --restart unless-stopped -v {name}-vol:/data:ro -v {name}-beats:/beats busybox:lab \
  sh -c 'while :; do cat /proc/uptime >> /beats/log; sleep 0.2; done' >/dev/null
""")
    return volume_checksum(host, f"{name}-vol")


def volume_checksum(host: lab.LabHost, volume: str) -> str:
    return host.sh(f"cd /var/lib/docker/volumes/{volume}/_data && find . -type f | sort | xargs sha256sum | sha256sum"
                   ).stdout.split()[0]


def longest_gap(host: lab.LabHost, name: str = "fleetsafe-data", since: float = 0.0) -> float:
    """Seconds of the longest pause in the container's heartbeat after SINCE (host uptime), less its 0.2 s beat."""
    out = host.exec(["cat", f"/var/lib/docker/volumes/{name}-beats/_data/log"]).stdout
    beats = [float(line.split()[0]) for line in out.splitlines() if line.strip()]
    beats = [b for b in beats if b >= since]
    gaps = [b - a for a, b in zip(beats, beats[1:], strict=False)]
    return round(max(gaps, default=0.0) - 0.2, 2) if gaps else 0.0


def uptime(host: lab.LabHost) -> float:
    return float(host.exec(["cat", "/proc/uptime"]).stdout.split()[0])


API_WATCH = r"""
import socket, sys, time
out = open(sys.argv[1], "a", buffering=1)
while True:
    ok = False
    try:
        s = socket.socket(socket.AF_UNIX); s.settimeout(1); s.connect("/var/run/docker.sock")
        s.sendall(b"GET /_ping HTTP/1.0\r\n\r\n"); ok = s.recv(64).startswith(b"HTTP/1.0 200"); s.close()
    except OSError:
        pass
    out.write("%.3f %d\n" % (float(open("/proc/uptime").read().split()[0]), ok)); time.sleep(0.05)
"""


def watch_api(host: lab.LabHost, log: str = "/root/api.log") -> None:
    """Ask the Docker API /_ping every 50 ms from inside the host, logging whether it answered."""
    host.exec(["sh", "-c", "cat > /root/api_watch.py"], input=API_WATCH)
    host.exec(["rm", "-f", log])
    subprocess.run([lab.DOCKER, "exec", "-d", host.name, "python3", "/root/api_watch.py", log], check=True)


def api_down(host: lab.LabHost, since: float, log: str = "/root/api.log") -> float:
    """Seconds of the longest stretch after SINCE during which the API did not answer."""
    rows = [line.split() for line in host.exec(["cat", log]).stdout.splitlines()]
    rows = [(float(t), ok == "1") for t, ok in rows if float(t) >= since]
    longest, down_since = 0.0, None
    for t, ok in rows:
        if not ok and down_since is None:
            down_since = t
        elif ok and down_since is not None:
            longest, down_since = max(longest, t - down_since), None
    return round(longest, 2)


def save_figures(name: str, figures: dict) -> None:
    """Keep measured figures (never asserted) in build/figures/NAME.json for the benchmark notes."""
    out = ROOT / "build" / "figures"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(figures, indent=2) + "\n")
