"""api_client_move's create request: what the old container was created with is kept, what its image gave it is
left to the new image. (The whole move runs against real engines in tests/integration/test_api_clients.py.)"""
from __future__ import annotations

from ansible_collections.fleetsafe.container_engine.plugins.modules.api_client_move import create_body

OLD_ID = "8b899c3ecce8" + "0" * 52
IMAGE = {"Config": {"Env": ["PATH=/usr/bin:/bin", "HOME=/tmp"], "Cmd": ["/agent"], "Entrypoint": None,
                    "Labels": {"org.opencontainers.image.version": "1.0.0"}, "User": "",
                    "Healthcheck": {"Test": ["CMD", "/health"], "Interval": 3000000000},
                    "ExposedPorts": {"9000/tcp": {}}, "Volumes": {"/state": {}}}}


def container(**config):
    base = {"Hostname": OLD_ID[:12], "Image": "agent:1.0.0", "Env": IMAGE["Config"]["Env"] + ["TEAM=ops"],
            "Cmd": ["/agent"], "Entrypoint": None, "User": "", "Healthcheck": IMAGE["Config"]["Healthcheck"],
            "Labels": {"org.opencontainers.image.version": "1.0.0", "team": "ops"},
            "ExposedPorts": {"9000/tcp": {}, "80/tcp": {}}, "Volumes": {"/state": {}}}
    base.update(config)
    return {"Id": OLD_ID, "Name": "/agent", "Config": base,
            "HostConfig": {"Binds": ["/var/run/docker.sock:/var/run/docker.sock"], "NetworkMode": "agentnet",
                           "RestartPolicy": {"Name": "always"}, "Links": ["/db:/agent/database"],
                           "PortBindings": {"80/tcp": [{"HostPort": "8080"}]}},
            "Mounts": [{"Type": "bind", "Source": "/var/run/docker.sock", "Destination": "/var/run/docker.sock"},
                       {"Type": "volume", "Name": "abc123", "Destination": "/state", "RW": True}],
            "NetworkSettings": {"Networks": {
                "agentnet": {"Aliases": ["ag", OLD_ID[:12]], "IPAMConfig": None},
                "backend": {"Aliases": None, "IPAMConfig": {"IPv4Address": "10.9.0.5"}}}}}


def test_the_old_images_settings_are_left_to_the_new_image_and_the_containers_own_are_kept():
    body, extra = create_body(container(), IMAGE, "agent:2.0.0", {})
    assert body["Image"] == "agent:2.0.0" and "Hostname" not in body
    assert body["Env"] == ["TEAM=ops"] and body["Labels"] == {"team": "ops"}
    for key in ("Cmd", "Healthcheck", "User"):
        assert key not in body, key
    assert body["ExposedPorts"] == {"80/tcp": {}} and body["Volumes"] is None
    host = body["HostConfig"]
    assert host["RestartPolicy"] == {"Name": "always"} and host["PortBindings"] == {"80/tcp": [{"HostPort": "8080"}]}
    assert host["Links"] == ["db:database"]
    # the anonymous volume is attached again, not replaced by an empty one
    assert host["Binds"] == ["/var/run/docker.sock:/var/run/docker.sock", "abc123:/state"]
    assert body["NetworkingConfig"] == {"EndpointsConfig": {"agentnet": {
        "IPAMConfig": None, "Links": None, "Aliases": ["ag"], "DriverOpts": None}}}
    assert extra == {"backend": {"IPAMConfig": {"IPv4Address": "10.9.0.5"}, "Links": None, "Aliases": None,
                                 "DriverOpts": None}}


def test_an_entrypoint_of_its_own_keeps_its_command_and_a_healthcheck_of_its_own_is_kept():
    own_check = {"Test": ["CMD", "/health"], "Interval": 1000000000}
    body, _extra = create_body(container(Entrypoint=["/bin/sh"], Cmd=["-c", "exec /agent"], Healthcheck=own_check,
                                         User="0:0", Hostname="agent-1"), IMAGE, "agent:2.0.0", {})
    assert body["Entrypoint"] == ["/bin/sh"] and body["Cmd"] == ["-c", "exec /agent"]
    assert body["Healthcheck"] == own_check and body["User"] == "0:0" and body["Hostname"] == "agent-1"


def test_env_overrides_replace_the_containers_own_entry():
    body, _extra = create_body(container(Env=["TEAM=ops", "DOCKER_API_VERSION=1.23"]), IMAGE, "agent:1.0.0",
                               {"DOCKER_API_VERSION": "1.24"})
    assert body["Env"] == ["TEAM=ops", "DOCKER_API_VERSION=1.24"]
