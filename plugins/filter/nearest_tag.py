# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: nearest_tag
short_description: Pick an existing image tag for a tag derived from a version
version_added: 0.1.0
description:
  - For a tag derived from a version (C(v1.32) from Kubernetes 1.32.3), returns the tag itself when the
    registry has it, otherwise the nearest published tag of the same form below it (C(v1.31)) with a
    C(warning) finding, or a C(blocker) finding when no fallback is allowed or none exists.
  - The Capsule chart derived C(clastix/kubectl:v1.32) from the cluster version, the tag was never published
    and the install failed (projectcapsule/capsule#1324; docs/incidents.md#unpublished-image-tag).
  - The finding is the one compat_findings reports for C(target.images) (ids V(image_tag_missing) and
    V(image_tag_missing_fallback) in docs/findings.md).
  - A wanted tag that no registry would accept (empty, longer than 128 characters, characters other than
    letters, digits, C(_), C(.) and C(-)) is an error.
  - Feed it the C(tags) that M(fleetsafe.container_engine.registry_tag_info) listed.
options:
  _input:
    description: The wanted tag, for example C(v1.32) or C(1.32.3).
    type: str
    required: true
  available:
    description: The tags the registry has.
    type: list
    elements: str
    required: true
  allow_fallback:
    description: Whether an older existing tag may stand in for a missing one.
    type: bool
    default: true
  image:
    description: The image the tag belongs to, used in the finding's message (C(clastix/kubectl:v1.32)).
    type: str
"""

EXAMPLES = r"""
- name: The kubectl job image for this cluster
  ansible.builtin.set_fact:
    kubectl: "{{ 'v1.32' | fleetsafe.container_engine.nearest_tag(['v1.30', 'v1.31']) }}"
    # -> {wanted: v1.32, tag: v1.31, exact: false, fallback: true, finding: {severity: warning, ...}}

- name: Stop when the exact tag is missing
  ansible.builtin.assert:
    that: (wanted | fleetsafe.container_engine.nearest_tag(tags, allow_fallback=false)).finding is none
"""

RETURN = r"""
_value:
  description: The choice and, when the wanted tag is missing, one finding.
  type: dict
  contains:
    wanted:
      description: The wanted tag.
      type: str
    tag:
      description: The tag to use; C(null) when there is none.
      type: str
    exact:
      description: Whether the wanted tag exists.
      type: bool
    fallback:
      description: Whether RV(_value.tag) is an older stand-in.
      type: bool
    finding:
      description: >-
        C(null) when the wanted tag exists; otherwise a finding with C(id), C(severity) (C(warning) for a
        fallback, C(blocker) without one), C(component), C(message), C(remedy), C(source).
      type: dict
"""

from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._filters import named_filter
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._findings._images import (
    nearest_tag as _nearest_tag,
)

nearest_tag = named_filter("nearest_tag", _nearest_tag)


class FilterModule(object):
    def filters(self):
        return {"nearest_tag": nearest_tag}
