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


def test_unprivileged_user_stopped_daemon_and_no_docker_library(lab_host_factory, ansible_env):
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

    # no docker Python library on the host: the facts modules speak HTTP over the socket with the standard
    # library, so everything is read all the same
    host.sh("systemctl start docker")
    host.sh("dpkg -r --force-depends python3-docker >/dev/null 2>&1")
    assert host.exec(["python3", "-c", "import docker"], check=False).returncode != 0
    result = adhoc(host, ansible_env, module="docker_facts")
    docker = facts(result)["docker"]
    assert docker["can_talk_to_docker"] is True and docker["error"] is None
    assert (docker["version"], docker["api_version"], docker["min_api_version"]) == ("20.10.24+dfsg1", "1.41", "1.12")
    assert docker["packages"]["docker.io"] == "20.10.24+dfsg1-1+deb12u1+b6"
    assert docker["pid"] is not None


def test_tcp_docker_host_is_refused(lab_host_factory, ansible_env):
    host = lab_host_factory(None)
    result = adhoc(host, ansible_env, module="docker_facts", args={"docker_host": "tcp://127.0.0.1:2375"})
    assert result["failed"] is True and result["can_talk_to_docker"] is False
    assert "must be a unix socket" in result["msg"]


def test_docker_host_without_a_socket_names_where_dockerd_listens(lab_host_factory, ansible_env):
    """A docker_host with no socket behind it while dockerd runs: the error says where dockerd listens (not that
    it is stopped), and the docker CLI really answers at the address named."""
    host = lab_host_factory("old")
    pid = int(host.exec(["systemctl", "show", "-p", "MainPID", "--value", "docker.service"]).stdout)
    expected = (f"There is no socket at /run/nope/docker.sock, but dockerd runs (pid {pid}) and listens at "
                "unix:///run/docker.sock: point docker_host at unix:///run/docker.sock.")
    result = adhoc(host, ansible_env, args={"docker_host": "unix:///run/nope/docker.sock"})
    f = facts(result)
    assert result["can_talk_to_docker"] is False and f["docker"]["pid"] == pid
    assert f["docker"]["error"] == expected and f["clients"]["error"] == expected
    server = host.exec(["docker", "-H", "unix:///run/docker.sock", "version", "--format", "{{.Server.Version}}"])
    assert server.stdout.strip() == "20.10.24+dfsg1"

    # dockerd given a second socket of its own (-H on its command line): both are named, the first unix one advised
    host.sh("mkdir -p /etc/systemd/system/docker.service.d\n"
            "printf '[Service]\\nExecStart=\\nExecStart=/usr/sbin/dockerd -H fd:// -H unix:///run/alt.sock "
            "--containerd=/run/containerd/containerd.sock\\n' > /etc/systemd/system/docker.service.d/alt.conf\n"
            "systemctl daemon-reload && systemctl restart docker.service")
    pid = int(host.exec(["systemctl", "show", "-p", "MainPID", "--value", "docker.service"]).stdout)
    failed = adhoc(host, ansible_env, module="docker_facts",
                   args={"docker_host": "/run/nope/docker.sock", "fail_on_error": True})
    assert failed["failed"] is True
    assert failed["msg"] == (f"docker: There is no socket at /run/nope/docker.sock, but dockerd runs (pid {pid}) and "
                             "listens at unix:///run/docker.sock, unix:///run/alt.sock: point docker_host at "
                             "unix:///run/docker.sock.")
    server = host.exec(["docker", "-H", "unix:///run/alt.sock", "version", "--format", "{{.Server.Version}}"])
    assert server.stdout.strip() == "20.10.24+dfsg1"


def test_bad_options_are_refused_before_anything_is_read(lab_host_factory, ansible_env):
    """Socket options and declared API versions that cannot work fail at once, one sentence each naming the value;
    a 5,000-character value is echoed shortened."""
    host = lab_host_factory(None)
    cases = [
        ("containerd_facts", {"containerd_socket": "run/containerd/containerd.sock"},
         "containerd_socket must be an absolute path (/run/containerd/containerd.sock), not "
         "'run/containerd/containerd.sock'."),
        ("containerd_facts", {"containerd_socket": "tcp://127.0.0.1:1234"},
         "containerd_socket must be the path of containerd's unix socket (/run/containerd/containerd.sock), not "
         "'tcp://127.0.0.1:1234': this module never opens a network connection, so run it on the containerd host "
         "itself."),
        ("container_engine_facts", {"containerd_socket": "/run/" + "c" * 103},
         "containerd_socket is 108 bytes long, but a unix socket path has at most 107 bytes: '/run/" + "c" * 55
         + "\u2026" + "c" * 20 + "' (108 characters). Give the path the daemon really listens on."),
        ("clients_facts", {"declared": [{"name": "ecs-agent", "api_version": "abc"}]},
         "declared[0].api_version of client 'ecs-agent' must be an Engine API version like \"1.41\", not 'abc'."),
    ]
    for module, args, msg in cases:
        result = adhoc(host, ansible_env, module=module, args=args)
        assert result["failed"] is True and result["msg"] == msg, (module, args, result.get("msg"))
        assert "ansible_facts" not in result
    result = adhoc(host, ansible_env, module="docker_facts", args={"docker_host": "tcp://" + "a" * 5000})
    assert result["failed"] is True and result["can_talk_to_docker"] is False
    assert result["msg"].startswith("docker_host must be a unix socket with an absolute path")
    assert "(5,006 characters)" in result["msg"] and len(result["msg"]) < 400
