"""Verify on the real lab host after the docker_engine role moved Docker's packages from the old set to the mid
set: the pinned packages installed and held, none of Debian's, the daemons run the installed versions from
Docker's units, the container that ran before runs again with its volume's data unchanged."""
import json

MID = "5:26.1.5-1~debian.12~bookworm"
PINS = {"docker-ce": MID, "docker-ce-cli": MID, "docker-ce-rootless-extras": MID, "containerd.io": "1.7.24-1"}


def test_pinned_packages_installed_and_held(host):
    for name, version in PINS.items():
        pkg = host.package(name)
        assert pkg.is_installed and pkg.version == version, (name, pkg.version)
    assert set(host.check_output("apt-mark showhold").split()) == set(PINS)
    for debian in ("docker.io", "docker-cli", "containerd", "runc", "rootlesskit"):
        assert not host.package(debian).is_installed, debian
    assert not host.file("/etc/apt/sources.list.d/fleetsafe-lab.list").exists


def test_daemons_run_the_installed_versions_from_dockers_units(host):
    server = json.loads(host.check_output("docker version --format '{{json .Server}}'"))
    assert server["Version"] == "26.1.5+dfsg1" and server["ApiVersion"] == "1.45"
    containerd = [c for c in server["Components"] if c["Name"] == "containerd"][0]
    assert containerd["Version"] == "1.7.24~ds1"
    for unit, package in (("docker", "docker-ce"), ("containerd", "containerd.io")):
        svc = host.service(unit)
        assert svc.is_running and svc.is_enabled, unit
        path = host.check_output(f"systemctl show -P FragmentPath {unit}")
        assert host.check_output(f"dpkg-query -S {path}").split(":")[0] == package


def test_container_runs_again_and_its_volume_is_unchanged(host):
    assert host.check_output("docker inspect -f '{{.State.Status}}' keeper") == "running"
    now = host.check_output("docker run --rm -v keeper-data:/data busybox:lab md5sum /data/blob")
    assert now == host.file("/root/keeper-data.md5").content_string.strip()
