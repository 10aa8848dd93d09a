"""Real clients at pinned versions against the lab's engines: the knowledge base's prediction holds.

The docker CLI of each lab set (20.10.24 from docker.io, 26.1.5 and 28.5.2 from docker-cli) is a real,
pinned client that negotiates. Each of the three binaries talks to each of the three engines; for every
pair the findings computed from the knowledge base (clients.yml rows for the `docker` image, engines.yml)
say whether it works, and which API version it settles on is predicted as min(row api_max, engine api_max).
"""
from __future__ import annotations

import subprocess
import tempfile
import uuid
from pathlib import Path

import lab
import pytest
from ansible_collections.fleetsafe.container_engine.plugins.filter.compat_findings import FilterModule
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils import _kb
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._predict import engine_api_range
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._versions import (
    format_api,
    parse_api,
    parse_version,
)

SETS = ["old", "mid", "new"]
compat_findings = FilterModule().filters()["compat_findings"]


@pytest.fixture(scope="module")
def hosts(lab_ready):
    made = {}
    tag = uuid.uuid4().hex[:6]
    try:
        for set_name in SETS:
            host = lab.LabHost(f"fleetsafe-truth-cli-{set_name}-{tag}")
            made[set_name] = host
            host.start()
            host.install_set(set_name)
        yield made
    finally:
        for host in made.values():
            host.remove()


def cli_version(host: lab.LabHost) -> str:
    return host.exec(["docker", "version", "--format", "{{.Client.Version}}"]).stdout.strip()


def test_pinned_docker_clis_against_every_lab_engine(hosts):
    clis = {}
    with tempfile.TemporaryDirectory() as tmp:
        for set_name, host in hosts.items():
            version = cli_version(host)
            local = Path(tmp) / f"docker-{set_name}"
            subprocess.run([lab.DOCKER, "cp", f"{host.name}:/usr/bin/docker", str(local)], check=True)
            clis[set_name] = version
            for other in hosts.values():
                subprocess.run([lab.DOCKER, "cp", str(local), f"{other.name}:/usr/local/bin/docker-{set_name}"],
                               check=True)
    results = []
    for host in hosts.values():
        engine = host.exec(["dockerd", "--version"]).stdout.split()[2].rstrip(",")
        rng = engine_api_range(engine)
        for cli_set, cli in clis.items():
            row = _kb.builtin().client_row("docker", parse_version(cli))
            assert row is not None and row["negotiates"], (cli, row)
            facts = {"container_engine": {"clients": {
                "socket_mounts": [], "declared": [{"name": "cli", "image": f"docker:{cli}"}], "error": None}}}
            blockers = [f for f in compat_findings(facts, {"engine": engine})
                        if f["component"].startswith("client") and f["severity"] == "blocker"]
            res = host.exec([f"/usr/local/bin/docker-{cli_set}", "version", "--format", "{{.Client.APIVersion}}"],
                            check=False)
            negotiated = res.stdout.strip()
            expected = format_api(min(parse_api(row["api_max"]), parse_api(rng["max"])))
            results.append((cli, engine, not blockers, res.returncode == 0, expected, negotiated, res.stderr[-300:]))
    wrong = [r for r in results if r[2] != r[3] or (r[3] and r[4] != r[5])]
    assert len(results) == 9
    assert wrong == [], "(cli, engine, predicted ok, real ok, predicted API, negotiated API, stderr):\n" + \
        "\n".join(map(repr, wrong))
