"""Record the fixtures of tests/unit/modules/ from real daemons in lab hosts.

    python3 tests/unit/modules/record_fixtures.py            # all scenarios (~2 min)
    python3 tests/unit/modules/record_fixtures.py old mid    # only those whose name starts so
    FLEETSAFE_LAB_PREFIX=me python3 tests/unit/modules/record_fixtures.py socket   # lab hosts named me-rec-*

Each scenario puts a lab host in a real state (a version set, an upgrade without restart, a stopped
daemon, a rootless daemon, a client container) and runs the gatherers there through RecordingHost;
the fixture keeps every answer the host gave and the facts computed from them.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
FIXTURES = HERE / "fixtures"
sys.path.insert(0, str(ROOT / "tests" / "lab"))
sys.path.insert(0, str(ROOT / "tests" / "integration"))
sys.path.insert(0, str(ROOT / "build" / "collections"))
import lab  # noqa: E402
from _facts import ROOTLESS_SETUP, rootless_start  # noqa: E402

MU = ROOT / "plugins" / "module_utils"
REC = "/tmp/fsf-rec"

CLIENT = ("docker rm -f fsf-client >/dev/null 2>&1 || true; "
          "docker run -d --name fsf-client --label fleetsafe.test=client -v /var/run/docker.sock:/var/run/docker.sock "
          "-e DOCKER_API_VERSION=1.23 busybox:lab sleep 3600 >/dev/null")


def record(host: lab.LabHost, name: str, description: str, user: str | None = None,
           declared: list | None = None, docker_socket: str | None = None, host_processes: bool = False,
           registries: list | None = None) -> None:
    # docker cp cannot write into the tmpfs at /tmp of a lab host: stream a tar through docker exec.
    host.exec(["rm", "-rf", REC])
    host.exec(["mkdir", "-p", f"{REC}/ansible_collections/fleetsafe/container_engine"])
    tar = subprocess.run(["tar", "-C", str(ROOT), "--exclude=__pycache__", "-cf", "-", "plugins/module_utils",
                          "-C", str(HERE), "recording.py", "_record_runner.py"], stdout=subprocess.PIPE, check=True)
    subprocess.run([lab.DOCKER, "exec", "-i", host.name, "tar", "-C",
                    f"{REC}/ansible_collections/fleetsafe/container_engine", "-xf", "-"], input=tar.stdout, check=True)
    # the registry client needs ansible.module_utils (urls), which AnsiballZ ships with a module: ship it here too
    import ansible
    site = Path(ansible.__file__).resolve().parents[1]
    tar = subprocess.run(["tar", "-C", str(site), "--exclude=__pycache__", "-cf", "-", "ansible/__init__.py",
                          "ansible/release.py", "ansible/_vendor", "ansible/module_utils"],
                         stdout=subprocess.PIPE, check=True)
    subprocess.run([lab.DOCKER, "exec", "-i", host.name, "tar", "-C", REC, "-xf", "-"], input=tar.stdout, check=True)
    host.exec(["mv", f"{REC}/ansible_collections/fleetsafe/container_engine/recording.py",
               f"{REC}/ansible_collections/fleetsafe/container_engine/_record_runner.py", REC])
    host.exec(["chmod", "-R", "a+rX", REC])
    res = host.exec(["python3", f"{REC}/_record_runner.py", json.dumps(declared or []),
                     docker_socket or "/var/run/docker.sock", json.dumps(host_processes),
                     json.dumps(registries or [])], user=user)
    data = json.loads(res.stdout)
    data = {"scenario": name, "description": description, "user": user or "root", "declared": declared or [],
            **({"docker_socket": docker_socket} if docker_socket else {}),
            **({"host_processes": True} if host_processes else {}),
            **({"registries": registries} if registries else {}), **data}
    FIXTURES.mkdir(exist_ok=True)
    (FIXTURES / f"{name}.json").write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"recorded {name}: {len(data['calls'])} calls", file=sys.stderr)


def scenario_old(host: lab.LabHost) -> None:
    record(host, "nodocker", "fresh lab host, no Docker installed")
    host.install_set("old")
    host.load_busybox()
    host.sh(CLIENT)
    record(host, "old", "old set (docker.io 20.10.24, containerd 1.6.20) with a client container that mounts "
           "the socket and pins DOCKER_API_VERSION=1.23",
           declared=[{"name": "ecs-agent", "api_version": "1.21"},
                     {"name": "captain", "image": "caprover/caprover:1.12.0"}])
    host.exec(["useradd", "-m", "bob"])
    record(host, "old_unprivileged", "old set, gathered as an unprivileged user (bob)", user="bob")
    host.sh("systemctl stop docker.service")
    record(host, "old_stopped_socket_active", "old set, docker.service stopped, docker.socket still active")
    host.sh("systemctl stop docker.socket docker.service")
    record(host, "old_stopped", "old set, docker.service and docker.socket stopped")


def scenario_mid(host: lab.LabHost) -> None:
    host.install_set("mid")
    host.sh("mkdir -p /etc/systemd/system/docker.service.d /etc/docker\n"
            "printf '[Service]\\nEnvironment=\"DOCKER_MIN_API_VERSION=1.24\"\\n' "
            "> /etc/systemd/system/docker.service.d/min-api.conf\n"
            "printf '{\"live-restore\": true}\\n' > /etc/docker/daemon.json\n"
            "systemctl daemon-reload; systemctl restart docker")
    record(host, "mid", "mid set (docker.io 26.1.5, containerd 1.7.24), DOCKER_MIN_API_VERSION=1.24 in a "
           "drop-in, live-restore on")
    host.install_set("new", restart=False, no_restart_policy=True)
    record(host, "mid_upgraded_no_restart", "mid set running, new set (docker.io 28.5.2, containerd 2.1.9) "
           "installed without restarting either daemon")
    host.sh("systemctl restart containerd")
    record(host, "mid_upgraded_containerd_restarted", "as mid_upgraded_no_restart, then containerd restarted "
           "(dockerd 26.1.5 still running)")
    host.sh("systemctl restart docker")
    record(host, "new_after_upgrade", "mid -> new upgrade, both daemons restarted")


def scenario_rootless(host: lab.LabHost) -> None:
    host.install_set("new")
    host.sh(ROOTLESS_SETUP)
    host.sh(rootless_start("builtin"))
    record(host, "new_rootless_builtin", "new set, rootless dockerd 28.5.2 of alice (systemd user unit, linger), "
           "port driver builtin")
    host.sh(rootless_start("slirp4netns"))
    record(host, "new_rootless_slirp4netns", "new set, rootless dockerd 28.5.2 of alice, port driver slirp4netns")
    # an override written for the next start only: a drop-in of her user unit and an environment file it names
    host.sh("install -d -o alice -g alice /home/alice/.config/systemd/user/docker.service.d\n"
            "printf '[Service]\\nEnvironment=DOCKER_MIN_API_VERSION=1.17\\nEnvironmentFile=-%%h/.docker-env\\n' "
            "> /home/alice/.config/systemd/user/docker.service.d/min-api.conf\n"
            "echo DOCKER_MIN_API_VERSION=1.23 > /home/alice/.docker-env")
    record(host, "new_rootless_min_api_dropin", "new set, rootless dockerd 28.5.2 of alice (not restarted) whose user "
           "unit has a drop-in setting DOCKER_MIN_API_VERSION=1.17 and naming %h/.docker-env (1.23)")


def scenario_socket(host: lab.LabHost) -> None:
    host.install_set("old")
    record(host, "old_socket_elsewhere", "old set running (dockerd -H fd://, systemd's docker.socket listens on "
           "/run/docker.sock), asked on a socket that does not exist", docker_socket="/run/nope/docker.sock")


FLAGS_DROPIN = ("[Service]\nExecStart=\n"
                "ExecStart=/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock "
                "--api-cors-header=* --log-opt max-size=10m\n")


def scenario_flags(host: lab.LabHost) -> None:
    host.install_set("mid")
    host.exec(["bash", "-c", "mkdir -p /etc/systemd/system/docker.service.d && "
               "cat > /etc/systemd/system/docker.service.d/flags.conf"], input=FLAGS_DROPIN)
    host.sh("update-alternatives --set iptables /usr/sbin/iptables-legacy\n"
            "update-alternatives --set ip6tables /usr/sbin/ip6tables-legacy\n"
            "systemctl daemon-reload; systemctl restart docker")
    record(host, "mid_flags_dropin", "mid set (docker.io 26.1.5); a drop-in replaces ExecStart= with one that adds "
           "--api-cors-header=* and --log-opt max-size=10m; iptables switched to the legacy backend")


# A docker CLI pinned to API 1.24 as a systemd service, docker-py 2.0.0 (PyPI, speaks 1.24) streaming events from a
# plain background process, and a service that only declares DOCKER_HOST (never started).
HOSTCLIENTS = r"""
systemd-run --unit fs-events --setenv=DOCKER_API_VERSION=1.24 /usr/bin/docker events >/dev/null
setsid env PYTHONPATH=/opt/fs-pyclients/docker-2.0.0 python3 -c \
  'import docker; [print(e, flush=True) for e in docker.from_env().events()]' >/dev/null 2>&1 < /dev/null &
printf '[Unit]\nDescription=nightly prune\n[Service]\nType=oneshot\nEnvironment=DOCKER_HOST=unix:///run/docker.sock\n\
Environment=DOCKER_API_VERSION=1.41\nExecStart=/usr/bin/docker system prune -f\n' > /etc/systemd/system/fs-prune.service
for i in $(seq 50); do ss -x 2>/dev/null | grep -c docker.sock | grep -qx '[2-9]' && break; sleep 0.2; done
"""


def scenario_hostclients(host: lab.LabHost) -> None:
    from test_truth_clients import copy_tree, pyclient_tree
    host.install_set("new")
    copy_tree(host, pyclient_tree("docker", "2.0.0"), "/opt/fs-pyclients/docker-2.0.0")
    host.sh(HOSTCLIENTS)
    record(host, "new_host_clients", "new set (docker.io 28.5.2): `docker events` (docker-cli 28.5.2) as the "
           "transient service fs-events.service with DOCKER_API_VERSION=1.24; a python3 process streaming events "
           "with docker-py 2.0.0 (PyPI, on its PYTHONPATH), outside any unit; fs-prune.service (not started) "
           "declares DOCKER_HOST and DOCKER_API_VERSION=1.41", host_processes=True)


def scenario_floating(host: lab.LabHost) -> None:
    from _floating import REGISTRY_URL, setup
    host.install_set("old")
    setup(host)
    record(host, "old_floating_tags", "old set; socket clients on floating tags: fleetsafe-lab/agent:latest (3.0.0 "
           "with an org.opencontainers.image.version label), 127.0.0.1:5000/fleetsafe-lab/agent:latest (2.0.0, "
           "pushed with its release tags to docker-registry in the host, asked with registries), "
           "fleetsafe-lab/agent:stable (2.0.0, nothing tells), acme/thing:latest (busybox)",
           registries=[{"url": REGISTRY_URL}])


def scenario_ce(host: lab.LabHost) -> None:
    host.install_set("mid", family="docker-ce")
    record(host, "ce_mid", "docker-ce family, mid set (Docker's docker-ce 5:26.1.5-1~debian.12~bookworm, "
           "containerd.io 1.7.24-1, built by the lab around Debian's binaries)")


SCENARIOS = {"old": scenario_old, "mid": scenario_mid, "rootless": scenario_rootless, "socket": scenario_socket,
             "flags": scenario_flags, "hostclients": scenario_hostclients, "floating": scenario_floating,
             "ce": scenario_ce}


def main(argv: list[str]) -> int:
    lab.build()
    chosen = [n for n in SCENARIOS if not argv or any(n.startswith(a) for a in argv)]
    for name in chosen:
        host = lab.LabHost(f"{os.environ.get('FLEETSAFE_LAB_PREFIX', 'fsfacts')}-rec-{name}")
        t0 = time.monotonic()
        try:
            host.start()
            SCENARIOS[name](host)
        finally:
            host.remove()
        print(f"{name}: {time.monotonic() - t0:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
