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

import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetsafe.container_engine.plugins.module_utils._registry import (
    Registry,
    RegistryError,
    url_problem,
)


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
    problem = url_problem(p["registry_url"])
    if problem:
        module.fail_json(msg=problem)
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
