"""A rootless daemon's own minimum-API override (her environment, daemon.json, user unit and drop-ins) is judged
like the system daemon's: a value the target dockerd refuses is a blocker before anything changes.

The facts are the ones recorded from a real rootless dockerd 28.5.2 whose user unit got a drop-in
(tests/unit/modules/fixtures/new_rootless_min_api_dropin.json, recorded by record_fixtures.py); what dockerd
does with each value is what the lab's engines answered (lab_facts.OVERRIDE_ANSWERS)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import lab_facts as L
import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetsafe.container_engine.plugins.filter.compat_findings import FilterModule
from ansible_collections.fleetsafe.container_engine.plugins.filter.upgrade_plan import FilterModule as PlanModule

compat_findings = FilterModule().filters()['compat_findings']
upgrade_plan = PlanModule().filters()['upgrade_plan']
RECORDED = json.loads((Path(__file__).parent / 'modules' / 'fixtures' / 'new_rootless_min_api_dropin.json').read_text())
DROPIN = '/home/alice/.config/systemd/user/docker.service.d/min-api.conf'


def recorded_daemon():
    return copy.deepcopy(RECORDED['facts']['rootless']['daemons'][0])


def blockers(findings):
    return [f for f in findings if f['severity'] == 'blocker']


def test_the_recording_holds_her_dropin_and_the_file_it_names():
    assert recorded_daemon()['min_api_overrides'] == [
        {'source': 'systemd_dropin', 'value': '1.17', 'where': DROPIN},
        {'source': 'environment_file', 'value': '1.23', 'where': '/home/alice/.docker-env'},
    ]


@pytest.mark.parametrize('engine', sorted(L.OVERRIDE_ANSWERS))
def test_her_dropin_blocks_an_engine_that_refuses_the_value(engine):
    assert '1.17' in L.OVERRIDE_ANSWERS[engine]['refuses']
    facts = L.host(L.docker('20.10.24'), rootless_daemons=[recorded_daemon()])
    assert '1.23' in L.OVERRIDE_ANSWERS[engine]['refuses']
    found = [f for f in compat_findings(facts, {'engine': engine}) if f['id'] == 'min_api_override_invalid']
    # one per value: the drop-in's 1.17 and 1.23 from the file it names (systemd would use the file's)
    assert [(f['severity'], f['component']) for f in found] == [('blocker', 'rootless:alice')] * 2, found
    by_file = {DROPIN: '1.17', '/home/alice/.docker-env': '1.23'}
    for finding, (where, value) in zip(found, by_file.items(), strict=True):
        assert f'the rootless dockerd {engine} of alice would refuse' in finding['message']
        assert f'DOCKER_MIN_API_VERSION={value} ({where})' in finding['message']
        assert f'invalid DOCKER_MIN_API_VERSION: minimum supported API version is ' \
               f'{L.ENGINES[engine]["min_api_version"]}: {value}' in finding['message']
        assert 'systemctl --user restart docker' in finding['remedy']


def test_without_a_target_her_daemon_is_judged_on_its_own_release():
    # her dockerd 28.5.2 runs (started before the drop-in was written); its next start would fail
    facts = RECORDED['facts']
    found = [f for f in compat_findings({'container_engine': facts}, {}) if f['component'] == 'rootless:alice']
    assert [f['id'] for f in blockers(found)] == ['min_api_override_invalid'] * 2, found
    assert 'the rootless dockerd 28.5.2+dfsg4 of alice' in found[0]['message']


@pytest.mark.parametrize('engine', sorted(L.OVERRIDE_ANSWERS))
def test_a_value_the_engine_starts_with_is_no_finding(engine):
    value = L.OVERRIDE_ANSWERS[engine]['starts'][0]
    daemon = recorded_daemon()
    daemon['min_api_overrides'] = [{'source': 'systemd_dropin', 'value': value, 'where': DROPIN}]
    facts = L.host(L.docker('20.10.24'), rootless_daemons=[daemon])
    assert [f for f in compat_findings(facts, {'engine': engine}) if f['component'] == 'rootless:alice'
            and f['id'].startswith('min_api_override')] == []


def test_the_plan_leaves_her_override_a_blocker_for_an_operator():
    facts = L.host(L.docker('26.1.5'), rootless_daemons=[dict(recorded_daemon(), engine_version='26.1.5+dfsg1')])
    steps = upgrade_plan(facts, {'engine': '28.5.2'})
    # no step removes it (only she knows which client needed it): the plan's steps leave the blocker, naming her drop-in
    assert [s for s in steps if s['component'] == 'rootless:alice'][0]['action'] == 'restart_rootless_engine'
    left = [f for f in compat_findings(facts, {'engine': '28.5.2'}, plan=steps) if f['component'] == 'rootless:alice']
    assert [f['id'] for f in blockers(left)] == ['min_api_override_invalid'] * 2
    assert DROPIN in left[0]['message'] and DROPIN in left[0]['remedy']


def test_facts_from_before_the_field_still_judge():
    daemon = recorded_daemon()
    del daemon['min_api_overrides']
    facts = L.host(L.docker('20.10.24'), rootless_daemons=[daemon])
    assert [f for f in compat_findings(facts, {'engine': '26.1.5'}) if f['component'] == 'rootless:alice'] == []


def test_a_malformed_override_is_one_error_naming_it():
    daemon = recorded_daemon()
    daemon['min_api_overrides'][0]['source'] = 'crontab'
    facts = L.host(L.docker('20.10.24'), rootless_daemons=[daemon])
    with pytest.raises(AnsibleFilterError) as caught:
        compat_findings(facts, {'engine': '26.1.5'})
    assert 'rootless.daemons[0].min_api_overrides[0].source must be one of' in str(caught.value)
    assert 'crontab' in str(caught.value)


@pytest.mark.parametrize('source,where', [('systemd_unit', '/etc/systemd/system/docker.service'),
                                          ('environment_file', '/etc/default/docker')])
def test_the_system_daemons_unit_and_env_file_overrides_are_judged(source, where):
    # what docker_facts reports for Debian's docker.service (EnvironmentFile=-/etc/default/docker) or a unit copy
    section = L.docker('20.10.24')
    section['min_api_overrides'] = [{'source': source, 'value': '1.17', 'where': where}]
    finding = [f for f in compat_findings(L.host(section), {'engine': '26.1.5'})
               if f['id'] == 'min_api_override_invalid']
    assert [(f['component'], f['severity']) for f in finding] == [('engine', 'blocker')]
    assert f'DOCKER_MIN_API_VERSION=1.17 ({where})' in finding[0]['message']
