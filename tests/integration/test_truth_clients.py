"""Real clients at pinned versions against the lab's engines: the knowledge base's prediction holds.

The docker CLI of each lab set (20.10.24 from docker.io, 26.1.5 and 28.5.2 from docker-cli) is a real,
pinned client that negotiates. Each of the three binaries talks to each of the three engines; for every
pair the findings computed from the knowledge base (clients.yml rows for the `docker` image, engines.yml)
say whether it works, and which API version it settles on is predicted as min(row api_max, engine api_max).

The Python SDK (PyPI `docker`, docker-py) at the first release of every clients.yml row of its own, and
docker-compose v1, installed from PyPI into a cache outside the checkout (FLEETSAFE_PYCLIENTS_CACHE, default
/var/cache/fleetsafe-pyclients, rebuilt when absent), copied into each lab host and run there with the lab
host's python3 against its own /var/run/docker.sock: the SDK's default API version against 20.10.24, 26.1.5,
28.5.2, and 28.5.2 started with DOCKER_MIN_API_VERSION=1.44 and =1.40 (the minimums of Engine 29.0 and 29.3,
which the lab has no package for). The prediction is compat_findings for a declared client of that release
on a host whose engine reports what the real one reports.

Compose v2 as Debian ships it (trixie's docker-compose, a lab extra installed in a host of every set) runs a one-service
project against the same five engine states; the API version it speaks is read off the socket it talks through.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
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

# module-scoped lab hosts: every test of this file runs on one worker (make integration: --dist loadgroup)
pytestmark = pytest.mark.xdist_group("test_truth_clients")

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
            host.start(set_name)
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


# --- the Python SDK and docker-compose v1 ----------------------------------------------------------------------

PYCLIENTS_CACHE = Path(os.environ.get("FLEETSAFE_PYCLIENTS_CACHE", "/var/cache/fleetsafe-pyclients"))
# docker-py before 7.1.0 cannot talk over a unix socket with requests 2.32 or urllib3 2: every release is installed
# with the last versions it works with, so what is measured is its API version, not a dependency break.
PINNED_DEPS = ["requests==2.31.0", "urllib3==1.26.20"]
# PyYAML 5.4.1 (docker-compose 1.29.2 wants PyYAML < 6) builds only with Cython < 3.
BUILD_CONSTRAINTS = "cython<3\n"
DROPIN = "/etc/systemd/system/docker.service.d/fs-truth-min-api.conf"
SDK_SCRIPT = """
import json, sys
import docker
try:
    client = docker.from_env()
    client.containers.list(all=True)
    print(json.dumps({"ok": True, "api": client.api.api_version, "error": None}))
except Exception as exc:
    print(json.dumps({"ok": False, "api": None, "error": str(exc)[-300:]}))
"""


def sdk_releases():
    """The first release of every docker-py row: one real client per row."""
    rows = _kb.builtin().program_rows("docker-py")
    return [row["_spec"].lower_bound().raw for row in rows]


def _pip_version() -> str:
    return subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True, text=True,
                          check=False).stdout.split(" from ")[0].strip() or "pip (version unknown)"


def _pip_takes_build_constraints() -> bool:
    out = subprocess.run([sys.executable, "-m", "pip", "install", "--help"], capture_output=True, text=True,
                         check=False).stdout
    return "--build-constraint" in out


def pyclient_tree(package: str, version: str, *pins: str) -> Path:
    """An installed tree (pip --target) of package==version, its dependencies and ``pins``, built once into the
    cache."""
    tree = PYCLIENTS_CACHE / "-".join([package, version, *(p.replace("==", "-") for p in pins)])
    if (tree / ".complete").exists():
        return tree
    PYCLIENTS_CACHE.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{tree.name}-", dir=PYCLIENTS_CACHE))
    try:
        constraints = work / "constraints.txt"
        constraints.write_text(BUILD_CONSTRAINTS)
        # pip >= 26 applies only build constraints to isolated builds (PIP_CONSTRAINT no longer reaches them);
        # older pip knows only PIP_CONSTRAINT. Give both, so the pin holds whichever pip the venv has.
        env = dict(os.environ, PIP_CONSTRAINT=str(constraints))
        if _pip_takes_build_constraints():
            env["PIP_BUILD_CONSTRAINT"] = str(constraints)
        res = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                              "--target", str(work / "tree"), f"{package}=={version}", *pins, *PINNED_DEPS],
                             capture_output=True, text=True, check=False, env=env)
        if res.returncode != 0:
            lines = [line for line in (res.stderr + res.stdout).splitlines() if line.strip()]
            cause = next((line.strip() for line in reversed(lines) if "Error" in line or "error:" in line),
                         lines[-1].strip() if lines else "no output")
            pytest.fail(f"the real client {package}=={version} could not be installed from PyPI with "
                        f"{_pip_version()} (build constraints: {BUILD_CONSTRAINTS.strip()}): {cause}; last lines:\n"
                        + "\n".join(lines[-8:]), pytrace=False)
        (work / "tree" / ".complete").write_text(f"{package}=={version}\n")
        if tree.exists():
            shutil.rmtree(tree)
        (work / "tree").rename(tree)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return tree


def copy_tree(host: lab.LabHost, tree: Path, dest: str) -> None:
    """Into the lab host through `docker exec -i ... tar` (docker cp into a tmpfs lands under it)."""
    host.exec(["mkdir", "-p", dest])
    tar = subprocess.run(["tar", "-C", str(tree), "-c", "."], capture_output=True, check=True)
    res = subprocess.run([lab.DOCKER, "exec", "-i", host.name, "tar", "-x", "-C", dest], input=tar.stdout,
                         capture_output=True, check=False)
    assert res.returncode == 0, res.stderr


def engine_facts(version: dict, declared: list) -> dict:
    """Facts of a host whose engine reports ``version`` (the unversioned /version) and that declares clients."""
    docker = {
        "can_talk_to_docker": True, "error": None, "socket": "/var/run/docker.sock",
        "version": version["Version"], "api_version": version["ApiVersion"],
        "min_api_version": version["MinAPIVersion"], "components": {}, "storage_driver": "overlay2",
        "cgroup_driver": "systemd", "cgroup_version": "2", "live_restore": False, "security_options": [],
        "containers": {"total": 0, "running": 0, "paused": 0, "stopped": 0},
        "daemon_json_path": "/etc/docker/daemon.json", "daemon_json": {}, "min_api_overrides": [],
        "packages": {}, "package_family": "debian", "installed_version": version["Version"], "stale": False,
    }
    return {"container_engine": {"docker": docker,
                                 "clients": {"socket_mounts": [], "declared": declared, "error": None}}}


def unversioned_version(host: lab.LabHost) -> dict:
    out = host.exec(["python3", "-c", "import http.client, json, socket\n"
                     "class C(http.client.HTTPConnection):\n"
                     "    def connect(self):\n"
                     "        self.sock = socket.socket(socket.AF_UNIX); self.sock.connect('/var/run/docker.sock')\n"
                     "c = C('localhost'); c.request('GET', '/version'); print(c.getresponse().read().decode())"])
    return json.loads(out.stdout)


def restart_with_min_api(host: lab.LabHost, value: str | None) -> None:
    script = f"rm -f {DROPIN}" if value is None else (
        f"mkdir -p {DROPIN.rsplit('/', 1)[0]}; "
        f"printf '[Service]\\nEnvironment=DOCKER_MIN_API_VERSION={value}\\n' > {DROPIN}")
    host.sh(script + "; systemctl daemon-reload; systemctl reset-failed docker.service docker.socket || true; "
            "systemctl restart docker")


def run_sdk(host: lab.LabHost, path: str) -> dict:
    res = host.exec(["env", f"PYTHONPATH={path}", "python3", "-c", SDK_SCRIPT], check=False)
    assert res.returncode == 0, res.stderr[-500:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def predicted(version: dict, declared: dict) -> tuple[bool, list]:
    found = [f for f in compat_findings(engine_facts(version, [declared]), {})
             if f["component"].startswith("client")]
    return not [f for f in found if f["severity"] == "blocker"], found


def lab_states(hosts):
    """(host, its unversioned /version) for every lab engine as installed, then 28.5.2 at the minimums of 29.0 (1.44)
    and 29.3 (1.40); the new host is restored to its default minimum afterwards, whatever happened."""
    states = [(host, None) for host in hosts.values()]
    states += [(hosts["new"], "1.44"), (hosts["new"], "1.40")]
    try:
        for host, min_api in states:
            if min_api is not None:
                restart_with_min_api(host, min_api)
            version = unversioned_version(host)
            if min_api is not None:
                assert version["MinAPIVersion"] == min_api, version
            yield host, version
    finally:
        restart_with_min_api(hosts["new"], None)


def sdk_api(release: str, version: dict) -> str:
    """The API version docker-py ``release`` speaks to an engine that reports ``version``: the engine's own maximum
    when its row negotiates, else the row's version."""
    row = _kb.builtin().program_row("docker-py", parse_version(release))
    return version["ApiVersion"] if row["negotiates"] else row["api_version"]


def test_python_sdk_releases_against_every_lab_engine(hosts):
    releases = sdk_releases()
    trees = {v: pyclient_tree("docker", v) for v in releases}
    for host in hosts.values():
        for v, tree in trees.items():
            copy_tree(host, tree, f"/opt/fs-pyclients/docker-{v}")
    results = []
    for host, version in lab_states(hosts):
        for v in releases:
            ok, found = predicted(version, {"name": "sdk", "program": "docker-py", "version": v})
            real = run_sdk(host, f"/opt/fs-pyclients/docker-{v}")
            results.append((v, version["Version"], version["MinAPIVersion"], ok, real["ok"],
                            sdk_api(v, version) if real["ok"] else None, real["api"], real["error"]))
    wrong = [r for r in results if r[3] != r[4] or r[5] != r[6]]
    assert len(results) == 5 * len(releases) and len(releases) >= 7
    assert any(not r[4] for r in results), "no real refusal was seen: the test would not notice a wrong prediction"
    assert wrong == [], "(sdk, engine, engine min API, predicted ok, real ok, predicted API, real API, error):\n" + \
        "\n".join(map(repr, wrong))


COMPOSE_FILE = "/opt/fs-compose/docker-compose.yml"
# docker-py 7 dropped an argument (kwargs_from_env's ssl_version) that compose 1.27-1.29 pass: those take docker-py 6
COMPOSE_PINS = {"1.29.2": ("docker==6.1.3",)}


# One release per docker-compose row, installable on Python 3.11 (1.25.x wants PyYAML < 5, which does not build on it),
# and 1.29.2, the last v1.
COMPOSE_RELEASES = ("1.26.2", "1.27.0", "1.29.2")


def compose_releases():
    # Compose v2 (a Go binary) is not on PyPI: test_debian_docker_compose_v2_against_every_lab_engine runs Debian's
    # build of it
    rows = [row for row in _kb.builtin().program_rows("docker-compose") if row["id"].startswith("docker-compose-v1-")]
    assert len(rows) >= 2, rows
    uncovered = [row["id"] for row in rows
                 if not any(row["_spec"].contains(parse_version(r)) for r in COMPOSE_RELEASES)]
    assert uncovered == [], f"no real compose release checks the rows {uncovered}: add one to COMPOSE_RELEASES"
    return COMPOSE_RELEASES


def compose(host: lab.LabHost, release: str, *env: str) -> subprocess.CompletedProcess:
    """`docker-compose ps` of compose v1 in the lab host (its console script's entry point)."""
    return host.exec(["env", f"PYTHONPATH=/opt/fs-pyclients/docker-compose-{release}", *env, "python3", "-W",
                      "ignore", "-c", "import sys; from compose.cli.main import main; sys.exit(main())",
                      "-f", COMPOSE_FILE, "ps"], check=False)


def test_docker_compose_v1_against_28_5_and_a_29_0_minimum(hosts):
    """docker-compose v1 at a release of each of its rows, and 1.29.2, on a file of format 3.8: before 1.27
    it sends the format's API version (1.38), from 1.27 none (docker-py then speaks the engine's own). Against
    28.5.2 and 28.5.2 at 29.0's minimum 1.44, each call does what its knowledge-base row predicts; 1.29.2 pinned
    with COMPOSE_API_VERSION=1.38 is refused like a declared client pinned to 1.38."""
    host = hosts["new"]
    releases = compose_releases()
    for release in releases:
        tree = pyclient_tree("docker-compose", release, *COMPOSE_PINS.get(release, ()))
        copy_tree(host, tree, f"/opt/fs-pyclients/docker-compose-{release}")
    host.sh(f"mkdir -p /opt/fs-compose && printf 'version: \"3.8\"\\nservices:\\n  idle:\\n    image: fs-none:none\\n' "
            f"> {COMPOSE_FILE}")
    results = []
    try:
        for min_api in (None, "1.44"):
            restart_with_min_api(host, min_api)
            version = unversioned_version(host)
            for release in releases:
                ok, found = predicted(version, {"name": "compose", "program": "docker-compose", "version": release})
                res = compose(host, release)
                results.append((release, version["MinAPIVersion"], ok, res.returncode == 0, res.stderr[-300:]))
        ok_pinned, _found = predicted(version, {"name": "compose", "api_version": "1.38"})
        pinned = compose(host, "1.29.2", "COMPOSE_API_VERSION=1.38")
    finally:
        restart_with_min_api(host, None)
    wrong = [r for r in results if r[2] != r[3]]
    assert len(results) == 2 * len(releases) and any(not r[3] for r in results), results
    assert wrong == [], "(compose, engine min API, predicted ok, real ok, stderr):\n" + "\n".join(map(repr, wrong))
    assert not ok_pinned and pinned.returncode != 0, pinned.stdout[-300:]
    assert "client version 1.38 is too old. Minimum supported API version is 1.44" in pinned.stderr, \
        pinned.stderr[-800:]


# --- docker-compose v2 (Debian's package) ---------------------------------------------------------------------------

# Debian's Compose v2 (the package docker-compose from trixie, a manifest extra): the `docker compose` plugin and, as a
# link to it, /usr/bin/docker-compose. Debian builds it against its own Go libraries (Static-Built-Using names the
# docker.io source it was built with), so its API range is measured here, not read from upstream's go.mod.
COMPOSE_V2_PIN = lab.MANIFEST["extras"]["compose"][0]
COMPOSE_V2_DIR = "/opt/fs-compose2"
COMPOSE_V2_FILE = "services:\n  idle:\n    image: busybox:lab\n    command: [sleep, \"600\"]\n"
SNIFF = Path(__file__).with_name("_compose_sniff.py")


def install_compose_v2(host: lab.LabHost) -> str:
    """apt-get install the pinned package from the lab's offline repository (no recommends: the set's own docker CLI
    stays); the upstream version its binary reports."""
    host.sh(f"export DEBIAN_FRONTEND=noninteractive; apt-get update -qq; "
            f"apt-get install -y -qq --no-install-recommends {COMPOSE_V2_PIN} >/tmp/fs-compose2.log 2>&1 "
            "|| { cat /tmp/fs-compose2.log; exit 1; }")
    host.load_busybox()
    host.exec(["mkdir", "-p", COMPOSE_V2_DIR])
    host.exec(["sh", "-c", f"cat > {COMPOSE_V2_DIR}/sniff.py"], input=SNIFF.read_text())
    host.exec(["sh", "-c", f"printf '{COMPOSE_V2_FILE}' > {COMPOSE_V2_DIR}/compose.yml"])
    out = host.exec(["docker-compose", "version"]).stdout.strip()
    package_version = COMPOSE_V2_PIN.split("=", 1)[1]
    assert out == f"Docker Compose version {package_version}", out
    return package_version.split("-", 1)[0]


def run_compose_v2(host: lab.LabHost, *env: str) -> dict:
    """`up -d`, `ps -q` and `down` of a one-service project through the sniffing socket: whether each worked, and the
    API versions in the paths the client requested."""
    base = ["env", *env, "docker-compose", "-p", "fs-compose2", "-f", f"{COMPOSE_V2_DIR}/compose.yml"]
    commands = [[*base, "up", "-d"], [*base, "ps", "-q"], [*base, "down"]]
    res = host.exec(["python3", f"{COMPOSE_V2_DIR}/sniff.py", json.dumps(commands)], check=False)
    assert res.returncode == 0, res.stderr[-800:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_debian_docker_compose_v2_against_every_lab_engine(hosts):
    """Debian trixie's docker-compose (Compose v2) installed in a host of every set (bookworm's old set too: it needs
    only libc6) runs `up -d`, `ps -q` and `down` of a busybox service against 20.10.24, 26.1.5, 28.5.2 and 28.5.2 at
    the minimums of 29.0 (1.44) and 29.3 (1.40). Whether it worked and the one API version in the paths it requested
    (read off the socket, after its /_ping) equal what compat_findings and its clients.yml row predict for a declared
    `docker-compose` of the package's upstream version. With DOCKER_API_VERSION=1.43 against 29.0's minimum it is
    refused, as a declared client pinned to 1.43 is predicted to be."""
    releases = {set_name: install_compose_v2(host) for set_name, host in hosts.items()}
    assert len(set(releases.values())) == 1, releases
    release = releases["new"]
    row = _kb.builtin().program_row("docker-compose", parse_version(release))
    assert row is not None and row["negotiates"], (release, row)
    results = []
    pinned = None
    for host, version in lab_states(hosts):
        ok, _found = predicted(version, {"name": "compose", "program": "docker-compose", "version": release})
        real = run_compose_v2(host)
        worked = all(r["rc"] == 0 for r in real["results"])
        spoken = sorted({v for v in real["versions"] if v})
        expected = version["ApiVersion"] if row["api_max"] is None else \
            format_api(min(parse_api(row["api_max"]), parse_api(version["ApiVersion"])))
        results.append((release, version["Version"], version["MinAPIVersion"], ok, worked,
                        [expected] if worked else [], spoken if worked else [],
                        [r["stderr"] for r in real["results"] if r["rc"]]))
        if version["MinAPIVersion"] == "1.44":
            ok_pinned, _found = predicted(version, {"name": "compose", "api_version": "1.43"})
            pinned = (ok_pinned, run_compose_v2(host, "DOCKER_API_VERSION=1.43"))
    wrong = [r for r in results if r[3] != r[4] or r[5] != r[6]]
    assert len(results) == 5 and any(r[4] for r in results), results
    assert wrong == [], "(compose, engine, engine min API, predicted ok, real ok, predicted API, real API, " \
        "errors):\n" + "\n".join(map(repr, wrong))
    ok_pinned, real_pinned = pinned
    refused = [r for r in real_pinned["results"] if r["rc"] != 0]
    assert not ok_pinned and refused, real_pinned
    assert "client version 1.43 is too old. Minimum supported API version is 1.44" in refused[0]["stderr"], \
        real_pinned
    assert set(real_pinned["versions"]) - {""} == {"1.43"}, real_pinned


# --- testcontainers-python --------------------------------------------------------------------------------------

# Its DockerClient builds the SDK client with docker.from_env() and no version: it speaks what the installed docker-py
# speaks. Each release runs once with docker-py 7.1.0 (negotiates) and once with 4.3.0 (pins 1.39, which every
# release allows): the first is predicted from the testcontainers-python row, the second from docker-py's.
TESTCONTAINERS_RELEASES = ("3.7.1", "4.15.0")
TESTCONTAINERS_SDKS = ("7.1.0", "4.3.0")
# Only a refusal by the engine counts as "not ok": an import or connection error fails the test.
TESTCONTAINERS_SCRIPT = """
import json
import docker.errors
from testcontainers.core.docker_client import DockerClient
try:
    tc = DockerClient()
    tc.client.containers.list(all=True)
    print(json.dumps({"ok": True, "api": tc.client.api.api_version, "error": None}))
except docker.errors.APIError as exc:
    print(json.dumps({"ok": False, "api": None, "error": str(exc)[-300:]}))
"""


def testcontainers_releases():
    rows = _kb.builtin().program_rows("testcontainers-python")
    uncovered = [row["id"] for row in rows
                 if not any(row["_spec"].contains(parse_version(r)) for r in TESTCONTAINERS_RELEASES)]
    assert rows and uncovered == [], f"no real testcontainers release checks the rows {uncovered}"
    return TESTCONTAINERS_RELEASES


def test_testcontainers_python_against_every_lab_engine(hosts):
    """testcontainers-python 3.7.1 and 4.15.0 (PyPI `testcontainers`), each with docker-py 7.1.0 and 4.3.0, call the
    engine through testcontainers' own DockerClient in every lab state; each call does what compat_findings predicts
    for a host that declares that testcontainers release and that docker-py release, and speaks the predicted API
    version."""
    pairs = [(tc, sdk) for tc in testcontainers_releases() for sdk in TESTCONTAINERS_SDKS]
    for tc, sdk in pairs:
        tree = pyclient_tree("testcontainers", tc, f"docker=={sdk}")
        for host in hosts.values():
            copy_tree(host, tree, f"/opt/fs-pyclients/testcontainers-{tc}-docker-{sdk}")
    results = []
    for host, version in lab_states(hosts):
        for tc, sdk in pairs:
            declared = [{"name": "tests", "program": "testcontainers-python", "version": tc},
                        {"name": "sdk", "program": "docker-py", "version": sdk}]
            found = [f for f in compat_findings(engine_facts(version, declared), {})
                     if f["component"].startswith("client")]
            ok = not [f for f in found if f["severity"] == "blocker"]
            res = host.exec(["env", f"PYTHONPATH=/opt/fs-pyclients/testcontainers-{tc}-docker-{sdk}", "python3", "-W",
                             "ignore", "-c", TESTCONTAINERS_SCRIPT], check=False)
            assert res.returncode == 0, (tc, sdk, res.stderr[-800:])
            real = json.loads(res.stdout.strip().splitlines()[-1])
            results.append((tc, sdk, version["Version"], version["MinAPIVersion"], ok, real["ok"],
                            sdk_api(sdk, version) if real["ok"] else None, real["api"], real["error"]))
    wrong = [r for r in results if r[4] != r[5] or r[6] != r[7]]
    assert len(results) == 5 * len(pairs), results
    assert any(not r[5] for r in results) and any(r[5] for r in results), results
    assert wrong == [], "(testcontainers, sdk, engine, engine min API, predicted ok, real ok, predicted API, real " \
        "API, error):\n" + "\n".join(map(repr, wrong))
