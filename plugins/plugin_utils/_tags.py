# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Private: shared by the nearest_tag filter and compat_findings; not a public API.
"""Choosing an existing image tag for a tag derived from a version (docs/incidents.md#unpublished-image-tag)."""

from __future__ import annotations

import re

from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._facts import check_tag
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._versions import (
    InputError,
    describe,
    got,
)

# prefix, dotted numbers, suffix: v1.32 -> ("v", (1, 32), ""); 1.31.2-alpine -> ("", (1, 31, 2), "-alpine")
TAG_RE = re.compile(r"^([A-Za-z_-]*?)(\d+(?:\.\d+)*)(.*)$")


def _shape(tag):
    m = TAG_RE.match(tag)
    if not m:
        return None
    return m.group(1), tuple(int(x) for x in m.group(2).split(".")), m.group(3)


def choose_tag(wanted, available, allow_fallback=True):
    """{wanted, tag, exact, fallback, best}: the wanted tag if it exists, else the nearest lower one of the
    same form (``best``), used as ``tag`` only when a fallback is allowed."""
    check_tag(wanted, "the wanted tag")
    if not isinstance(available, (list, tuple)) or not all(isinstance(t, str) for t in available):
        raise InputError("available must be a list of tags, got %s" % (got(available)))
    if not isinstance(allow_fallback, bool):
        raise InputError("allow_fallback must be true or false, got %s" % describe(allow_fallback))
    result = {"wanted": wanted, "tag": wanted, "exact": True, "fallback": False, "best": None}
    if wanted in available:
        return result
    shape = _shape(wanted)
    if shape is None:
        raise InputError("%s is not a tag derived from a version (like v1.32)" % describe(wanted))
    prefix, numbers, suffix = shape
    candidates = []
    for tag in available:
        s = _shape(tag)
        if s and s[0] == prefix and s[2] == suffix and len(s[1]) == len(numbers) and s[1] < numbers:
            candidates.append((s[1], tag))
    best = max(candidates)[1] if candidates else None
    result.update(exact=False, tag=best if allow_fallback and best else None, fallback=bool(allow_fallback and best),
                  best=best)
    return result
