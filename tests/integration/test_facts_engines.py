"""docker_facts / container_engine_facts on the three real version sets: the API range they report is
what the daemon says on its unversioned /version AND what pinned requests really get."""
from __future__ import annotations

import json

import pytest
from _facts import adhoc, ask, bump, facts, runc_shim_version, shim_protocols

EXPECTED = {  # read from these engines in the lab (docs/incidents.md#lab-api-ranges); re-read live here
    "old": ("20.10.24+dfsg1", "1.41", "1.12", "1.6.20", [1], 1),
    "mid": ("26.1.5+dfsg1", "1.45", "1.24", "1.7.24", [1, 2], 1),
    "new": ("28.5.2+dfsg4", "1.51", "1.24", "2.1.9", [1, 2, 3], 3),
}


def message(body) -> str:
    """Error text: {"message": ...} JSON, or plain text (26.x/28.x answer "too old" as text/plain)."""
    return body["message"] if isinstance(body, dict) else body.strip()


@pytest.mark.parametrize("set_name", ["old", "mid", "new"])
def test_engine_api_range_is_real(set_name, lab_host_factory, ansible_env):
    host = lab_host_factory(set_name)
    result = adhoc(host, ansible_env, check=True)
    assert result["changed"] is False and result["can_talk_to_docker"] is True
    docker = facts(result)["docker"]
    version, api, min_api, containerd, accepted, produced = EXPECTED[set_name]
    assert (docker["version"], docker["api_version"], docker["min_api_version"]) == (version, api, min_api)

    # what the daemon itself says, unversioned, and what requests pinned to each edge get
    too_new, too_old = bump(api, +1), bump(min_api, -1)
    answers = ask(host, "/version", f"/v{api}/version", f"/v{too_new}/version", f"/v{min_api}/version",
                  f"/v{too_old}/version")
    status, unversioned = answers["/version"]
    assert status == 200
    assert (unversioned["ApiVersion"], unversioned["MinAPIVersion"]) == (docker["api_version"],
                                                                         docker["min_api_version"])
    assert answers[f"/v{api}/version"][0] == 200
    assert answers[f"/v{min_api}/version"][0] == 200
    status, body = answers[f"/v{too_new}/version"]
    assert status == 400
    assert message(body) == f"client version {too_new} is too new. Maximum supported API version is {api}"
    status, body = answers[f"/v{too_old}/version"]
    assert status == 400
    assert message(body).startswith(f"client version {too_old} is too old. Minimum supported API version is "
                                    f"{min_api}")

    # the rest against the host's own tools
    server = json.loads(host.exec(["docker", "version", "--format", "{{json .Server}}"]).stdout)
    assert docker["components"]["containerd"]["version"] == [
        c for c in server["Components"] if c["Name"] == "containerd"][0]["Version"]
    assert docker["stale"] is False and docker["package_family"] == "debian"
    assert docker["packages"]["docker.io"].startswith(version.split("+")[0])
    assert docker["installed_version"] == version.split("+")[0]

    c = facts(result)["containerd"]
    assert c["running_version"] == c["installed_version"] == containerd
    assert c["restart_required"] is False
    # the facts report versions only; the knowledge base says which shim protocols they speak
    assert "shim_protocol_accepted" not in c and "shim_protocol_produced" not in c
    assert (shim_protocols(c["running_version"])[0], shim_protocols(runc_shim_version(c))[1]) == (accepted, produced)
    shim = host.exec(["containerd-shim-runc-v2", "-v"]).stdout
    assert [s for s in c["shims"] if s["name"] == "containerd-shim-runc-v2"][0]["version"] in shim


def test_client_container_pinning_an_old_api(lab_host_factory, ansible_env):
    host = lab_host_factory("mid")
    host.load_busybox()
    host.sh("docker run -d --name pinned-client -v /var/run/docker.sock:/var/run/docker.sock "
            "-e DOCKER_API_VERSION=1.23 --label team=ops busybox:lab sleep 600 >/dev/null\n"
            "docker run -d --name bystander busybox:lab sleep 600 >/dev/null")
    result = adhoc(host, ansible_env, module="clients_facts",
                   args={"declared": [{"name": "ecs-agent", "api_version": "1.21"},
                                      {"name": "captain", "image": "caprover/caprover:1.12.0"}]})
    clients = facts(result)["clients"]
    assert clients["error"] is None
    [mount] = clients["socket_mounts"]
    inspect = json.loads(host.exec(["docker", "inspect", "pinned-client"]).stdout)[0]
    assert mount["id"] == inspect["Id"][:12]
    assert (mount["name"], mount["image"], mount["image_name"], mount["image_tag"]) == (
        "pinned-client", "busybox:lab", "busybox", "lab")
    assert mount["state"] == "running" and mount["socket_path"] == "/var/run/docker.sock"
    assert mount["api_version_env"] == "1.23" and mount["labels"] == {"team": "ops"}
    assert [d["name"] for d in clients["declared"]] == ["ecs-agent", "captain"]
    assert clients["declared"][1]["image_tag"] == "1.12.0"
    # the engine (26.1.5, min API 1.24) really refuses what that client pins
    status, body = ask(host, "/v1.23/version")["/v1.23/version"]
    assert status == 400 and "client version 1.23 is too old" in message(body)
