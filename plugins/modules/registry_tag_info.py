#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: registry_tag_info
short_description: Ask a container registry which tags of a repository exist
version_added: 0.1.0
description:
  - Lists the tags of one repository and checks whether given tags exist, over the registry HTTP API
    V2 (Docker Distribution, OCI distribution), before a change that needs them.
  - Handles anonymous access, HTTP basic authentication and the bearer-token flow (the registry answers
    C(401) with a C(WWW-Authenticate) header asking for C(Bearer realm=...), the module asks the realm
    for a token, with the credentials when given, and retries).
  - Written for the incident of an image tag derived from a version that was never published
    (C(clastix/kubectl:v1.32), U(https://github.com/projectcapsule/capsule/issues/1324)), told in the
    collection's C(docs/incidents.md#unpublished-image-tag).
    Pair it with the P(fleetsafe.container_engine.nearest_tag#filter) filter.
  - Credentials go only where they were meant for. The basic credentials and the registry's bearer token
    are sent only to the scheme, host and port of O(registry_url); the basic credentials also go to the
    token service the registry names, when that service is reached over https, or over plain http only
    when O(registry_url) itself is http.
  - Redirects are followed (at most 10), but a redirect to another host or port, or from https to http,
    is followed without credentials; so is a next-page link of the tag listing that points elsewhere.
    When such a place then asks for authentication, the module fails and says where the request was sent.
  - Credentials never appear in the module's output or its error messages. C(~/.netrc) is not read.
author:
  - fleetsafe developers (@fleetsafe)
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in diff_mode).
    support: none
options:
  registry_url:
    description:
      - Base URL of the registry, for example C(https://registry-1.docker.io) or C(http://127.0.0.1:5000).
      - Its scheme, host and port are where the credentials may go. It must not carry user information
        (C(user:password@)); use O(username) and O(password).
    type: str
    required: true
  repository:
    description:
      - Repository name inside the registry, for example C(clastix/kubectl). Docker Hub's official images
        live under C(library/).
    type: str
    required: true
  tags:
    description:
      - Tags whose existence to check (a C(HEAD) of the manifest, so a tag beyond the first page of the
        listing is still found).
    type: list
    elements: str
    default: []
  list_tags:
    description:
      - Also list every tag of the repository (following pagination).
    type: bool
    default: true
  username:
    description:
      - User name for basic authentication or for the token realm.
    type: str
  password:
    description:
      - Password or access token for O(username).
    type: str
  validate_certs:
    description:
      - Verify the registry's TLS certificate.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for each HTTP request.
    type: int
    default: 10
notes:
  - Runs wherever it is executed; to ask from the controller, delegate the task to C(localhost).
"""

EXAMPLES = r"""
- name: Does the kubectl image the chart derives from the cluster version exist?
  fleetsafe.container_engine.registry_tag_info:
    registry_url: https://registry-1.docker.io
    repository: clastix/kubectl
    tags: ["v{{ kube_version.split('.')[:2] | join('.') }}"]
  delegate_to: localhost
  register: kubectl_tags

- name: Pick the tag to use, nearest published one with a warning
  ansible.builtin.set_fact:
    kubectl_tag: "{{ kube_tag_wanted | fleetsafe.container_engine.nearest_tag(kubectl_tags.tags) }}"
"""

RETURN = r"""
tags:
  description: Every tag of the repository, in the registry's order (empty when O(list_tags=false)).
  returned: success
  type: list
  elements: str
  sample: [v1.29, v1.30, v1.31]
exists:
  description: For each tag in O(tags), whether the registry has a manifest for it.
  returned: success
  type: dict
  sample: {v1.32: false}
missing:
  description: The tags from O(tags) the registry does not have.
  returned: success
  type: list
  elements: str
  sample: [v1.32]
repository_exists:
  description: Whether the registry knows the repository at all.
  returned: success
  type: bool
auth:
  description: How the module was let in.
  returned: success
  type: str
  sample: bearer
  choices: [anonymous, basic, bearer]
"""

import base64
import json
import re

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.six.moves.urllib.parse import quote, urlencode, urljoin, urlsplit
from ansible.module_utils.urls import open_url

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

    def has_tag(self, repository, tag):
        code, dummy, dummy2 = self.request("/v2/%s/manifests/%s" % (quote(repository), quote(tag)), "HEAD",
                                           {"Accept": MANIFEST_TYPES})
        if code == 200:
            return True
        if code == 404:
            return False
        raise RegistryError("checking %s:%s failed (HTTP %s)" % (repository, tag, code))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            registry_url=dict(type="str", required=True),
            repository=dict(type="str", required=True),
            tags=dict(type="list", elements="str", default=[]),
            list_tags=dict(type="bool", default=True),
            username=dict(type="str"),
            password=dict(type="str", no_log=True),
            validate_certs=dict(type="bool", default=True),
            timeout=dict(type="int", default=10),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if not re.match(r"^https?://[^/]+", p["registry_url"]):
        module.fail_json(msg="registry_url must be an http:// or https:// URL, got %r" % p["registry_url"][:200])
    if "@" in urlsplit(p["registry_url"]).netloc:
        # the value is not echoed: it carries a password
        module.fail_json(msg="registry_url must not carry user information (user:password@host): "
                             "give the credentials as username and password")
    if not re.match(r"^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$", p["repository"]):
        module.fail_json(msg="repository is not a valid repository name: %r" % p["repository"])
    bad_tags = [t for t in p["tags"] if not re.match(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", t)]
    if bad_tags:
        module.fail_json(msg="registry_tag_info: not valid tags: %s" % ", ".join(repr(t) for t in bad_tags))
    registry = Registry(p["registry_url"], p["username"], p["password"], p["validate_certs"], p["timeout"])
    try:
        tags, repository_exists = registry.list_tags(p["repository"]) if p["list_tags"] else ([], None)
        exists = {}
        for tag in p["tags"]:
            exists[tag] = registry.has_tag(p["repository"], tag) if repository_exists is not False else False
        if repository_exists is None:
            repository_exists = any(exists.values()) or registry.repository_exists(p["repository"])
    except RegistryError as e:
        module.fail_json(msg="registry_tag_info: %s" % e)
    module.exit_json(changed=False, tags=tags, exists=exists, repository_exists=repository_exists,
                     missing=[t for t in p["tags"] if not exists[t]], auth=registry.auth)


if __name__ == "__main__":
    main()
