# Private to the fleetsafe.container_engine collection: imported only by its own plugins and tests.
# Not a public API; it may change in any release.
#
# Copyright: fleetsafe developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""compat_findings: the findings registry run against one host's facts and a target."""

from __future__ import annotations

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


def compat_findings(facts, target=OMITTED, knowledge=None, findings=None, preflight=None, plan=None):
    """Every finding for the host, blockers first; ``findings`` switches findings off or changes severities by id,
    ``preflight`` adds what only the host can tell (the apt source's offer, the smoke image), ``plan`` (the steps
    that will run) leaves out the findings those steps resolve."""
    ctx = Context(facts, target, knowledge, preflight)
    found = run(ctx, findings)
    return found if plan is None else left_after(ctx, found, plan)
