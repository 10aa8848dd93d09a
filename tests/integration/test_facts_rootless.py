"""rootless_facts against a rootless dockerd 28.5.2 run by a user inside a lab host, with the builtin and
the slirp4netns port driver; each compared with what rootlesskit and dockerd themselves report."""
from __future__ import annotations

from _facts import ROOTLESS_SETUP, adhoc, ask, facts, rootless_start


def test_rootless_daemon_with_each_port_driver(lab_host_factory, ansible_env):
    host = lab_host_factory("new")
    host.sh(ROOTLESS_SETUP)
    for port_driver in ("builtin", "slirp4netns"):
        host.sh(rootless_start(port_driver))
        result = adhoc(host, ansible_env, module="rootless_facts", check=True)
        assert result["changed"] is False
        rootless = facts(result)["rootless"]
        assert rootless["error"] is None
        [daemon] = rootless["daemons"]

        # what dockerd reports for rootlesskit (asked as alice on her socket)...
        status, version = ask(host, "/version", socket_path="/run/user/1000/docker.sock",
                              user="alice")["/version"]
        assert status == 200
        kit = [c for c in version["Components"] if c["Name"] == "rootlesskit"][0]
        assert kit["Details"]["PortDriver"] == port_driver
        # ...and rootlesskit's own command line
        kit_cmd = host.exec(["ps", "-o", "args=", "-p", str(daemon["rootlesskit_pid"])]).stdout
        assert f"--port-driver={port_driver}" in kit_cmd and "--net=slirp4netns" in kit_cmd
        pid = host.exec(["pgrep", "-u", "alice", "-x", "dockerd"]).stdout.split()

        assert daemon["pid"] == int(pid[0])
        assert (daemon["user"], daemon["uid"], daemon["socket"]) == ("alice", 1000, "/run/user/1000/docker.sock")
        assert daemon["port_driver"] == port_driver == kit["Details"]["PortDriver"]
        assert daemon["net_driver"] == kit["Details"]["NetworkDriver"] == "slirp4netns"
        assert daemon["rootlesskit_version"] == kit["Version"] == "2.0.2"
        assert daemon["slirp4netns_version"] == "1.2.0"
        assert (daemon["engine_version"], daemon["api_version"], daemon["min_api_version"]) == (
            version["Version"], version["ApiVersion"], version["MinAPIVersion"])
        assert daemon["engine_version"] == "28.5.2+dfsg4"
        assert daemon["systemd_unit"] == "docker.service" and daemon["linger"] is True

    # the system engine and containerd are still the rootful ones
    everything = facts(adhoc(host, ansible_env))
    assert everything["docker"]["pid"] != daemon["pid"]
    assert everything["containerd"]["running_version"] == "2.1.9"
    assert len(everything["rootless"]["daemons"]) == 1
