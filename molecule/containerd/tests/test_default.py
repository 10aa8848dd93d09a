"""Verify on the real lab host: containerd pinned, held and running as the installed version."""

PINS = {"containerd": "1.7.24~ds1-6+deb13u1", "runc": "1.1.5+ds1-1+deb12u1"}


def test_pinned_packages_installed_and_held(host):
    for name, version in PINS.items():
        pkg = host.package(name)
        assert pkg.is_installed, name
        assert pkg.version == version, (name, pkg.version)
    assert sorted(host.check_output("apt-mark showhold").split()) == sorted(PINS)


def test_daemon_answers_as_the_installed_version(host):
    assert host.service("containerd").is_running
    out = host.check_output("ctr version")
    server = out.split("Server:")[1]
    assert "Version:  1.7.24~ds1" in server, out
    pid = host.check_output("systemctl show -p MainPID --value containerd")
    assert not host.check_output(f"readlink /proc/{pid}/exe").endswith("(deleted)")


def test_started_once_by_its_package_and_never_restarted_by_the_role(host):
    # converge installed it (the package started it), idempotence and check mode must not restart it
    starts = host.check_output("journalctl -q -o cat -u containerd | grep -c '^Started ' || true")
    assert starts.strip() == "1"
