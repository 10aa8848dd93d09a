# Private to fleetsafe.container_engine: imported only by this collection's modules, no public API.
#
# A small client of the registry HTTP API V2 (Docker Distribution, OCI distribution): anonymous, basic and
# bearer-token authentication, credentials only where they were meant for. Used by registry_tag_info (which tags
# exist) and by clients_facts (which tag has the digest of the image a container runs).
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import base64
import json
import re

from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.six.moves.urllib.parse import quote, urlencode, urljoin, urlsplit

MANIFEST_TYPES = ", ".join([
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
])


class RegistryError(Exception):
    pass


REDIRECT_CODES = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 10


def origin(url):
    """(scheme, host, port) of a URL, the port filled in from the scheme: where credentials may go."""
    parts = urlsplit(url)
    scheme = (parts.scheme or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(scheme)


def where(url):
    """scheme://host:port of a URL for messages: never its path, query or user information."""
    scheme, host, port = origin(url)
    return "%s://%s:%s" % (scheme, host, port)


def basic(username, password):
    raw = ("%s:%s" % (username, password or "")).encode("utf-8")
    return "Basic " + base64.b64encode(raw).decode("ascii")


class Registry(object):
    """A small registry HTTP API V2 client: anonymous, basic and bearer-token authentication.

    Credentials go only where the user pointed them. The basic credentials and the registry's bearer
    token are sent to the registry's own origin (the scheme, host and port of registry_url) and nowhere
    else; the basic credentials also go to the token service the registry names in its challenge, when
    that service is reached over https (or over http when registry_url itself is http). Redirects are
    followed by hand: a hop to another origin (another host or port, or https -> http) goes without
    credentials, and so does a next-page link to another origin. ~/.netrc is not read.
    """

    def __init__(self, base, username=None, password=None, validate_certs=True, timeout=10):
        self.base = base.rstrip("/")
        self.origin = origin(self.base)
        self.username = username
        self.password = password
        self.validate_certs = validate_certs
        self.timeout = timeout
        self.authorization = None
        self.auth = "anonymous"
        self.withheld = None  # why credentials were kept back from a token service, for the error message

    def _open_once(self, url, method, headers):
        # imported here: ansible.module_utils.urls pulls in http.client, email and ssl (0.2-0.3 s on a lab host),
        # and every facts module imports this file (clients_facts asks registries) though most runs ask none
        from ansible.module_utils.urls import open_url  # pylint: disable=import-outside-toplevel
        try:
            resp = open_url(url, method=method, headers=headers, validate_certs=self.validate_certs,
                            timeout=self.timeout, follow_redirects="none", use_netrc=False)
            return resp.getcode(), resp.headers, resp.read()
        except HTTPError as e:
            try:
                body = e.read()
            except Exception:  # an error without a body
                body = b""
            return e.code, e.headers, body
        except URLError as e:
            raise RegistryError("cannot reach %s: %s" % (self.describe(url), e.reason)) from e
        except Exception as e:  # socket timeouts, TLS errors
            raise RegistryError("cannot reach %s: %s" % (self.describe(url), e)) from e

    def describe(self, url):
        if origin(url) == self.origin:
            return "the registry at %s" % where(url)
        return "%s (where the registry at %s sent the request)" % (where(url), where(self.base))

    def _open(self, url, method="GET", headers=None, authorization=None, auth_origin=None):
        """One request, following redirects by hand. `authorization` is sent only to URLs whose origin
        is `auth_origin`; a hop anywhere else goes without it. Returns (code, headers, body, final url)."""
        for _hop in range(MAX_REDIRECTS + 1):
            hdrs = dict(headers or {})
            if authorization and origin(url) == auth_origin:
                hdrs["Authorization"] = authorization
            code, resp_headers, body = self._open_once(url, method, hdrs)
            location = resp_headers.get("Location") if resp_headers and code in REDIRECT_CODES else None
            if not location:
                return code, resp_headers, body, url
            url = urljoin(url, location)
            if origin(url)[0] not in ("http", "https"):
                raise RegistryError("%s redirected to a URL that is neither http nor https" % where(self.base))
            if code == 303 and method != "HEAD":
                method = "GET"
        raise RegistryError("more than %d redirects asking %s" % (MAX_REDIRECTS, where(self.base)))

    def request(self, path, method="GET", headers=None):
        url = path if path.startswith(("http://", "https://")) else self.base + path
        code, hdrs, body, final = self._open(url, method, headers, self.authorization, self.origin)
        if code == 401:
            if origin(final) != self.origin:
                raise RegistryError(
                    "%s, where the registry sent this request, asks for authentication (HTTP 401): credentials "
                    "are only sent to the registry_url's own scheme, host and port (%s)"
                    % (where(final), where(self.base)))
            self._authenticate(hdrs.get("WWW-Authenticate", "") if hdrs else "")
            code, hdrs, body, final = self._open(url, method, headers, self.authorization, self.origin)
            if code == 401:
                raise RegistryError("the registry refused the credentials (HTTP 401) for %s%s" % (
                    path, self.withheld or ""))
        return code, hdrs, body

    def realm_may_have_credentials(self, realm):
        """The token service named by the registry gets the credentials over https, or over http only
        when the registry URL itself is plain http (nothing is downgraded)."""
        scheme = origin(realm)[0]
        return scheme == "https" or (scheme == "http" and self.origin[0] == "http")

    def _authenticate(self, challenge):
        scheme, unused, params = challenge.partition(" ")
        fields = dict(re.findall(r'(\w+)="([^"]*)"', params))
        if scheme.lower() == "basic":
            if not self.username:
                raise RegistryError("the registry requires authentication (basic): set username and password")
            self.authorization = basic(self.username, self.password)
            self.auth = "basic"
        elif scheme.lower() == "bearer" and fields.get("realm"):
            realm = fields["realm"]
            if origin(realm)[0] not in ("http", "https"):
                raise RegistryError("the registry names a token service that is not an http or https URL")
            query = {k: v for k, v in fields.items() if k in ("service", "scope")}
            url = realm + (("&" if "?" in realm else "?") + urlencode(query) if query else "")
            withheld = bool(self.username) and not self.realm_may_have_credentials(realm)
            if withheld:
                self.withheld = ("; the credentials were not sent to the token service %s because it is plain "
                                 "http while registry_url is https" % where(realm))
            credentials = basic(self.username, self.password) if self.username and not withheld else None
            code, unused, body, dummy = self._open(url, "GET", None, credentials, origin(realm))
            if code != 200:
                if withheld:
                    raise RegistryError("the token service refused a token (HTTP %s)%s" % (code, self.withheld))
                raise RegistryError("the token service refused a token (HTTP %s)%s" % (
                    code, "" if self.username else ": set username and password"))
            try:
                data = json.loads(body)
                token = data.get("token") or data.get("access_token")
            except ValueError:
                token = None
            if not token:
                raise RegistryError("the token service answered without a token")
            self.authorization = "Bearer " + token
            self.auth = "bearer"
        else:
            raise RegistryError("the registry asked for an authentication scheme this module does not know: %s"
                                % (scheme or "(none)"))

    def repository_exists(self, repository):
        """One page of one tag: enough to tell a known repository from an unknown one."""
        code, dummy, dummy2 = self.request("/v2/%s/tags/list?n=1" % quote(repository))
        if code in (200, 404):
            return code == 200
        raise RegistryError("asking for repository %s failed (HTTP %s)" % (repository, code))

    def list_tags(self, repository):
        tags, path = [], "/v2/%s/tags/list?n=1000" % quote(repository)
        repository_exists, seen = True, set()
        while path:
            if path in seen:
                raise RegistryError("the registry's tag listing of %s links back to a page already read" % repository)
            seen.add(path)
            code, hdrs, body = self.request(path)
            if code == 404:
                repository_exists = False
                break
            if code != 200:
                raise RegistryError("listing tags of %s failed (HTTP %s)" % (repository, code))
            tags.extend(json.loads(body).get("tags") or [])
            link = hdrs.get("Link", "") if hdrs else ""
            match = re.search(r"<([^>]+)>;\s*rel=\"?next\"?", link)
            path = match.group(1) if match else None
        return tags, repository_exists

    def _manifest_head(self, repository, tag):
        """The headers of a HEAD of the tag's manifest, None when the registry has no such tag."""
        code, hdrs, dummy = self.request("/v2/%s/manifests/%s" % (quote(repository), quote(tag)), "HEAD",
                                         {"Accept": MANIFEST_TYPES})
        if code == 200:
            return hdrs or {}
        if code == 404:
            return None
        raise RegistryError("checking %s:%s failed (HTTP %s)" % (repository, tag, code))

    def has_tag(self, repository, tag):
        return self._manifest_head(repository, tag) is not None

    def tag_digest(self, repository, tag):
        """The digest the registry gives for a tag's manifest (its Docker-Content-Digest header), None when the tag
        does not exist or the registry does not say."""
        hdrs = self._manifest_head(repository, tag)
        return hdrs.get("Docker-Content-Digest") if hdrs is not None else None


URL_RE = re.compile(r"^https?://[^/]+")


def url_problem(url, option="registry_url"):
    """One sentence when a registry URL cannot be used (not http(s), user information in it), else None."""
    if not URL_RE.match(url or ""):
        return "%s must be an http:// or https:// URL, got %r" % (option, (url or "")[:200])
    if "@" in urlsplit(url).netloc:
        # the value is not echoed: it carries a password
        return ("%s must not carry user information (user:password@host): give the credentials as username and "
                "password" % option)
    return None
