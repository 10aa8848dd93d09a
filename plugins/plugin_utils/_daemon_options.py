# Private to the fleetsafe.container_engine collection: imported only by its own plugins and tests.
# Not a public API; it may change in any release.
#
# Copyright: fleetsafe developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Will a given dockerd start with this setting? Predictions from the knowledge base.

Two sections answer: ``daemon_options`` (daemon.json keys, dockerd flags, storage and logging options
an Engine release deprecated, ignores or refuses) and ``storage_drivers`` (drivers a release removed).
Each prediction names the row it comes from, so a finding can quote the row's source and remedy.
"""

from __future__ import annotations

from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils import _kb
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._facts import next_start_environment
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._versions import (
    InputError,
    parse_version,
)

__all__ = ['predict_daemon_option_starts', 'predict_storage_driver_starts', 'judge_setting', 'daemon_json_settings',
           'daemon_flag_settings', 'daemon_environment_settings', 'FIRST_LINE_WITH_VALIDATE']

# `dockerd --validate` exists from 23.0 (moby/moby@v23.0.0 cmd/dockerd/daemon.go, opts.Validate)
FIRST_LINE_WITH_VALIDATE = (23, 0)

_UNKNOWN_MESSAGES = {
    'daemon_json': "the following directives don't match any configuration option: %s",
    'flag': 'unknown flag: %s',
}


def _describe(value):
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + '...'


def _engine_line(engine_version):
    return parse_version(engine_version, 'engine version').line


def _state(row, line, value):
    """(state, refusal message or None) of one row for an engine line and a value."""
    if row['_unknown_in'] is not None and line >= row['_unknown_in']:
        template = _UNKNOWN_MESSAGES.get(row['where'])
        return 'unknown', (template % row['setting']) if template else row.get('message')
    harmless = value is not None and str(value) in (row.get('harmless_values') or [])
    if row['_refused_in'] is not None and line >= row['_refused_in'] and not harmless:
        return 'refused', row.get('message')
    if row['_ignored_in'] is not None and line >= row['_ignored_in']:
        return 'ignored', None
    if row['_deprecated_in'] is not None and line >= row['_deprecated_in']:
        return 'deprecated', None
    return 'supported', None


def judge_setting(kb, line, setting, value=None, where='daemon_json'):
    """The prediction for one setting against an engine ``line`` (major, minor) with a Knowledge object."""
    row = kb.daemon_options.get((where, setting.strip()))
    if row is None:
        return {'starts': None, 'state': 'not_in_knowledge_base', 'validate_refuses': None, 'message': None,
                'id': None, 'where': where, 'setting': setting.strip(), 'remedy': None, 'replacement': None,
                'removable': None, 'source': None, 'validate_detects': None}
    state, message = _state(row, line, value)
    starts = state not in ('refused', 'unknown')
    validate_refuses = None if line < FIRST_LINE_WITH_VALIDATE else (not starts and row['validate_detects'])
    return {'starts': starts, 'state': state, 'validate_refuses': validate_refuses, 'message': message,
            'id': row['id'], 'where': row['where'], 'setting': row['setting'], 'remedy': row['remedy'],
            'replacement': row.get('replacement'), 'removable': bool(row.get('removable')), 'source': row['source'],
            'validate_detects': row['validate_detects']}


def predict_daemon_option_starts(engine_version, setting, value=None, where='daemon_json', knowledge=None):
    """Would dockerd ``engine_version`` start with ``setting`` (written at ``where``) set to ``value``?

    Returns a dict:
      starts            True / False, or None when the knowledge base has no row for the setting
      state             supported | deprecated | ignored | refused | unknown | not_in_knowledge_base
      validate_refuses  what ``dockerd --validate`` says (None before 23.0, which has no --validate,
                        and when the starts answer is None)
      message           the text dockerd prints when it refuses (None when it starts)
      id, where, setting, remedy, replacement, removable, source, validate_detects   from the row (id,
                        remedy, replacement, removable, source and validate_detects are None without one)
    """
    if where not in _kb.OPTION_PLACES:
        raise InputError('where must be one of %s, got %s' % (', '.join(_kb.OPTION_PLACES), _describe(where)))
    if not isinstance(setting, str) or not setting.strip():
        raise InputError('setting must be a non-empty string (a daemon.json key, a flag, an option), got %s'
                         % _describe(setting))
    return judge_setting(_kb.get(knowledge), _engine_line(engine_version), setting, value, where)


def daemon_json_settings(daemon_json):
    """(where, setting, value, as written) for everything in a parsed daemon.json that a row can be about."""
    found = []
    for key, value in sorted(daemon_json.items()):
        found.append(('daemon_json', key, value if isinstance(value, str) else _scalar(value), '"%s"' % key))
        if key == 'log-driver' and isinstance(value, str):
            found.append(('log_driver', value, None, '"log-driver": "%s"' % value))
        elif key == 'log-opts' and isinstance(value, dict):
            for opt, opt_value in sorted((k, v) for k, v in value.items() if isinstance(k, str)):
                found.append(('log_opt', opt, _scalar(opt_value), '"log-opts" entry "%s"' % opt))
        elif key == 'storage-opts' and isinstance(value, list):
            for item in value:
                if isinstance(item, str):
                    opt, _sep, opt_value = item.partition('=')
                    found.append(('storage_opt', opt.strip(), opt_value.strip(), '"storage-opts" entry "%s"' % item))
        elif key == 'hosts' and isinstance(value, list) and not daemon_json.get('tlsverify'):
            for item in value:
                if isinstance(item, str) and item.startswith('tcp://'):
                    found.append(('listen', 'tcp-without-tlsverify', item, '"hosts" entry "%s" without tlsverify'
                                  % item))
    return found


def daemon_flag_settings(flags):
    """(where, setting, value, as written, file) for every dockerd flag a row can be about.

    ``flags`` is ``docker.daemon_flags`` of the facts. When systemd's docker.service starts dockerd, only its
    ExecStart= counts (the upgrade's restart runs what the unit says, whatever the running daemon was given);
    otherwise the running dockerd's command line does.
    """
    from_units = [f for f in flags if f['source'] != 'cmdline']
    chosen = from_units or flags
    tls = any(f['flag'] == '--tlsverify' and (f['value'] or 'true') == 'true' for f in chosen)
    found = []
    for item in chosen:
        flag, value, where = item['flag'], item['value'], item['where'] or item['source']
        shown = flag if value is None else '%s %s' % (flag, value)
        found.append(('flag', flag, value, shown, where))
        if value is None:
            continue
        if flag == '--log-driver':
            found.append(('log_driver', value, None, shown, where))
        elif flag in ('--log-opt', '--storage-opt'):
            opt, _sep, opt_value = value.partition('=')
            found.append((flag[2:].replace('-', '_'), opt.strip(), opt_value.strip(), shown, where))
        elif flag == '--host' and value.startswith('tcp://') and not tls:
            found.append(('listen', 'tcp-without-tlsverify', value, '%s without --tlsverify' % shown, where))
    return found


def daemon_environment_settings(environment):
    """(where, setting, value, as written, file) for every variable of dockerd's environment a row can be about.

    ``environment`` is ``docker.daemon_environment`` of the facts. As for flags, when docker.service sets
    variables only the unit's (its Environment= and EnvironmentFile=) count: the upgrade's restart runs what the
    unit says; otherwise the running dockerd's environment does.
    """
    return [('environment', e['name'], e['value'], '%s=%s' % (e['name'], e['value'] or ''), e['where'] or e['source'])
            for e in next_start_environment(environment)]


def _scalar(value):
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (int, float, str)):
        return str(value)
    return None


def predict_storage_driver_starts(engine_version, driver, knowledge=None):
    """Would dockerd ``engine_version`` start with ``"storage-driver": driver``?

    Returns {'starts': True / False / None, 'state', 'message', 'id', 'remedy', 'source'}. ``starts`` is
    True when the engine still ships the driver (the host must still support it: a kernel without aufs
    fails either way), False from the release that removed it, None for a driver the knowledge base
    has no row for and for a driver disabled by default (it depends on how the engine was built).
    """
    if not isinstance(driver, str) or not driver.strip():
        raise InputError('storage driver must be a non-empty string such as "overlay2", got %s' % _describe(driver))
    version = parse_version(engine_version, 'engine version')
    kb = _kb.get(knowledge)
    row = kb.storage_drivers.get(driver.strip())
    if row is None:
        return {'starts': None, 'state': 'not_in_knowledge_base', 'message': None, 'id': None, 'remedy': None,
                'source': None}
    common = {'id': row['driver'], 'source': row['source'],
              'remedy': 'Migrate to %s (export or rebuild images, recreate containers) before the upgrade.'
              % row['replacement']}
    state = storage_driver_state(row, version)
    if state == 'removed':
        message = ('[graphdriver] ERROR: the %s storage-driver has been deprecated and removed; visit '
                   'https://docs.docker.com/go/storage-driver/ for more information' % row['driver'])
        return dict(common, starts=False, state=state, message=message)
    return dict(common, starts=None if state == 'disabled_by_default' else True, state=state, message=None)


def storage_driver_state(row, version):
    """removed | disabled_by_default | deprecated | supported: a storage_drivers row against an engine release.

    Releases are compared by line: a driver removed in 24.0 is gone from every 24.0 release, its pre-releases
    included. The findings storage_driver_removed / storage_driver_deprecated judge with this function too.
    """
    line = version.line
    if row['_removed_in'] is not None and line >= row['_removed_in'].line:
        return 'removed'
    disabled = row.get('_disabled_by_default_in')
    if disabled is not None and line >= disabled.line:
        return 'disabled_by_default'
    if row['_deprecated_in'] is not None and line >= row['_deprecated_in'].line:
        return 'deprecated'
    return 'supported'
