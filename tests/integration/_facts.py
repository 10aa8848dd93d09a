"""Helpers for tests/integration/test_facts_*.py: run a facts module ad hoc through real Ansible
against a lab host (JSON callback) and ask a daemon directly over its unix socket."""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import lab

ROOT = Path(__file__).resolve().parents[2]
# the knowledge base's view of a containerd version, shared with the unit tests of the facts modules
sys.path.insert(0, str(ROOT / "tests" / "unit" / "modules"))
from kb_lookup import runc_shim_version, shim_protocols  # noqa: E402,F401  # pylint: disable=unused-import

ANSIBLE = str(ROOT / ".venv" / "bin" / "ansible")

# Plain HTTP over a unix socket with the host's python3 (no curl in lab hosts): path -> [status, body].
ASK = r"""
import http.client, json, socket, sys
class Unix(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=10)
        self.unix_path = path
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(self.unix_path)
out = {}
for path in sys.argv[2:]:
    conn = Unix(sys.argv[1])
    conn.request("GET", path)
    resp = conn.getresponse()
    out[path] = [resp.status, resp.read().decode()]
print(json.dumps(out))
"""

ROOTLESS_SETUP = r"""
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq uidmap rootlesskit slirp4netns dbus-user-session fuse-overlayfs >/tmp/rl.log 2>&1 \
  || { cat /tmp/rl.log; exit 1; }
id alice >/dev/null 2>&1 || useradd -m -s /bin/bash alice
[ -e /dev/net/tun ] || { mkdir -p /dev/net; mknod /dev/net/tun c 10 200; chmod 666 /dev/net/tun; }
mountpoint -q /home/alice || { mount -t tmpfs tmpfs /home/alice; chown alice:alice /home/alice; }
# loginctl needs logind, which the lab image masks: linger is this file, the user manager a unit.
mkdir -p /var/lib/systemd/linger && touch /var/lib/systemd/linger/alice
systemctl start user@1000.service
"""


def rootless_start(port_driver: str) -> str:
    return rf"""
U="runuser -u alice -- env XDG_RUNTIME_DIR=/run/user/1000 DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1000/bus"
$U systemctl --user stop docker.service 2>/dev/null || true
$U systemctl --user reset-failed docker.service 2>/dev/null || true
$U systemd-run --user --unit docker \
  --setenv=PATH=/usr/share/docker.io/contrib:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
  --setenv=DOCKERD_ROOTLESS_ROOTLESSKIT_PORT_DRIVER={port_driver} /usr/share/docker.io/contrib/dockerd-rootless.sh
for i in $(seq 50); do [ -S /run/user/1000/docker.sock ] && \
  $U DOCKER_HOST=unix:///run/user/1000/docker.sock docker version >/dev/null 2>&1 && break; sleep 0.2; done
"""


def ask(host: lab.LabHost, *paths: str, socket_path: str = "/var/run/docker.sock", user: str | None = None) -> dict:
    res = host.exec(["python3", "-c", ASK, socket_path, *paths], user=user)
    return {path: (status, json.loads(body) if body.startswith(("{", "[")) else body)
            for path, (status, body) in json.loads(res.stdout).items()}


def adhoc(host: lab.LabHost, env: dict, module: str = "container_engine_facts", args: dict | None = None,
          check: bool = False, extra_vars: dict | None = None) -> dict:
    """Run fleetsafe.container_engine.<module> ad hoc on the lab host; the host's result dict."""
    with tempfile.TemporaryDirectory(prefix="facts-it-") as tmp:
        inventory = Path(tmp) / "inventory.yml"
        inventory.write_text(lab.inventory_text([host.name]))
        cmd = [ANSIBLE, "-i", str(inventory), host.name, "-m", f"fleetsafe.container_engine.{module}"]
        if args:
            cmd += ["-a", json.dumps(args)]
        if check:
            cmd.append("--check")
        for key, value in (extra_vars or {}).items():
            cmd += ["-e", f"{key}={value}"]
        run_env = dict(env, ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1")
        res = subprocess.run(cmd, env=run_env, capture_output=True, text=True, cwd=tmp, check=False)
    try:
        out = json.loads(res.stdout)
    except ValueError as exc:
        raise AssertionError(f"ansible printed no JSON ({res.returncode}):\n{res.stdout}\n{res.stderr}") from exc
    result = out["plays"][0]["tasks"][0]["hosts"][host.name]
    # never a traceback: a module crash shows as module_stderr / a Python traceback in exception
    # (fail_json alone leaves exception "(traceback unavailable)")
    assert "module_stderr" not in result and "Traceback" not in str(result.get("exception", "")), result
    return result


def facts(result: dict) -> dict:
    return result["ansible_facts"]["container_engine"]


def bump(api: str, delta: int) -> str:
    major, minor = (int(x) for x in api.split("."))
    return f"{major}.{minor + delta}"
