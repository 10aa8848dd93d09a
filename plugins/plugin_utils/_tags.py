# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Private: shared by the nearest_tag filter and compat_findings; not a public API.
"""Choosing an existing image tag for a tag derived from a version (incident 3)."""

from __future__ import annotations

import re

from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._versions import InputError

SOURCE = "https://github.com/projectcapsule/capsule/issues/1324"
# prefix, dotted numbers, suffix: v1.32 -> ("v", (1, 32), ""); 1.31.2-alpine -> ("", (1, 31, 2), "-alpine")
TAG_RE = re.compile(r"^([A-Za-z_-]*?)(\d+(?:\.\d+)*)(.*)$")


def _shape(tag):
    m = TAG_RE.match(tag)
    if not m:
        return None
    return m.group(1), tuple(int(x) for x in m.group(2).split(".")), m.group(3)


def choose_tag(wanted, available, allow_fallback=True, image=None):
    """The wanted tag if it exists, else the nearest lower one of the same form, with one finding."""
    if not isinstance(wanted, str) or not wanted:
        raise InputError("the wanted tag must be a non-empty string, got %r" % (wanted,))
    if not isinstance(available, (list, tuple)) or not all(isinstance(t, str) for t in available):
        raise InputError("available must be a list of tags, got %r" % (available,))
    if not isinstance(allow_fallback, bool):
        raise InputError("allow_fallback must be true or false, got %r" % (allow_fallback,))
    result = {"wanted": wanted, "tag": wanted, "exact": True, "fallback": False, "finding": None}
    if wanted in available:
        return result
    shape = _shape(wanted)
    if shape is None:
        raise InputError("%r is not a tag derived from a version (like v1.32)" % wanted)
    prefix, numbers, suffix = shape
    candidates = []
    for tag in available:
        s = _shape(tag)
        if s and s[0] == prefix and s[2] == suffix and len(s[1]) == len(numbers) and s[1] < numbers:
            candidates.append((s[1], tag))
    best = max(candidates)[1] if candidates else None
    ref = "%s:%s" % (image, wanted) if image else "tag %s" % wanted
    result.update(exact=False, tag=None)
    if allow_fallback and best:
        result.update(tag=best, fallback=True)
        result["finding"] = {
            "id": "image_tag_missing_fallback", "severity": "warning", "component": "image",
            "message": "%s does not exist in the registry; the nearest published tag below it is %s" % (ref, best),
            "remedy": "use %s (pin it explicitly), or publish %s before the change" % (best, wanted),
            "source": SOURCE,
        }
    else:
        why = "no fallback is allowed" if best else "no older tag of the same form exists"
        result["finding"] = {
            "id": "image_tag_missing", "severity": "blocker", "component": "image",
            "message": "%s does not exist in the registry and %s: pulling it would fail" % (ref, why),
            "remedy": "pin an existing tag%s, or publish %s before the change"
                      % (" such as %s" % best if best else "", wanted),
            "source": SOURCE,
        }
    return result
