"""Verify on the real lab host: pinned versions installed and held, daemons running, a container runs."""

PINS = {
    "docker.io": "20.10.24+dfsg1-1+deb12u1+b6",
    "containerd": "1.6.20~ds1-1+deb12u3",
    "runc": "1.1.5+ds1-1+deb12u1",
    "tini": "0.19.0-1+b3",
}


def test_pinned_packages_installed_and_held(host):
    for name, version in PINS.items():
        pkg = host.package(name)
        assert pkg.is_installed, name
        assert pkg.version == version, (name, pkg.version)
    held = host.check_output("apt-mark showhold").split()
    assert sorted(held) == sorted(PINS)


def test_daemons_running(host):
    for unit in ("containerd", "docker"):
        svc = host.service(unit)
        assert svc.is_running, unit
        assert svc.is_enabled, unit


def test_engine_reports_installed_version(host):
    fmt = "'{{.Server.Version}} {{.Server.APIVersion}} {{.Server.MinAPIVersion}}'"
    out = host.check_output(f"docker version --format {fmt}")
    assert out.split() == ["20.10.24+dfsg1", "1.41", "1.12"]


def test_a_container_runs_inside_the_lab_host(host):
    host.run_test("docker rm -f fleetsafe-verify >/dev/null 2>&1 || true")
    host.check_output("docker image inspect busybox:lab >/dev/null 2>&1 || "
                      "docker import /srv/repo/images/busybox.tar busybox:lab")
    out = host.check_output("docker run --rm --name fleetsafe-verify busybox:lab sh -c 'echo hello from $(uname -s)'")
    assert out.strip() == "hello from Linux"
