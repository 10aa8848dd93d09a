"""Verify on the real lab host after the upgrade role moved it from the old set to the mid set: the daemons run
the target, the agent was moved to a release the new engine accepts and is healthy, the container that ran
before runs with its volume's data unchanged, the kept packages are on the host, the packages are held."""
import json


def test_engine_and_containerd_run_the_target(host):
    server = json.loads(host.check_output("docker version --format '{{json .Server}}'"))
    assert server["Version"] == "26.1.5+dfsg1" and server["ApiVersion"] == "1.45"
    containerd = [c for c in server["Components"] if c["Name"] == "containerd"][0]
    assert containerd["Version"] == "1.7.24~ds1"


def test_agent_moved_and_healthy_on_the_new_engine(host):
    state = json.loads(host.check_output("docker inspect agent"))[0]
    assert state["Config"]["Image"] == "fleetsafe-lab/agent:2.0.0"
    assert state["State"]["Running"] and state["State"]["Health"]["Status"] == "healthy"


def test_container_runs_and_its_volume_is_unchanged(host):
    assert host.check_output("docker inspect -f '{{.State.Status}}' keeper") == "running"
    now = host.check_output("docker run --rm -v keeper-data:/data busybox:lab md5sum /data/blob")
    assert now == host.file("/root/keeper-data.md5").content_string.strip()


def test_previous_packages_kept_and_new_ones_held(host):
    kept = host.check_output("ls /var/backups/fleetsafe-container-engine/*/debs").split()
    assert any(d.startswith("docker.io_20.10.24") for d in kept)
    assert any(d.startswith("containerd_1.6.20") for d in kept)
    held = set(host.check_output("apt-mark showhold").split())
    assert {"docker.io", "docker-cli", "containerd"} <= held
    assert not host.file("/etc/apt/sources.list.d/fleetsafe-lab.list").exists
