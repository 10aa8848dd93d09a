"""Predictions for daemon settings and storage drivers (plugin_utils._daemon_options) from the knowledge base.

What real engines do with the same rows is checked in tests/integration/test_truth_daemon_options.py;
here: the line arithmetic across every release of the rows (23.0 to 29.x), values, places and bad input.
"""
from __future__ import annotations

import pytest
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._daemon_options import (
    predict_daemon_option_starts,
    predict_storage_driver_starts,
)
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._versions import InputError


def state(engine, setting, value=None, where='daemon_json'):
    p = predict_daemon_option_starts(engine, setting, value, where=where)
    return p['state'], p['starts'], p['validate_refuses']


@pytest.mark.parametrize('engine,setting,where,expected', [
    # graph: refused with its own message in 23.0, gone from 24.0
    ('20.10.24', 'graph', 'daemon_json', ('deprecated', True, None)),
    ('23.0.6', 'graph', 'daemon_json', ('refused', False, True)),
    ('24.0.9', 'graph', 'daemon_json', ('unknown', False, True)),
    ('24.0.9', '--graph', 'flag', ('unknown', False, True)),
    # oom-score-adjust: deprecated 24.0, refused 25.0, unknown 26.0
    ('24.0.9', 'oom-score-adjust', 'daemon_json', ('deprecated', True, False)),
    ('25.0.5', '--oom-score-adjust', 'flag', ('refused', False, True)),
    ('26.0.0', 'oom-score-adjust', 'daemon_json', ('unknown', False, True)),
    # api-cors-header: ignored in 27.x, refused in 28.x, unknown in 29.x
    ('27.5.1', 'api-cors-header', 'daemon_json', ('ignored', True, False)),
    ('28.0.0', '--api-cors-header', 'flag', ('refused', False, True)),
    ('29.0.0', 'api-cors-header', 'daemon_json', ('unknown', False, True)),
    # allow-nondistributable-artifacts: the key stays harmless, the flag goes in 29.0
    ('29.7.2', 'allow-nondistributable-artifacts', 'daemon_json', ('ignored', True, False)),
    ('28.5.2', '--allow-nondistributable-artifacts', 'flag', ('ignored', True, False)),
    ('29.0.0', '--allow-nondistributable-artifacts', 'flag', ('unknown', False, True)),
    # start-time refusals that --validate does not see
    ('24.0.0', 'overlay2.override_kernel_check', 'storage_opt', ('refused', False, False)),
    ('23.0.0', 'overlay2.override_kernel_check', 'storage_opt', ('ignored', True, False)),
    ('25.0.0', 'logentries', 'log_driver', ('refused', False, False)),
    ('27.5.1', 'fluentd-async-connect', 'log_opt', ('deprecated', True, False)),
    ('28.0.0', 'fluentd-async-connect', 'log_opt', ('refused', False, False)),
    # announced, not enforced as of 29.7
    ('29.7.2', 'tcp-without-tlsverify', 'listen', ('deprecated', True, False)),
    ('29.7.2', 'host-gateway-ip', 'daemon_json', ('deprecated', True, False)),
    # variables of dockerd's environment: deprecated escape hatches a later release stops reading
    ('27.5.1', 'DOCKERD_DEPRECATED_CORS_HEADER', 'environment', ('deprecated', True, False)),
    ('28.0.0', 'DOCKERD_DEPRECATED_CORS_HEADER', 'environment', ('ignored', True, False)),
    ('27.0.0', 'DOCKERD_DEPRECATED_GRAPHDRIVER_PLUGINS', 'environment', ('deprecated', True, False)),
    ('28.5.2', 'DOCKERD_DEPRECATED_GRAPHDRIVER_PLUGINS', 'environment', ('ignored', True, False)),
    ('26.1.5', 'DOCKER_ENABLE_DEPRECATED_PULL_SCHEMA_1_IMAGE', 'environment', ('deprecated', True, False)),
    ('28.1.1', 'DOCKER_ENABLE_DEPRECATED_PULL_SCHEMA_1_IMAGE', 'environment', ('deprecated', True, False)),
    ('28.2.0', 'DOCKER_ENABLE_DEPRECATED_PULL_SCHEMA_1_IMAGE', 'environment', ('ignored', True, False)),
    ('28.1.1', 'DOCKER_ALLOW_SCHEMA1_PUSH_DONOTUSE', 'environment', ('supported', True, False)),
    ('28.2.0', 'DOCKER_ALLOW_SCHEMA1_PUSH_DONOTUSE', 'environment', ('ignored', True, False)),
    ('28.5.2', 'DOCKER_KEEP_DEPRECATED_LEGACY_LINKS_ENV_VARS', 'environment', ('supported', True, False)),
    ('29.7.2', 'DOCKER_KEEP_DEPRECATED_LEGACY_LINKS_ENV_VARS', 'environment', ('deprecated', True, False)),
])
def test_state_across_lines(engine, setting, where, expected):
    assert state(engine, setting, where=where) == expected


def test_harmless_value_passes_the_explicit_check_only():
    assert state('25.0.0', 'oom-score-adjust', '0')[:2] == ('deprecated', True)
    assert state('25.0.0', 'oom-score-adjust', '-500')[:2] == ('refused', False)
    assert state('26.1.5', 'oom-score-adjust', '0')[:2] == ('unknown', False)   # the key itself is gone


def test_messages_name_the_setting_and_rows_carry_remedy_and_source():
    p = predict_daemon_option_starts('26.1.5', 'graph')
    assert p['message'] == "the following directives don't match any configuration option: graph"
    assert p['replacement'] == 'data-root' and 'data-root' in p['remedy'] and 'deprecated.md' in p['source']
    assert predict_daemon_option_starts('26.1.5', '--graph', where='flag')['message'] == 'unknown flag: --graph'
    cors = predict_daemon_option_starts('28.5.2', 'api-cors-header', '*')
    assert cors['message'].startswith('DEPRECATED: The "api-cors-header" config parameter')
    assert predict_daemon_option_starts('20.10.24', 'graph')['validate_refuses'] is None   # no --validate before 23.0


def test_setting_without_a_row_is_not_guessed():
    p = predict_daemon_option_starts('28.5.2', 'log-level', 'debug')
    assert p['starts'] is None and p['state'] == 'not_in_knowledge_base' and p['id'] is None


def test_user_knowledge_row_is_used():
    row = {'id': 'acme-flag', 'where': 'flag', 'setting': '--acme', 'deprecated_in': '27.0', 'refused_in': '28.0',
           'validate_detects': True, 'message': 'acme is gone', 'replacement': None, 'remedy': 'drop --acme',
           'source': 'ACME runbook'}
    p = predict_daemon_option_starts('28.1.0', '--acme', where='flag', knowledge={'daemon_options': [row]})
    assert (p['starts'], p['message'], p['id']) == (False, 'acme is gone', 'acme-flag')


@pytest.mark.parametrize('engine,driver,starts,state_', [
    ('20.10.24', 'overlay', True, 'deprecated'),
    ('23.0.6', 'overlay', True, 'deprecated'),
    ('24.0.0', 'overlay', False, 'removed'),
    ('24.0.0', 'aufs', False, 'removed'),
    ('23.0.0', 'devicemapper', None, 'disabled_by_default'),
    ('25.0.0', 'devicemapper', False, 'removed'),
    ('28.5.2', 'overlay2', None, 'not_in_knowledge_base'),
])
def test_storage_driver(engine, driver, starts, state_):
    p = predict_storage_driver_starts(engine, driver)
    assert (p['starts'], p['state']) == (starts, state_)
    if starts is False:
        assert p['message'] == (f'[graphdriver] ERROR: the {driver} storage-driver has been deprecated and removed; '
                                'visit https://docs.docker.com/go/storage-driver/ for more information')


@pytest.mark.parametrize('call,fragment', [
    (lambda: predict_daemon_option_starts('28.5.2', 'graph', where='systemd'), "where must be one of"),
    (lambda: predict_daemon_option_starts('28.5.2', ''), 'setting must be a non-empty string'),
    (lambda: predict_daemon_option_starts('latest', 'graph'), "engine version is not a version: 'latest'"),
    (lambda: predict_storage_driver_starts('28.5.2', None), 'storage driver must be a non-empty string'),
])
def test_bad_input_names_the_value(call, fragment):
    with pytest.raises(InputError) as info:
        call()
    assert fragment in str(info.value)


# --- findings and plan steps (plugins/plugin_utils/_findings/_daemon_options.py, _plan.py) --------------------

def _facts(engine, daemon_json):
    import lab_facts as L
    docker = L.docker(engine)
    docker['daemon_json'] = daemon_json
    return L.host(docker)


def _findings(engine, daemon_json, target):
    from ansible_collections.fleetsafe.container_engine.plugins.filter.compat_findings import FilterModule
    found = FilterModule().filters()['compat_findings'](_facts(engine, daemon_json), target)
    return [f for f in found if f['id'].startswith('daemon_option')]


def test_findings_for_each_state_with_row_remedy_and_source():
    daemon_json = {'api-cors-header': '*', 'log-driver': 'fluentd', 'log-opts': {'fluentd-async-connect': 'true'},
                   'allow-nondistributable-artifacts': ['registry.example:5000'], 'host-gateway-ip': '192.0.2.1',
                   'log-level': 'info'}
    found = _findings('26.1.5', daemon_json, {'engine': '28.5.2'})
    by_id = {}
    for f in found:
        by_id.setdefault(f['id'], []).append(f)
    assert [f['severity'] for f in by_id['daemon_option_refused']] == ['blocker', 'blocker']
    cors, fluentd = sorted(by_id['daemon_option_refused'], key=lambda f: f['message'])
    assert 'dockerd 28.5.2 would refuse to start with "api-cors-header"' in cors['message']
    assert '--validate` reports it too' in cors['message'] and 'reverse proxy' in cors['remedy']
    assert 'fluentd-async-connect' in fluentd['message'] and 'only a real start fails' in fluentd['message']
    assert 'fluentd-async' in fluentd['remedy'] and 'docs/deprecated.md' in fluentd['source']
    ignored = by_id['daemon_option_ignored']
    assert len(ignored) == 1 and 'allow-nondistributable' in ignored[0]['message']
    assert 'host-gateway-ips' in by_id['daemon_option_deprecated'][0]['message']
    assert not [f for f in found if 'log-level' in f['message']]     # no row, no guess


def test_no_daemon_json_no_findings_and_older_target_is_fine():
    assert _findings('26.1.5', {}, {'engine': '28.5.2'}) == []
    assert [f['id'] for f in _findings('20.10.24', {'oom-score-adjust': 100}, {'engine': '20.10.24'})] == []
    assert [f['id'] for f in _findings('20.10.24', {'oom-score-adjust': 100}, {'engine': '26.1.5'})] == \
        ['daemon_option_refused']


def test_plan_edits_daemon_json_before_the_engine_step():
    from ansible_collections.fleetsafe.container_engine.plugins.filter.upgrade_plan import FilterModule
    plan = FilterModule().filters()['upgrade_plan'](_facts('20.10.24', {'graph': '/srv/docker'}), {'engine': '26.1.5'})
    actions = [s['action'] for s in plan]
    assert actions.index('edit_daemon_config') < actions.index('upgrade_engine')
    step = plan[actions.index('edit_daemon_config')]
    assert (step['from'], step['to']) == ('"graph"', 'data-root')
    assert "don't match any configuration option: graph" in step['reason']
    plan = FilterModule().filters()['upgrade_plan'](_facts('20.10.24', {'log-level': 'info'}), {'engine': '26.1.5'})
    assert 'edit_daemon_config' not in [s['action'] for s in plan]


def test_daemon_json_with_a_non_string_key_is_one_clear_error():
    from ansible.errors import AnsibleFilterError
    from ansible_collections.fleetsafe.container_engine.plugins.filter.compat_findings import FilterModule
    with pytest.raises(AnsibleFilterError) as info:
        FilterModule().filters()['compat_findings'](_facts('26.1.5', {1: 'x'}), {'engine': '28.5.2'})
    assert 'docker.daemon_json' in str(info.value) and 'got the key integer 1' in str(info.value)
