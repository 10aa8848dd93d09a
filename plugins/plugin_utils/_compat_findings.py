# Private to the fleetsafe.container_engine collection: imported only by its own plugins and tests.
# Not a public API; it may change in any release.
#
# Copyright: fleetsafe developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""compat_findings: the findings registry run against one host's facts and a target."""

from __future__ import annotations

import marshal

from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._findings import (
    _clients,
    _containerd,
    _daemon_options,
    _engine,
    _images,
    _known_bad,
    _managers,
    _preflight,
)
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._facts import OMITTED
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._findings._registry import REGISTRY, run
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._judge import Context
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._plan import left_after

__all__ = ['FAMILIES', 'REGISTRY', 'compat_findings']

# Importing a family module registers its findings: these modules are the whole catalogue.
FAMILIES = (_clients, _containerd, _daemon_options, _engine, _images, _known_bad, _managers, _preflight)


# A fleet is mostly identical hosts: the same facts judged against the same target give the same findings, so a
# process that judges many hosts (a report, a loop over hostvars, the benchmark) judges each distinct input once.
# The key is the whole input, marshalled: exact about types (a tuple is not a list, 1 not True, a str subclass or any
# other object is not marshalled and its input judged every time) and about order (equal dicts written in another
# order only miss); no field is assumed unjudged. Bad input raises and is never remembered; every caller gets its
# own copies of the findings.
_MEMO = {}
_MEMO_SIZE = 4096


def _memo_key(facts, target, knowledge, findings, preflight, plan):
    """Every argument marshalled, or None when one holds anything but plain dicts, lists, strings, numbers, booleans
    and None (an undefined variable, Ansible's own string types, an object): such input is judged, never looked up."""
    try:
        return marshal.dumps((facts, target, knowledge, findings, preflight, plan))
    except ValueError:
        return None


def compat_findings(facts, target=OMITTED, knowledge=None, findings=None, preflight=None, plan=None):
    """Every finding for the host, blockers first; ``findings`` switches findings off or changes severities by id,
    ``preflight`` adds what only the host can tell (the apt source's offer, the smoke image), ``plan`` (the steps
    that will run) leaves out the findings those steps resolve."""
    key = _memo_key(facts, target, knowledge, findings, preflight, plan)
    found = _MEMO.get(key) if key is not None else None
    if found is None:
        found = _judged(facts, target, knowledge, findings, preflight, plan)
        if key is not None:
            if len(_MEMO) >= _MEMO_SIZE:
                _MEMO.clear()
            _MEMO[key] = found
    return [dict(f) for f in found]


def _judged(facts, target, knowledge, findings, preflight, plan):
    ctx = Context(facts, target, knowledge, preflight)
    found = run(ctx, findings)
    return found if plan is None else left_after(ctx, found, plan)
