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
  - Incident 3 of the knowledge base. The Capsule chart derived C(clastix/kubectl:v1.32) from the cluster
    version, the tag was never published and the install failed (projectcapsule/capsule#1324).
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

import re

from ansible.errors import AnsibleFilterError
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._filters import named_filter

SOURCE = "https://github.com/projectcapsule/capsule/issues/1324"
# prefix, dotted numbers, suffix: v1.32 -> ("v", (1, 32), ""); 1.31.2-alpine -> ("", (1, 31, 2), "-alpine")
TAG_RE = re.compile(r"^([A-Za-z_-]*?)(\d+(?:\.\d+)*)(.*)$")


def _shape(tag):
    m = TAG_RE.match(tag)
    if not m:
        return None
    return m.group(1), tuple(int(x) for x in m.group(2).split(".")), m.group(3)


def _nearest_tag(wanted, available, allow_fallback=True):
    if not isinstance(wanted, str) or not wanted:
        raise AnsibleFilterError("nearest_tag: the wanted tag must be a non-empty string, got %r" % (wanted,))
    if not isinstance(available, (list, tuple)) or not all(isinstance(t, str) for t in available):
        raise AnsibleFilterError("nearest_tag: available must be a list of tags, got %r" % (available,))
    if not isinstance(allow_fallback, bool):
        raise AnsibleFilterError("nearest_tag: allow_fallback must be true or false, got %r" % (allow_fallback,))
    result = {"wanted": wanted, "tag": wanted, "exact": True, "fallback": False, "finding": None}
    if wanted in available:
        return result
    shape = _shape(wanted)
    if shape is None:
        raise AnsibleFilterError("nearest_tag: %r is not a tag derived from a version (like v1.32)" % wanted)
    prefix, numbers, suffix = shape
    candidates = []
    for tag in available:
        s = _shape(tag)
        if s and s[0] == prefix and s[2] == suffix and len(s[1]) == len(numbers) and s[1] < numbers:
            candidates.append((s[1], tag))
    best = max(candidates)[1] if candidates else None
    result.update(exact=False, tag=None)
    if allow_fallback and best:
        result.update(tag=best, fallback=True)
        result["finding"] = {
            "id": "image_tag_missing_fallback", "severity": "warning", "component": "image",
            "message": "tag %s does not exist in the registry; the nearest published tag below it is %s"
                       % (wanted, best),
            "remedy": "use %s (pin it explicitly), or publish %s before the change" % (best, wanted),
            "source": SOURCE,
        }
    else:
        why = "no fallback is allowed" if best else "no older tag of the same form exists"
        result["finding"] = {
            "id": "image_tag_missing", "severity": "blocker", "component": "image",
            "message": "tag %s does not exist in the registry and %s: pulling it would fail" % (wanted, why),
            "remedy": "pin an existing tag%s, or publish %s before the change"
                      % (" such as %s" % best if best else "", wanted),
            "source": SOURCE,
        }
    return result


nearest_tag = named_filter("nearest_tag", _nearest_tag)


class FilterModule(object):
    def filters(self):
        return {"nearest_tag": nearest_tag}
