# Private to the fleetsafe.container_engine collection: imported only by its own plugins and tests.
# Not a public API; it may change in any release.
#
# Copyright: fleetsafe developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Single questions about one engine release: the engine_api_range filter, and the predictions the
lab's truth tests (tests/integration/test_truth.py) compare with real daemons."""

from __future__ import annotations

from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils import _kb
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._facts import ENV_SOURCES, OVERRIDE_SOURCES
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._judge import (
    engine_row_or_error,
    validate_override,
)
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._versions import (
    InputError,
    describe,
    got,
    parse_api,
    parse_version,
)


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


def predict_api_accepted(engine_version, api_version, knowledge=None, min_override=None):
    """Would an Engine ``engine_version`` daemon answer a request made with ``api_version``?

    ``min_override`` is a DOCKER_MIN_API_VERSION value the daemon started with (it must be one the
    daemon accepts; see predict_min_api_override_valid).
    """
    kb = _kb.get(knowledge)
    row = engine_row_or_error(kb, parse_version(engine_version, 'engine version'), 'engine version')
    api = parse_api(api_version)
    api_min = row['_api_min']
    if min_override is not None:
        problem = validate_override(row, 'environment', min_override)
        if problem:
            raise InputError('engine %s would not start with DOCKER_MIN_API_VERSION=%s: %s' % (
                engine_version, min_override, problem))
        if row['_env_floor'] is not None:
            api_min = parse_api(min_override)
    if api < api_min:
        return False
    return not (api > row['_api_max'] and row['rejects_too_new'])


def predict_min_api_override_valid(engine_version, value, knowledge=None, source='environment'):
    """Would dockerd ``engine_version`` start with this minimum-API override?

    Returns {'starts': bool, 'applies': bool, 'error': str or None}; ``applies`` is false when the
    engine ignores the setting (DOCKER_MIN_API_VERSION before 25.0).
    """
    if source not in OVERRIDE_SOURCES:
        raise InputError('source must be one of %s, got %s' % (', '.join(OVERRIDE_SOURCES), describe(source)))
    if not isinstance(value, str):
        raise InputError('override value must be a string like "1.24", got %s' % (got(value)))
    kb = _kb.get(knowledge)
    row = engine_row_or_error(kb, parse_version(engine_version, 'engine version'), 'engine version')
    problem = validate_override(row, source, value)
    applies = problem is None and not (source in ENV_SOURCES and row['_env_floor'] is None)
    return {'starts': problem is None, 'applies': applies, 'error': problem}
