# Private to the fleetsafe.container_engine collection: imported only by its own plugins and tests.
# Not a public API; it may change in any release.
#
# Copyright: fleetsafe developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Single questions about one engine release: the engine_api_range filter.

Whether an engine accepts a client's API or starts with a minimum-API override is judged once, in _judge.py, and
reported by compat_findings; the lab's truth tests (tests/integration/test_truth.py) compare that with real daemons."""

from __future__ import annotations

from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils import _kb
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._judge import engine_row_or_error
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._versions import parse_version


def engine_api_range(version, knowledge=None):
    kb = _kb.get(knowledge)
    parsed = parse_version(version, 'engine version')
    row = engine_row_or_error(kb, parsed, 'engine version')
    return {
        'line': row['line'],
        'max': row['api_max'],
        'min': row['api_min_default'],
        'min_override_floor': row['min_api_env_floor'],
        'min_override_env': row['min_api_env_floor'] is not None,
        'min_override_daemon_json': row['min_api_daemon_json'],
        'rejects_too_new': row['rejects_too_new'],
        'source': row['source'],
    }
