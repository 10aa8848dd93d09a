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
  - Written for incident 3 of the collection's knowledge base, an image tag derived from a version that
    was never published (C(clastix/kubectl:v1.32), projectcapsule/capsule#1324). Pair it with the
    P(fleetsafe.container_engine.nearest_tag#filter) filter.
  - Credentials never appear in the module's output or its error messages.
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
from ansible.module_utils.six.moves.urllib.parse import quote, urlencode
from ansible.module_utils.urls import open_url

MANIFEST_TYPES = ", ".join([
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
])


class RegistryError(Exception):
    pass


class Registry(object):
    """A small registry HTTP API V2 client: anonymous, basic and bearer-token authentication."""

    def __init__(self, base, username=None, password=None, validate_certs=True, timeout=10):
        self.base = base.rstrip("/")
        self.username = username
        self.password = password
        self.validate_certs = validate_certs
        self.timeout = timeout
        self.authorization = None
        self.auth = "anonymous"

    def _open(self, url, method="GET", headers=None):
        headers = dict(headers or {})
        if self.authorization:
            headers["Authorization"] = self.authorization
        try:
            resp = open_url(url, method=method, headers=headers, validate_certs=self.validate_certs,
                            timeout=self.timeout, follow_redirects="all")
            return resp.getcode(), resp.headers, resp.read()
        except HTTPError as e:
            return e.code, e.headers, e.read() if hasattr(e, "read") else b""
        except URLError as e:
            raise RegistryError("cannot reach the registry at %s: %s" % (self.base, e.reason)) from e
        except Exception as e:  # socket timeouts, TLS errors
            raise RegistryError("cannot reach the registry at %s: %s" % (self.base, e)) from e

    def request(self, path, method="GET", headers=None):
        url = path if path.startswith("http") else self.base + path
        code, hdrs, body = self._open(url, method, headers)
        if code == 401:
            self._authenticate(hdrs.get("WWW-Authenticate", "") if hdrs else "")
            code, hdrs, body = self._open(url, method, headers)
            if code == 401:
                raise RegistryError("the registry refused the credentials (HTTP 401) for %s" % path)
        return code, hdrs, body

    def _authenticate(self, challenge):
        scheme, unused, params = challenge.partition(" ")
        fields = dict(re.findall(r'(\w+)="([^"]*)"', params))
        if scheme.lower() == "basic":
            if not self.username:
                raise RegistryError("the registry requires authentication (basic): set username and password")
            raw = ("%s:%s" % (self.username, self.password or "")).encode("utf-8")
            self.authorization = "Basic " + base64.b64encode(raw).decode("ascii")
            self.auth = "basic"
        elif scheme.lower() == "bearer" and fields.get("realm"):
            query = {k: v for k, v in fields.items() if k in ("service", "scope")}
            url = fields["realm"] + ("?" + urlencode(query) if query else "")
            headers = {}
            if self.username:
                raw = ("%s:%s" % (self.username, self.password or "")).encode("utf-8")
                headers["Authorization"] = "Basic " + base64.b64encode(raw).decode("ascii")
            saved, self.authorization = self.authorization, None
            code, unused, body = self._open(url, "GET", headers)
            self.authorization = saved
            if code != 200:
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
        repository_exists = True
        while path:
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
        module.fail_json(msg="registry_url must be an http:// or https:// URL, got %r" % p["registry_url"])
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
