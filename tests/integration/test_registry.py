"""registry_tag_info and nearest_tag against a real registry (Debian's docker-registry, distribution 2.8)
on loopback: anonymous, HTTP basic (htpasswd) and the bearer-token flow (a token service in this test,
JWT signed with a key whose certificate the registry trusts). The unpublished image tag incident
(docs/incidents.md): clastix/kubectl:v1.32 was never published; v1.29..v1.31 were.

Where credentials go: small HTTP(S) servers on loopback stand in front of the real registries (as a
reverse proxy or a CDN would) and redirect, name another token service or link the next page elsewhere;
each records the Authorization header of every request it receives, so a test sees exactly which
place got the credentials."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Address
from pathlib import Path

import bcrypt
import lab
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

# module-scoped lab hosts: every test of this file runs on one worker (make integration: --dist loadgroup)
pytestmark = pytest.mark.xdist_group("test_registry")

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
        self.received: list[str] = []  # the Authorization header of every request, "" when none
        self.port = free_port()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                auth = self.headers.get("Authorization", "")
                service.received.append(auth)
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


# --- where credentials go ----------------------------------------------------------------------------

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "server", "date"}


def self_signed(workdir: Path, host: str) -> ssl.SSLContext:
    """A TLS server context for `host` (an IP address) with a throwaway self-signed certificate."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(IPv4Address(host))]), critical=False)
            .sign(key, hashes.SHA256()))
    pem = workdir / f"tls-{host}-{uuid.uuid4().hex[:6]}.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())
                    + cert.public_bytes(serialization.Encoding.PEM))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pem)
    return ctx


class Hop:
    """An HTTP (or HTTPS) server on a loopback address that records the Authorization header of every
    request and answers with `route(hop, method, path, headers)` -> (status, headers, body). `forward`
    passes a request on to a real server, as a reverse proxy does."""

    def __init__(self, route, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None):
        self.route = route
        self.seen: list[tuple[str, str, str]] = []  # (method, path, Authorization or "")
        hop = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _any(self):
                hop.seen.append((self.command, self.path, self.headers.get("Authorization", "")))
                status, headers, body = hop.route(hop, self.command, self.path, self.headers)
                self.send_response(status)
                for k, v in headers:
                    if k.lower() not in HOP_BY_HOP:
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_HEAD = _any  # noqa: N815

        self.server = ThreadingHTTPServer((host, 0), Handler)
        if tls:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.url = f"{'https' if tls else 'http'}://{host}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def authorizations(self) -> list[str]:
        return [auth for _m, _p, auth in self.seen if auth]

    @staticmethod
    def forward(upstream: str, method: str, path: str, headers) -> tuple[int, list, bytes]:
        keep = {k: v for k, v in headers.items() if k.lower() in ("authorization", "accept")}
        req = urllib.request.Request(upstream + path, method=method, headers=keep)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback
                return resp.status, list(resp.headers.items()), resp.read()
        except urllib.error.HTTPError as e:
            return e.code, list(e.headers.items()), e.read()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hops(registries):
    made: list[Hop] = []
    workdir = Path(tempfile.mkdtemp(prefix="fleetsafe-hops-"))

    def make(route, host: str = "127.0.0.1", tls: bool = False) -> Hop:
        hop = Hop(route, host, self_signed(workdir, host) if tls else None)
        made.append(hop)
        return hop

    yield make
    for hop in made:
        hop.close()
    shutil.rmtree(workdir, ignore_errors=True)


def no_secret_in(out: str) -> None:
    assert PASSWORD not in out
    assert base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode() not in out


BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
MANIFEST_V131 = f"/v2/{REPO}/manifests/v1.31"


@pytest.mark.parametrize("tls", [False, True], ids=["http-to-another-host", "https-to-http"])
def test_a_redirect_elsewhere_is_followed_without_the_credentials(registries, hops, tls):
    """The user's registry (a proxy in front of the real basic-auth registry) sends the manifest check to
    another place: on 127.0.0.2 (another host), or from https to plain http. That place, which serves the
    real anonymous registry, answers the question but never sees the credentials."""
    regs = registries[0]
    elsewhere = hops(lambda hop, m, path, h: Hop.forward(regs["anonymous"].url, m, path, h),
                     host="127.0.0.1" if tls else "127.0.0.2")

    def front_route(hop, method, path, headers):
        if path == MANIFEST_V131 and headers.get("Authorization"):
            return 307, [("Location", elsewhere.url + path)], b""
        return Hop.forward(regs["basic"].url, method, path, headers)

    front = hops(front_route, tls=tls)
    result, out = run_module({"registry_url": front.url, "repository": REPO, "tags": ["v1.31", "v1.32"],
                              "username": USER, "password": PASSWORD, "validate_certs": False})
    assert not result.get("failed"), result
    assert result["exists"] == {"v1.31": True, "v1.32": False} and result["auth"] == "basic"
    assert sorted(result["tags"]) == PUBLISHED
    assert ("HEAD", MANIFEST_V131, "") in elsewhere.seen      # the redirect was followed ...
    assert elsewhere.authorizations() == []                   # ... without the credentials
    assert BASIC in front.authorizations()                    # which went where the user sent them
    no_secret_in(out)


def test_a_redirect_within_the_registry_keeps_the_credentials(registries, hops):
    regs = registries[0]

    def route(hop, method, path, headers):
        if path == MANIFEST_V131:
            return 302, [("Location", path + "?again=1")], b""
        return Hop.forward(regs["basic"].url, method, path.replace("?again=1", ""), headers)

    front = hops(route)
    result, out = run_module({"registry_url": front.url, "repository": REPO, "tags": ["v1.31"],
                              "list_tags": False, "username": USER, "password": PASSWORD})
    assert not result.get("failed"), result
    assert result["exists"] == {"v1.31": True}
    assert ("HEAD", MANIFEST_V131 + "?again=1", BASIC) in front.seen
    no_secret_in(out)


def test_a_redirect_target_that_asks_for_credentials_gets_none(registries, hops):
    """Redirected to a registry on another port that wants a password: the module does not hand it
    over, and says where it was sent."""
    regs = registries[0]

    def route(hop, method, path, headers):
        if path.startswith("/v2/" + REPO):
            return 301, [("Location", regs["basic"].url + path)], b""
        return Hop.forward(regs["anonymous"].url, method, path, headers)

    front = hops(route)
    result, out = run_module({"registry_url": front.url, "repository": REPO, "tags": ["v1.31"],
                              "username": USER, "password": PASSWORD})
    assert result["failed"] is True
    port = regs["basic"].url.rsplit(":", 1)[1]
    assert f"http://127.0.0.1:{port}, where the registry sent this request, asks for authentication" in result["msg"]
    assert "credentials are only sent to" in result["msg"]
    assert front.authorizations() == []  # the front never asked for any
    no_secret_in(out)


def one_tag_a_page(status: int, hdrs: list, body: bytes, path: str, link_to: str) -> tuple[int, list, bytes]:
    """Page a real tag listing one tag at a time, as registries that paginate do (distribution 2.8
    answers every tag at once): the page after `last=`, and a Link to the next one under `link_to`."""
    if status != 200:
        return status, hdrs, body
    listing = json.loads(body)
    query = dict(part.split("=", 1) for part in path.partition("?")[2].split("&") if "=" in part)
    start = listing["tags"].index(query["last"]) + 1 if "last" in query else 0
    page = listing["tags"][start:start + 1]
    hdrs = [(k, v) for k, v in hdrs if k.lower() != "link"]
    if start + 1 < len(listing["tags"]):
        hdrs.append(("Link", f'<{link_to}/v2/{REPO}/tags/list?n=1&last={page[0]}>; rel="next"'))
    return status, hdrs, json.dumps({"name": listing["name"], "tags": page}).encode()


def test_a_next_page_on_another_host_is_read_without_the_credentials(registries, hops):
    """The user's registry (in front of the real basic-auth registry) links its listing's second page to
    another host, which serves the real anonymous registry and links the third page back with a path:
    every tag is read, the other host never sees the credentials, the registry gets them again."""
    regs = registries[0]

    def elsewhere_route(hop, method, path, headers):
        return one_tag_a_page(*Hop.forward(regs["anonymous"].url, method, path, headers), path, link_to="")

    def front_route(hop, method, path, headers):
        status, hdrs, body = Hop.forward(regs["basic"].url, method, path, headers)
        if "/tags/list" not in path:
            return status, hdrs, body
        return one_tag_a_page(status, hdrs, body, path, link_to=elsewhere.url if "last=" not in path else "")

    elsewhere = hops(elsewhere_route, host="127.0.0.2")
    front = hops(front_route)
    result, out = run_module({"registry_url": front.url, "repository": REPO, "username": USER,
                              "password": PASSWORD})
    assert not result.get("failed"), result
    assert sorted(result["tags"]) == PUBLISHED and len(result["tags"]) == 3
    pages_elsewhere = [p for _m, p, _a in elsewhere.seen if "/tags/list" in p]
    assert len(pages_elsewhere) == 1 and "last=" in pages_elsewhere[0]   # the second page was read there ...
    assert elsewhere.authorizations() == []                              # ... without the credentials
    third = [(p, a) for _m, p, a in front.seen if "/tags/list" in p and "last=" in p]
    assert third and all(a == BASIC for _p, a in third)                  # back home, with them
    no_secret_in(out)


@pytest.mark.parametrize("realm_tls", [True, False], ids=["https-realm", "http-realm"])
def test_token_service_gets_the_credentials_only_over_https_from_an_https_registry(registries, hops, realm_tls):
    """An https registry (a TLS front to the real token-auth registry) names its token service: over
    https the credentials go there and the bearer flow works; over plain http they are withheld and
    the module says why."""
    regs, tokens = registries
    token_url = f"http://127.0.0.1:{tokens.port}"
    realm = hops(lambda hop, m, path, h: Hop.forward(token_url, m, path, h), tls=True) if realm_tls else None
    realm_url = realm.url if realm_tls else token_url

    def route(hop, method, path, headers):
        status, hdrs, body = Hop.forward(regs["bearer"].url, method, path, headers)
        hdrs = [(k, v.replace(token_url, realm_url) if k.lower() == "www-authenticate" else v) for k, v in hdrs]
        return status, hdrs, body

    front = hops(route, tls=True)
    before = len(tokens.received)
    result, out = run_module({"registry_url": front.url, "repository": REPO, "tags": ["v1.31"],
                              "username": USER, "password": PASSWORD, "validate_certs": False})
    sent_to_token_service = tokens.received[before:]
    assert sent_to_token_service, "the token service was never asked"
    if realm_tls:
        assert not result.get("failed"), result
        assert result["auth"] == "bearer" and result["exists"] == {"v1.31": True}
        assert BASIC in realm.authorizations()
        assert BASIC not in front.authorizations()  # the password goes to the token service, the token here
    else:
        assert result["failed"] is True
        assert (f"the credentials were not sent to the token service {token_url} because it is plain http "
                "while registry_url is https") in result["msg"]
        assert set(sent_to_token_service) == {""}
        assert BASIC not in front.authorizations()
    no_secret_in(out)
    assert all(t not in out for t in tokens.issued)


def test_a_token_service_that_redirects_elsewhere_gets_no_credentials_there(registries, hops):
    """The token service the registry names (plain http, like the registry) redirects to another host:
    the credentials went to the service the registry named, not to where it redirected."""
    regs, tokens = registries
    token_url = f"http://127.0.0.1:{tokens.port}"
    elsewhere = hops(lambda hop, m, path, h: Hop.forward(token_url, m, path, h), host="127.0.0.2")
    realm = hops(lambda hop, m, path, h: (307, [("Location", elsewhere.url + path)], b""))

    def route(hop, method, path, headers):
        status, hdrs, body = Hop.forward(regs["bearer"].url, method, path, headers)
        hdrs = [(k, v.replace(token_url, realm.url) if k.lower() == "www-authenticate" else v) for k, v in hdrs]
        return status, hdrs, body

    front = hops(route)
    before = len(tokens.received)
    result, out = run_module({"registry_url": front.url, "repository": REPO, "tags": ["v1.31"],
                              "username": USER, "password": PASSWORD})
    assert result["failed"] is True and "the token service refused a token (HTTP 401)" in result["msg"]
    assert BASIC in realm.authorizations()             # the service the registry named got them ...
    assert any(p.startswith("/token") for _m, p, _a in elsewhere.seen)
    assert elsewhere.authorizations() == []            # ... the host it redirected to did not
    assert set(tokens.received[before:]) == {""}
    no_secret_in(out)


def test_credentials_in_the_registry_url_are_refused_without_echoing_them(registries):
    regs = registries[0]
    url = regs["basic"].url.replace("http://", f"http://{USER}:{PASSWORD}@")
    result, out = run_module({"registry_url": url, "repository": REPO, "tags": ["v1.31"]}, verbosity="-v")
    assert result["failed"] is True
    assert "must not carry user information" in result["msg"] and PASSWORD not in result["msg"]
