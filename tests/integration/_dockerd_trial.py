"""Runs INSIDE a lab host (stdlib only, fed on stdin): try throwaway dockerd starts, one per case.

Input (JSON on stdin): {"validate": bool, "cases": [{"name", "daemon_json": {...}, "flags": [...],
"env": {...}, "sets_root": bool}]}; "env" adds variables to dockerd's environment. "{root}" in a flag or a
daemon.json string becomes the case's own data root.
For each case: `dockerd --validate` with the same configuration when asked (23.0+), then a real start
with its own data root, exec root, pid file and unix socket (never TCP), against the host's containerd.
A start counts when the socket answers GET /_ping with 200; a failure is the process exiting first.
Output (JSON on stdout): [{"name", "validate": {"rc", "out"} or null, "started": bool, "log": str}].
"""
from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time

WORK = "/var/lib/docker/fleetsafe-truth"   # on the host's volume: overlay2 cannot sit on the container's overlay
RUN = "/run/fleetsafe-truth"
START_WAIT = 60.0


class Unix(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=3)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(self.unix_path)


def pinged(path: str) -> bool:
    try:
        conn = Unix(path)
        conn.request("GET", "/_ping")
        return conn.getresponse().status == 200
    except OSError:
        return False


def subst(value, root):
    if isinstance(value, str):
        return value.replace("{root}", root)
    if isinstance(value, list):
        return [subst(v, root) for v in value]
    if isinstance(value, dict):
        return {k: subst(v, root) for k, v in value.items()}
    return value


def trial(index: int, case: dict, validate: bool) -> dict:
    base, run = f"{WORK}/{index}", f"{RUN}/{index}"
    for path in (base, run):
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path)
    root = f"{base}/root"
    config = f"{base}/daemon.json"
    with open(config, "w", encoding="utf-8") as handle:
        json.dump(subst(case.get("daemon_json", {}), root), handle)
    sock = f"{run}/d.sock"
    common = ["--config-file", config, "--exec-root", f"{run}/exec", "-H", f"unix://{sock}",
              "--pidfile", f"{run}/d.pid", "--containerd", "/run/containerd/containerd.sock",
              "--bridge", "none", "--iptables=false"]
    if not case.get("sets_root"):
        common += ["--data-root", root]
    flags = subst(case.get("flags", []), root)
    env = dict(os.environ, **case.get("env", {}))
    result = {"name": case["name"], "validate": None}
    if validate:
        res = subprocess.run(["dockerd", "--validate", *common, *flags], capture_output=True, text=True,
                             timeout=120, check=False, env=env)
        result["validate"] = {"rc": res.returncode, "out": (res.stdout + res.stderr)[-3000:]}
    log_path = f"{run}/dockerd.log"
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(["dockerd", *common, *flags], stdout=log, stderr=subprocess.STDOUT, env=env)
    started = False
    deadline = time.monotonic() + START_WAIT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        if os.path.exists(sock) and pinged(sock):
            started = True
            break
        time.sleep(0.2)
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    with open(log_path, encoding="utf-8", errors="replace") as handle:
        text = handle.read()
    # the reason is the first line for a flag (usage follows) and the last one otherwise
    result["log"] = text if len(text) <= 8000 else text[:2000] + "\n[...]\n" + text[-6000:]
    result["started"] = started
    shutil.rmtree(base, ignore_errors=True)
    shutil.rmtree(run, ignore_errors=True)
    return result


def main() -> int:
    request = json.load(sys.stdin)
    results = [trial(i, case, request["validate"]) for i, case in enumerate(request["cases"])]
    shutil.rmtree(WORK, ignore_errors=True)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
