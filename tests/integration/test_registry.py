"""registry_tag_info and nearest_tag against a real registry (Debian's docker-registry, distribution 2.8)
on loopback: anonymous, HTTP basic (htpasswd) and the bearer-token flow (a token service in this test,
JWT signed with a key whose certificate the registry trusts). Incident 3: clastix/kubectl:v1.32 was
never published; v1.29..v1.31 were."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import bcrypt
import lab
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[2]
REPO = "clastix/kubectl"
PUBLISHED = ["v1.29", "v1.30", "v1.31"]
USER, PASSWORD = "fleetsafe", "s3cret-" + uuid.uuid4().hex[:8]
SERVICE, ISSUER = "fleetsafe-test-registry", "fleetsafe-test-issuer"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenService:
    """The realm of the bearer-token flow: checks basic credentials, returns a signed JWT."""

    def __init__(self, workdir: Path):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fleetsafe-token-signer")])
        now = datetime.now(UTC)
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.bundle = workdir / "token-ca.pem"
        self.bundle.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self.issued: list[str] = []
        self.port = free_port()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                auth = self.headers.get("Authorization", "")
                expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
                if auth != expected:
                    self.send_response(401)
                    self.end_headers()
                    return
                token = service.token()
                body = json.dumps({"token": token, "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(self) -> str:
        der = self.cert.public_bytes(serialization.Encoding.DER)
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": USER, "aud": SERVICE, "iat": now, "nbf": now - 10, "exp": now + 300,
                  "jti": uuid.uuid4().hex,
                  "access": [{"type": "repository", "name": REPO, "actions": ["pull", "push"]}]}
        signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
        sig = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        token = f"{signing_input}.{b64url(sig)}"
        self.issued.append(token)
        return token

    def close(self):
        self.server.shutdown()


class Registry:
    """One docker-registry process on loopback with a given auth configuration, shared storage."""

    def __init__(self, workdir: Path, storage: Path, auth: str, tokens: TokenService | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        auth_cfg = ""
        if auth == "basic":
            htpasswd = workdir / "htpasswd"
            htpasswd.write_text(f"{USER}:{bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=5)).decode()}\n")
            auth_cfg = f"auth:\n  htpasswd:\n    realm: fleetsafe\n    path: {htpasswd}\n"
        elif auth == "token":
            auth_cfg = (f"auth:\n  token:\n    realm: http://127.0.0.1:{tokens.port}/token\n"
                        f"    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {tokens.bundle}\n")
        config = workdir / f"config-{auth}.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
            f"    rootdirectory: {storage}\n  delete:\n    enabled: true\n"
            f"http:\n  addr: 127.0.0.1:{self.port}\n{auth_cfg}")
        self.log = open(workdir / f"registry-{auth}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        end = time.monotonic() + 20
        while time.monotonic() < end:
            try:
                urllib.request.urlopen(self.url + "/v2/", timeout=1)  # noqa: S310 - loopback
                break
            except urllib.error.HTTPError:
                break  # 401: up, and asking for credentials
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError(f"registry did not start: {(workdir / f'registry-{auth}.log').read_text()}")

    def close(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()


def push_image(url: str, repo: str, tag: str) -> None:
    """Upload a config blob, a layer blob and a schema 2 manifest: a real push over the API."""
    def put_blob(data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        req = urllib.request.Request(f"{url}/v2/{repo}/blobs/uploads/", method="POST", data=b"")
        location = urllib.request.urlopen(req).headers["Location"]  # noqa: S310 - loopback
        location = location if location.startswith("http") else url + location
        sep = "&" if "?" in location else "?"
        req = urllib.request.Request(f"{location}{sep}digest={digest}", method="PUT", data=data,
                                     headers={"Content-Type": "application/octet-stream"})
        assert urllib.request.urlopen(req).status == 201  # noqa: S310
        return digest

    layer = tag.encode() * 64
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers",
                         "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]}}).encode()
    manifest = {
        "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": len(config),
                   "digest": put_blob(config)},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": len(layer),
                    "digest": put_blob(layer)}],
    }
    req = urllib.request.Request(f"{url}/v2/{repo}/manifests/{tag}", method="PUT",
                                 data=json.dumps(manifest).encode(),
                                 headers={"Content-Type": manifest["mediaType"]})
    assert urllib.request.urlopen(req).status == 201  # noqa: S310


@pytest.fixture(scope="module")
def registries():
    if not shutil.which("docker-registry"):
        lab.ensure_apt_packages(["docker-registry"])  # Debian's distribution 2.8; its service is not started
    workdir = Path(tempfile.mkdtemp(prefix="fleetsafe-registry-"))
    storage = workdir / "storage"
    seed = Registry(workdir, storage, "none")
    for tag in PUBLISHED:
        push_image(seed.url, REPO, tag)
    push_image(seed.url, "library/busybox", "1.36")
    seed.close()
    tokens = TokenService(workdir)
    regs = {"anonymous": Registry(workdir, storage, "none"), "basic": Registry(workdir, storage, "basic"),
            "bearer": Registry(workdir, storage, "token", tokens)}
    yield regs, tokens
    for r in regs.values():
        r.close()
    tokens.close()
    shutil.rmtree(workdir, ignore_errors=True)


PLAYBOOK = """
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - fleetsafe.container_engine.registry_tag_info: "{{ module_args }}"
"""


def run_module(args: dict, verbosity: str = "-vvv") -> tuple[dict, str]:
    """Run registry_tag_info through ansible-playbook on localhost; return its result and all output."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / "build" / "collections"),
               ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_NOCOLOR="1")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "vars.json").write_text(json.dumps({"module_args": args}))
        (Path(tmp) / "play.yml").write_text(PLAYBOOK)
        proc = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", "localhost,", verbosity,
             "-e", f"@{tmp}/vars.json", f"{tmp}/play.yml"],
            capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    out = proc.stdout + proc.stderr
    # -vvv lines come first; the json callback's document starts on a line of its own
    start = 0 if proc.stdout.startswith("{") else proc.stdout.index("\n{\n") + 1
    result = json.loads(proc.stdout[start:])["plays"][0]["tasks"][0]["hosts"]["localhost"]
    return result, out


def run_module_result(args: dict) -> dict:
    return run_module(args)[0]


@pytest.mark.parametrize("mode", ["anonymous", "basic", "bearer"])
def test_lists_tags_and_spots_the_missing_one(registries, mode):
    regs, tokens = registries
    args = {"registry_url": regs[mode].url, "repository": REPO, "tags": ["v1.31", "v1.32"]}
    if mode != "anonymous":
        args.update(username=USER, password=PASSWORD)
    result, out = run_module(args)
    assert not result.get("failed"), result
    assert result["changed"] is False
    assert sorted(result["tags"]) == PUBLISHED
    assert result["exists"] == {"v1.31": True, "v1.32": False}
    assert result["missing"] == ["v1.32"]
    assert result["repository_exists"] is True
    assert result["auth"] == mode
    # credentials, and tokens issued for them, never appear in output or logs
    assert PASSWORD not in out
    assert all(t not in out and t.split(".")[-1] not in out for t in tokens.issued)
    assert base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode() not in out


@pytest.mark.parametrize("mode", ["basic", "bearer"])
def test_missing_or_wrong_credentials_fail_clearly(registries, mode):
    regs = registries[0]
    result, out = run_module({"registry_url": regs[mode].url, "repository": REPO, "tags": ["v1.31"]})
    assert result["failed"] is True
    assert result["msg"].startswith("registry_tag_info: ")
    assert "Traceback" not in out
    wrong = "wrong-" + PASSWORD
    result, out = run_module({"registry_url": regs[mode].url, "repository": REPO, "tags": ["v1.31"],
                              "username": USER, "password": wrong})
    assert result["failed"] is True
    assert "refused" in result["msg"]
    assert wrong not in out and PASSWORD not in out


def test_unknown_repository_and_unreachable_registry(registries):
    regs = registries[0]
    result = run_module_result({"registry_url": regs["anonymous"].url, "repository": "nobody/nothing", "tags": ["v1"]})
    assert result["repository_exists"] is False and result["exists"] == {"v1": False}
    # without the listing, the repository's existence comes from one page of one tag
    for repo, expected in (("nobody/nothing", False), (REPO, True)):
        result = run_module_result({"registry_url": regs["anonymous"].url, "repository": repo,
                                    "tags": ["v1.32"], "list_tags": False})
        assert (result["repository_exists"], result["tags"], result["missing"]) == (expected, [], ["v1.32"])
    result, out = run_module({"registry_url": f"http://127.0.0.1:{free_port()}", "repository": REPO})
    assert result["failed"] is True and "cannot reach the registry" in result["msg"]
    assert "Traceback" not in out


def test_nearest_tag_over_what_the_real_registry_lists(registries):
    """The filter's choice, fed with the real listing: v1.32 -> v1.31 with a warning, or a blocker."""
    from ansible_collections.fleetsafe.container_engine.plugins.filter.nearest_tag import nearest_tag
    regs = registries[0]
    result = run_module_result({"registry_url": regs["anonymous"].url, "repository": REPO})
    listed = result["tags"]
    choice = nearest_tag("v1.32", listed)
    assert (choice["tag"], choice["finding"]["severity"]) == ("v1.31", "warning")
    # the stand-in really exists: ask the registry for exactly that tag
    check = run_module_result({"registry_url": regs["anonymous"].url, "repository": REPO,
                               "tags": [choice["tag"]], "list_tags": False})
    assert check["exists"] == {"v1.31": True}
    strict = nearest_tag("v1.32", listed, allow_fallback=False)
    assert strict["tag"] is None and strict["finding"]["severity"] == "blocker"
    assert nearest_tag("v1.30", listed)["finding"] is None
    # and compat_findings, given the change's images with the real listing
    from ansible_collections.fleetsafe.container_engine.plugins.filter.compat_findings import compat_findings
    images = [{"image": REPO, "tag": "v1.32", "available": listed, "allow_fallback": False}]
    assert [(f["id"], f["severity"]) for f in compat_findings({}, {"images": images})] == [
        ("image_tag_missing", "blocker")]
