"""Docker's own packages in the lab, on real daemons: each docker-ce set (docker-ce, docker-ce-cli,
docker-ce-rootless-extras, containerd.io, built by tests/lab/lab.py from Docker's packaging around Debian's
binaries) installs from the offline repository into one lab host, old -> mid -> new, each step an apt upgrade
whose daemons are (re)started by the packages' own maintainer scripts; the daemons answer with the set's
versions, a container runs, the units and containerd's configuration are Docker's, not Debian's."""
import json
import re
import uuid

import lab
import pytest

# one module-scoped lab host: every test of this file runs on one worker (make integration: --dist loadgroup)
pytestmark = pytest.mark.xdist_group("test_lab_docker_ce")

SETS = ["old", "mid", "new"]  # in this order: each step upgrades the host the previous one left
PACKAGING = lab.DOCKER_CE_DIR
DEBIAN = ("docker.io", "docker-cli", "containerd", "runc", "rootlesskit")


def upstream(pkg_version: str) -> str:
    """5:26.1.5-1~debian.12~bookworm -> 26.1.5; 2.1.9-1~debian.12~bookworm -> 2.1.9"""
    return re.match(r"^(?:\d+:)?(\d+(?:\.\d+)*)", pkg_version).group(1)


@pytest.fixture(scope="module")
def host():
    lab.build()
    h = lab.LabHost(f"{lab.IT_PREFIX}-ce-{uuid.uuid4().hex[:6]}")
    h.start()
    yield h
    h.remove()


def unit_of(host, unit: str) -> tuple[str, str]:
    """The file systemd loaded UNIT from and the package that owns it."""
    path = host.exec(["systemctl", "show", "-P", "FragmentPath", unit]).stdout.strip()
    owner = host.exec(["dpkg-query", "-S", path]).stdout.split(":")[0]
    return path, owner


@pytest.mark.parametrize("set_name", SETS)
def test_docker_ce_set_installs_and_runs(host, set_name):
    spec = lab.MANIFEST["docker_ce"]["sets"][set_name]
    pins = lab.docker_ce_pins(set_name)
    host.install_set(set_name, family="docker-ce", restart=False)  # the packages' own scripts (re)start the daemons

    installed = dict(line.split("\t") for line in host.exec(
        ["dpkg-query", "-W", "-f=${Package}\t${Version}\n", *pins]).stdout.splitlines())
    assert installed == pins
    status = host.exec(["sh", "-c", "dpkg-query -W -f='${Package} ${db:Status-Abbrev}\\n' "
                                    + " ".join(DEBIAN) + " 2>/dev/null || true"]).stdout
    assert not [line for line in status.splitlines() if line.split()[1:2] == ["ii"]], status  # none of Debian's

    # the daemons answer with the set's versions: both were (re)started by the maintainer scripts
    server = json.loads(host.exec(["docker", "version", "--format", "{{json .Server}}"]).stdout)
    assert upstream(server["Version"]) == upstream(pins["docker-ce"])  # Debian's build says 26.1.5+dfsg1
    client_v, server_v = re.findall(r"Version:\s+(\S+)", host.exec(["ctr", "version"]).stdout)
    assert upstream(server_v) == upstream(client_v) == upstream(pins["containerd.io"])
    assert host.exec(["runc", "--version"]).stdout.startswith("runc version")

    # Docker's units, byte for byte, loaded from docker-ce's and containerd.io's files, running Docker's paths
    engine = PACKAGING / spec["engine_packaging"]
    containerd_unit = PACKAGING / "containerd" / f"containerd.service-{upstream(pins['containerd.io'])}"
    for unit, package, source in (("docker.service", "docker-ce", engine / "docker.service"),
                                  ("docker.socket", "docker-ce", engine / "docker.socket"),
                                  ("containerd.service", "containerd.io", containerd_unit)):
        path, owner = unit_of(host, unit)
        assert (path, owner) == (f"/lib/systemd/system/{unit}", package)
        assert host.exec(["cat", path]).stdout == source.read_text()
    for unit, exe in (("docker", "/usr/bin/dockerd"), ("containerd", "/usr/bin/containerd")):
        pid = host.exec(["systemctl", "show", "-P", "MainPID", unit]).stdout.strip()
        assert host.exec(["readlink", f"/proc/{pid}/exe"]).stdout.strip() == exe

    # containerd runs Docker's stock configuration: the CRI plugin disabled
    stock = (PACKAGING / "containerd/config.toml").read_text()
    assert host.exec(["cat", "/etc/containerd/config.toml"]).stdout == stock
    plugins = host.exec(["ctr", "plugins", "ls"]).stdout
    assert not re.search(r"io\.containerd\.grpc\.v1\s+cri\s+\S+\s+ok", plugins), plugins

    # a container runs (docker-init is the packaged tini)
    host.load_busybox()
    out = host.exec(["docker", "run", "--rm", "--init", "busybox:lab", "sh", "-c", "echo ok"]).stdout
    assert out.strip() == "ok"
    # the rootless extras are Docker's: rootlesskit and the scripts of the same engine release, in /usr/bin
    assert host.exec(["dpkg-query", "-S", "/usr/bin/rootlesskit"]).stdout.startswith("docker-ce-rootless-extras:")
    owner = host.exec(["dpkg-query", "-S", "/usr/bin/dockerd-rootless.sh"]).stdout
    assert owner.startswith("docker-ce-rootless-extras:")


def at_new_set(host) -> dict:
    """The host at the docker-ce new set, whatever ran before on it: xdist may hand this file's tests to a worker
    between other files' tests, and pytest then starts the module's host afresh."""
    pins = lab.docker_ce_pins("new")
    res = host.exec(["dpkg-query", "-W", "-f=${Package}\t${Version}\n", *pins], check=False)
    if dict(line.split("\t") for line in res.stdout.splitlines() if "\t" in line) != pins:
        host.install_set("new", family="docker-ce", restart=False)
    return lab.MANIFEST["sets"]["new"]


def test_relations_are_dockers(host):
    """What apt would do to the last set's host if asked for Debian's packages: Docker's Conflicts remove the
    family (docker-ce conflicts with docker.io; containerd.io provides, conflicts with and replaces containerd)."""
    new = at_new_set(host)
    sim = host.exec(["apt-get", "install", "-s", "-qq", f"docker.io={new['docker.io']}",
                     f"containerd={new['containerd']}"], check=False).stdout
    removed = set(re.findall(r"^Remv (\S+)", sim, re.M))
    assert {"docker-ce", "containerd.io"} <= removed, sim
    depends = host.exec(["dpkg-query", "-W", "-f=${Depends}", "docker-ce"]).stdout
    assert depends.startswith("containerd.io (>= 1.7.27), docker-ce-cli,")
    provides = host.exec(["dpkg-query", "-W", "-f=${Provides}|${Conflicts}|${Replaces}", "containerd.io"]).stdout
    assert provides == "containerd, runc|containerd, runc|containerd, runc"


def test_debians_docker_cli_takes_dockers_engine_with_it(host):
    """Docker's packaging of these releases does not name Debian's docker-cli (split from docker.io in 26.x) in
    docker-ce-cli's Conflicts; Debian's docker-cli names docker-ce-cli in its own. So asking for docker-cli alone on a
    docker-ce host makes apt remove docker-ce-cli and, through docker-ce's Depends, the engine itself."""
    new = at_new_set(host)
    assert "docker-cli" not in host.exec(["dpkg-query", "-W", "-f=${Conflicts}", "docker-ce-cli"]).stdout
    sim = host.exec(["apt-get", "install", "-s", "-qq", f"docker-cli={new['docker-cli']}"], check=False).stdout
    removed = set(re.findall(r"^Remv (\S+)", sim, re.M))
    assert {"docker-ce-cli", "docker-ce"} <= removed, sim
