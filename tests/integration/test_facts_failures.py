"""Hosts where the facts cannot all be had: each gives one clear sentence naming the fix, no traceback,
and nothing on the host changes (a stopped daemon stays stopped)."""
from __future__ import annotations

from _facts import adhoc, facts


def test_no_docker_installed(lab_host_factory, ansible_env):
    host = lab_host_factory(None)
    result = adhoc(host, ansible_env)
    assert result.get("failed") is not True and result["can_talk_to_docker"] is False
    f = facts(result)
    assert f["docker"]["error"] == ("Docker is not installed on this host (no dockerd binary, no socket at "
                                    "/var/run/docker.sock): install the docker.io or docker-ce package.")
    assert f["containerd"]["error"].startswith("containerd is not installed on this host: install")
    assert f["rootless"] == {"daemons": [], "error": None}
    failed = adhoc(host, ansible_env, module="docker_facts", args={"fail_on_error": True})
    assert failed["failed"] is True and failed["can_talk_to_docker"] is False
    assert failed["msg"].startswith("docker: Docker is not installed on this host")


def test_unprivileged_user_stopped_daemon_and_missing_library(lab_host_factory, ansible_env):
    host = lab_host_factory("old")
    host.exec(["useradd", "-m", "bob"])

    # a user who may not read the socket
    result = adhoc(host, ansible_env, extra_vars={"ansible_user": "bob"})
    assert result["can_talk_to_docker"] is False
    f = facts(result)
    assert f["docker"]["error"] == ("User bob may not use /var/run/docker.sock (permission denied): run the task "
                                    "with `become: true` or add the user to the docker group.")
    assert f["containerd"]["installed_version"] == "1.6.20" and f["containerd"]["restart_required"] is None
    assert "become: true" in f["containerd"]["error"]
    assert any("permission denied" in str(w) for w in result.get("warnings", []))

    # the daemon stopped, its socket still held by systemd: the module must not wake it up
    host.sh("systemctl stop docker.service")
    f = facts(adhoc(host, ansible_env))
    assert f["docker"]["can_talk_to_docker"] is False
    assert f["docker"]["error"].startswith("The Docker daemon is not running (systemd's docker.socket holds")
    assert f["docker"]["error"].endswith("start it with `systemctl start docker`.")
    assert host.exec(["systemctl", "is-active", "docker.service"], check=False).stdout.strip() == "inactive"
    assert f["docker"]["installed_version"] == "20.10.24"

    # the daemon and its socket stopped
    host.sh("systemctl stop docker.socket docker.service")
    f = facts(adhoc(host, ansible_env, module="docker_facts"))
    assert f["docker"]["can_talk_to_docker"] is False
    assert "The Docker daemon is not running" in f["docker"]["error"]
    assert "start it with `systemctl start docker`" in f["docker"]["error"]
    assert host.exec(["systemctl", "is-active", "docker.service"], check=False).stdout.strip() == "inactive"

    # the docker Python library missing on the host
    host.sh("systemctl start docker")
    host.sh("dpkg -r --force-depends python3-docker >/dev/null 2>&1")
    result = adhoc(host, ansible_env, module="docker_facts")
    docker = facts(result)["docker"]
    assert docker["can_talk_to_docker"] is False
    assert docker["error"] == ("The Python library 'docker' is missing for /usr/bin/python3 on the host: install "
                               "python3-docker (Debian/Ubuntu) or run `pip install docker`.")
    assert docker["packages"]["docker.io"] == "20.10.24+dfsg1-1+deb12u1+b6"
    assert docker["pid"] is not None


def test_tcp_docker_host_is_refused(lab_host_factory, ansible_env):
    host = lab_host_factory(None)
    result = adhoc(host, ansible_env, module="docker_facts", args={"docker_host": "tcp://127.0.0.1:2375"})
    assert result["failed"] is True and result["can_talk_to_docker"] is False
    assert "must be a unix socket" in result["msg"]
