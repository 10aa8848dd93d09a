"""Packages upgraded under running daemons (docs/incidents.md#containerd-shim-v3 and
docs/incidents.md#lab-engine-package-no-restart): containerd 2.1.9 installed under a running 1.7.24 daemon,
docker.io 28.5.2 under a running 26.1.5 dockerd; then the restarts."""
from __future__ import annotations

from _facts import adhoc, facts, runc_shim_version, shim_protocols


def test_upgrade_without_restart_then_restarts(lab_host_factory, ansible_env):
    host = lab_host_factory("mid")
    before = facts(adhoc(host, ansible_env))
    assert before["containerd"]["restart_required"] is False and before["docker"]["stale"] is False

    host.install_set("new", restart=False, no_restart_policy=True)
    ctr = host.exec(["ctr", "version"], check=False).stdout  # containerd's own view: client 2.1.9, server 1.7.24
    assert "Version:  2.1.9+unknown" in ctr and "Version:  1.7.24~ds1" in ctr

    result = adhoc(host, ansible_env, check=True)
    assert result["changed"] is False
    c, docker = facts(result)["containerd"], facts(result)["docker"]
    assert (c["installed_version"], c["running_version"]) == ("2.1.9", "1.7.24")
    assert (c["installed_version_raw"], c["running_version_raw"]) == ("2.1.9+unknown", "1.7.24~ds1")
    assert c["restart_required"] is True and c["exe_deleted"] is True
    assert "running 1.7.24 != installed 2.1.9" in c["restart_reasons"]
    # observed: a 2.1.9 runc shim under a running 1.7.24 daemon; the knowledge base: it answers 3, 1.7 accepts [1, 2]
    assert runc_shim_version(c) == "2.1.9"
    assert shim_protocols(c["running_version"])[0] == [1, 2] and shim_protocols(runc_shim_version(c))[1] == 3
    assert (docker["version"], docker["installed_version"], docker["stale"]) == ("26.1.5+dfsg1", "28.5.2", True)
    assert docker["packages"]["docker.io"] == "28.5.2+dfsg4-5"

    host.sh("systemctl restart containerd")
    c = facts(adhoc(host, ansible_env, module="containerd_facts"))["containerd"]
    assert c["restart_required"] is False and c["restart_reasons"] == []
    assert c["running_version"] == "2.1.9" and shim_protocols(c["running_version"])[0] == [1, 2, 3]

    docker = facts(adhoc(host, ansible_env, module="docker_facts"))["docker"]
    assert docker["stale"] is True  # dockerd 26.1.5 still runs

    host.sh("systemctl restart docker")
    docker = facts(adhoc(host, ansible_env, module="docker_facts"))["docker"]
    assert (docker["version"], docker["api_version"], docker["stale"]) == ("28.5.2+dfsg4", "1.51", False)
    assert docker["exe_deleted"] is False
