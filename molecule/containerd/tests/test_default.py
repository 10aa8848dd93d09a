"""Verify on the real lab host: containerd pinned, held and running as the installed version."""
import json

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


def test_role_outcome_of_the_last_run(host):
    # written by the idempotence run (check mode writes nothing): a host at the target changes nothing
    result = json.loads(host.file("/root/containerd_result.json").content_string)
    assert result["changed"] is False and result["restarted"] is False, result
    assert result["package_after"] == PINS["containerd"]

