"""compat_findings (the filter users run) against what the lab's real daemons answered.

The lab's live truth tests (tests/integration/test_truth.py) run the same filter on real facts against
running engines for every API version 1.12 .. 1.55; these unit tests pin the answers already recorded.
"""

from __future__ import annotations

import lab_facts as L
import pytest
from ansible_collections.fleetsafe.container_engine.plugins.filter.compat_findings import compat_findings
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._predict import engine_api_range
from lab_facts import API_ANSWERS, ENGINES, OVERRIDE_ANSWERS, OVERRIDE_ERROR_1_12

DROPIN = '/etc/systemd/system/docker.service.d/ecs.conf'
REFUSING = ('min_api_override_invalid', 'min_api_override_unsupported')


def refused_clients(engine, api, target=None, overrides=None):
    """The client_api_too_* findings for a client declared at ``api`` on a lab host running ``engine``."""
    section = L.docker(engine, min_api_overrides=overrides or [])
    facts = L.host(section, declared=[{'name': 'client', 'api_version': api}])
    return [f for f in compat_findings(facts, target or {}) if f['id'].startswith('client_api_too')]


def override_findings(engine, value, source='systemd_dropin', target=None):
    section = L.docker(engine, min_api_overrides=[{'source': source, 'value': value, 'where': DROPIN}])
    return [f for f in compat_findings(L.host(section), target or {}) if f['id'].startswith('min_api_override')]


@pytest.mark.parametrize('engine', sorted(ENGINES))
def test_range_matches_what_the_daemon_reported(engine):
    recorded = ENGINES[engine]
    predicted = engine_api_range(recorded['version'])
    assert (predicted['max'], predicted['min']) == (recorded['api_version'], recorded['min_api_version'])


@pytest.mark.parametrize('engine,api,accepted', [
    (engine, api, True) for engine, answers in API_ANSWERS.items() for api in answers['accepted']
] + [
    (engine, api, False) for engine, answers in API_ANSWERS.items() for api in answers['rejected']
])
def test_api_acceptance_matches_lab(engine, api, accepted):
    # the engine as it runs, and the same release as a target: both judgements agree with the daemon
    for target in ({}, {'engine': engine}):
        assert (refused_clients(engine, api, target) == []) is accepted


@pytest.mark.parametrize('engine,value,starts', [
    (engine, value, True) for engine, answers in OVERRIDE_ANSWERS.items() for value in answers['starts']
] + [
    (engine, value, False) for engine, answers in OVERRIDE_ANSWERS.items() for value in answers['refuses']
])
def test_override_validation_matches_dockerd_validate(engine, value, starts):
    refused = [f for f in override_findings(engine, value) if f['id'] in REFUSING]
    assert (refused == []) is starts
    # and as a target from the old set: the ECS-agent drop-in judged before the upgrade
    refused = [f for f in override_findings('20.10.24', value, target={'engine': engine}) if f['id'] in REFUSING]
    assert (refused == []) is starts


@pytest.mark.parametrize('engine', sorted(OVERRIDE_ANSWERS))
def test_override_error_text_is_dockerds(engine):
    found = override_findings(engine, '1.12')
    assert [f['id'] for f in found] == ['min_api_override_invalid']
    assert OVERRIDE_ERROR_1_12 in found[0]['message']


def test_override_lowers_minimum_only_where_read():
    # 25.0 reads DOCKER_MIN_API_VERSION down to 1.12 (docs/incidents.md#agent-api-too-old: ECS agent at 1.21)
    target = {'engine': '25.0.3'}
    assert [f['id'] for f in refused_clients('20.10.24', '1.21', target)] == ['client_api_too_old']
    dropin = [{'source': 'systemd_dropin', 'value': '1.21', 'where': DROPIN}]
    assert refused_clients('20.10.24', '1.21', target, overrides=dropin) == []
    # 20.10 does not read it: the override neither starts nor stops anything
    assert [f['id'] for f in override_findings('20.10.24', '1.17', target={'engine': '20.10.24'})] == [
        'min_api_override_ignored']


def test_daemon_json_min_api_version_only_on_29():
    assert override_findings('28.5.2', '1.24', source='daemon_json', target={'engine': '29.0.0'}) == []
    refused = override_findings('28.5.2', '1.24', source='daemon_json')
    assert [f['id'] for f in refused] == ['min_api_override_unsupported'] and 'min-api-version' in refused[0]['message']
