"""The lab itself, on real daemons: each version set installs from the offline repo and the running
daemons report exactly the versions the manifest names (the ground every other test stands on); a host
started from a set's image (what lab_host_factory(set) gives) is the host that installing the set gives."""
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


# What a host's installed state is made of: packages, holds, enabled units, apt sources and lists, the daemons.
STATE = {
    "packages": ["dpkg-query", "-W", "-f=${Package} ${Version} ${db:Status-Abbrev}\n"],
    "holds": ["apt-mark", "showhold"],
    "enabled units": ["systemctl", "list-unit-files", "--state=enabled", "--no-legend", "--no-pager"],
    "apt": ["sh", "-c", "head -n 50 /etc/apt/sources.list /etc/apt/sources.list.d/*; ls /var/lib/apt/lists"],
    "etc": ["sh", "-c", "cd /etc && find docker containerd systemd/system -printf '%p %m %u\n' 2>/dev/null | sort"],
    "daemons": ["sh", "-c", "systemctl is-active containerd docker docker.socket; ls /usr/sbin/policy-rc.d 2>&1; "
                            "docker version --format '{{.Server.Version}} {{.Server.APIVersion}}'; "
                            "ctr version | grep -v UUID"],  # containerd's UUID is its own on each host
}


@pytest.mark.parametrize("set_name", sorted(lab.MANIFEST["sets"]))
def test_set_image_host_is_the_host_installing_the_set_gives(lab_host_factory, set_name):
    from_image = lab_host_factory(set_name)
    installed = lab_host_factory()
    installed.install_set(set_name)
    for what, cmd in STATE.items():
        got, want = from_image.exec(cmd).stdout, installed.exec(cmd).stdout
        assert got == want, f"{what} differ:\n--- from the image ---\n{got}\n--- installed ---\n{want}"
    # both run containers from the offline repo's image
    for host in (from_image, installed):
        host.load_busybox()
        assert host.exec(["docker", "run", "--rm", "busybox:lab", "echo", "ok"]).stdout == "ok\n"
