"""The lab itself, on real daemons: each version set installs from the offline repo and the running
daemons report exactly the versions the manifest names (the ground every other test stands on)."""
import json
import re

import lab
import pytest


def upstream(pkg_version: str) -> str:
    """20.10.24+dfsg1-1+deb12u1+b6 -> 20.10.24; 1:4.13 -> 4.13"""
    return re.match(r"^(?:\d+:)?(\d+(?:\.\d+)*)", pkg_version).group(1)


@pytest.mark.parametrize("set_name", sorted(lab.MANIFEST["sets"]))
def test_version_set_runs_what_the_manifest_names(lab_host_factory, set_name):
    pins = lab.MANIFEST["sets"][set_name]
    host = lab_host_factory(set_name)
    server = json.loads(host.exec(["docker", "version", "--format", "{{json .Server}}"]).stdout)
    assert upstream(server["Version"]) == upstream(pins["docker.io"])
    ctr = host.exec(["ctr", "version"]).stdout
    client_v, server_v = re.findall(r"Version:\s+(\S+)", ctr)
    assert upstream(server_v) == upstream(pins["containerd"]) == upstream(client_v)
    installed = dict(line.split("\t") for line in host.exec(
        ["dpkg-query", "-W", "-f=${Package}\t${Version}\n", *pins]).stdout.splitlines())
    assert installed == pins
    # a container really runs inside the lab host, from the image built into the offline repo
    host.load_busybox()
    out = host.exec(["docker", "run", "--rm", "busybox:lab", "sh", "-c", "echo ok"]).stdout
    assert out.strip() == "ok"


def test_hosts_start_with_no_engine(lab_host_factory):
    host = lab_host_factory()
    assert host.exec(["sh", "-c", "command -v dockerd"], check=False).returncode != 0
    assert host.exec(["systemctl", "is-system-running"]).stdout.strip() in ("running", "degraded")
