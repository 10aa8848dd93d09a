"""Knowledge-base predictions against what the lab's real daemons answered.

The lab's live truth tests (added with the lab) call the same helpers against running engines for
every API version 1.12 .. 1.55; these unit tests pin the answers already recorded.
"""

from __future__ import annotations

import pytest
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._predict import (
    engine_api_range,
    predict_api_accepted,
    predict_min_api_override_valid,
)
from lab_facts import API_ANSWERS, ENGINES, OVERRIDE_ANSWERS, OVERRIDE_ERROR_1_12


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
    assert predict_api_accepted(ENGINES[engine]['version'], api) is accepted


@pytest.mark.parametrize('engine,value,starts', [
    (engine, value, True) for engine, answers in OVERRIDE_ANSWERS.items() for value in answers['starts']
] + [
    (engine, value, False) for engine, answers in OVERRIDE_ANSWERS.items() for value in answers['refuses']
])
def test_override_validation_matches_dockerd_validate(engine, value, starts):
    assert predict_min_api_override_valid(ENGINES[engine]['version'], value)['starts'] is starts


@pytest.mark.parametrize('engine', sorted(OVERRIDE_ANSWERS))
def test_override_error_text_is_dockerds(engine):
    assert predict_min_api_override_valid(ENGINES[engine]['version'], '1.12')['error'] == OVERRIDE_ERROR_1_12


def test_override_lowers_minimum_only_where_read():
    # 25.0 reads DOCKER_MIN_API_VERSION down to 1.12 (docs/incidents.md#agent-api-too-old: ECS agent at 1.21)
    assert predict_api_accepted('25.0.3', '1.21') is False
    assert predict_api_accepted('25.0.3', '1.21', min_override='1.21') is True
    # 20.10 does not read it: the override neither starts nor stops anything
    assert predict_min_api_override_valid('20.10.24+dfsg1', '1.17') == {'starts': True, 'applies': False, 'error': None}


def test_daemon_json_min_api_version_only_on_29():
    assert predict_min_api_override_valid('29.0.0', '1.24', source='daemon_json')['starts'] is True
    refused = predict_min_api_override_valid('28.5.2', '1.24', source='daemon_json')
    assert refused['starts'] is False and 'min-api-version' in refused['error']
