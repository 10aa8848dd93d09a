"""upgrade_plan: step order for the seed incidents and the fleet's three lab version sets."""

from __future__ import annotations

import lab_facts as L
from ansible_collections.fleetsafe.container_engine.plugins.filter.upgrade_plan import FilterModule

upgrade_plan = FilterModule().filters()['upgrade_plan']


def actions(plan):
    return [(step['action'], step['component']) for step in plan]


def test_steps_are_numbered_and_complete():
    facts = L.host(L.docker('20.10.24'), L.containerd('1.6.20'))
    plan = upgrade_plan(facts, {'engine': '26.1.5', 'containerd': '1.7.24'})
    assert [step['order'] for step in plan] == list(range(1, len(plan) + 1))
    for step in plan:
        assert set(step) == {'order', 'action', 'component', 'from', 'to', 'reason'}
        assert step['reason']


def test_nothing_to_do_is_empty():
    facts = L.host(L.docker('28.5.2'), L.containerd('2.1.9'), [L.rootless_daemon()], mounts=[], declared=[])
    assert upgrade_plan(facts, {}) == []
    assert upgrade_plan(facts, {'engine': '28.5.2', 'containerd': '2.1.9'}) == []
    assert upgrade_plan(facts, {'engine': '28.5'}) == []


def test_old_to_mid_set_order_containerd_before_engine_then_verify():
    facts = L.host(L.docker('20.10.24'), L.containerd('1.6.20'))
    plan = upgrade_plan(facts, {'engine': '26.1.5', 'containerd': '1.7.24'})
    assert actions(plan) == [
        ('upgrade_containerd', 'containerd'), ('restart_containerd', 'containerd'),
        ('upgrade_engine', 'engine'), ('restart_engine', 'engine'), ('verify', 'host')]
    assert plan[0]['from'] == '1.6.20' and plan[0]['to'] == '1.7.24'


def test_containerd_minor_by_minor():
    facts = L.host(containerd_section=L.containerd('1.7.24'))
    plan = upgrade_plan(facts, {'containerd': '2.1.9'})
    hops = [(s['from'], s['to']) for s in plan if s['action'] == 'upgrade_containerd']
    assert hops == [('1.7.24', '2.0'), ('2.0', '2.1.9')]
    # every upgrade is followed by its restart
    kinds = [s['action'] for s in plan]
    assert kinds == ['upgrade_containerd', 'restart_containerd'] * 2 + ['verify']


def test_incident_2_restart_first():
    facts = L.host(L.docker('26.1.5'), L.containerd('1.7.24', '2.1.9'))
    assert actions(upgrade_plan(facts, {})) == [('restart_containerd', 'containerd'), ('verify', 'host')]


def test_stale_engine_gets_a_restart():
    facts = L.host(L.docker('20.10.24', installed='26.1.5'))
    assert actions(upgrade_plan(facts, {})) == [('restart_engine', 'engine'), ('verify', 'host')]


def test_incident_4_agent_first_then_override_then_engine():
    section = L.docker('20.10.24', min_api_overrides=[
        {'source': 'systemd_dropin', 'value': '1.17', 'where': '/etc/systemd/system/docker.service.d/ecs.conf'},
        {'source': 'environment', 'value': '1.17', 'where': '/proc/812/environ'}])
    facts = L.host(section, declared=[{'name': 'ecs-agent', 'image': 'amazon/amazon-ecs-agent:1.80.0'}])
    plan = upgrade_plan(facts, {'engine': '26.1.5'})
    assert actions(plan) == [
        ('upgrade_client', 'client:ecs-agent'), ('remove_min_api_override', 'engine'),
        ('upgrade_engine', 'engine'), ('restart_engine', 'engine'), ('verify', 'host')]
    assert plan[0]['to'] == '1.81.0'
    assert plan[1]['from'] == '1.17'


def test_explicit_client_version_that_works_on_both_engines_goes_first():
    facts = L.host(L.docker('20.10.24'), declared=[{'name': 'ecs-agent', 'image': 'amazon/amazon-ecs-agent:1.80.0'}])
    plan = upgrade_plan(facts, {'engine': '26.1.5', 'clients': {'ecs-agent': '1.86.2'}})
    assert actions(plan)[0] == ('upgrade_client', 'client:ecs-agent')
    assert plan[0]['to'] == '1.86.2'


def test_client_that_needs_the_new_engine_goes_after_it():
    # CapRover 1.12.0 speaks 1.43: Engine 20.10 rejects it, 24.0 accepts it
    facts = L.host(L.docker('20.10.24'), mounts=[L.socket_mount('captain', 'caprover/caprover:1.11.1')])
    plan = upgrade_plan(facts, {'engine': '24.0.7', 'clients': {'captain': '1.12.0'}})
    assert actions(plan) == [('upgrade_engine', 'engine'), ('restart_engine', 'engine'),
                             ('upgrade_client', 'client:captain'), ('verify', 'host')]
    assert 'keeps working' in plan[2]['reason']


def test_rootless_daemons_restart_after_the_engine():
    facts = L.host(L.docker('26.1.5'), rootless_daemons=[L.rootless_daemon(engine='26.1.5')])
    plan = upgrade_plan(facts, {'engine': '28.5.2'})
    assert actions(plan) == [('upgrade_engine', 'engine'), ('restart_engine', 'engine'),
                             ('restart_rootless_engine', 'rootless:alice'), ('verify', 'host')]


def test_client_the_running_engine_rejects_moves_when_the_engine_stays():
    # the upgrade role's step after the engine: the engine is at the target, the ECS agent (API 1.17) is not
    facts = L.host(L.docker('26.1.5'), declared=[{'name': 'ecs-agent', 'image': 'amazon/amazon-ecs-agent:1.80.0'}])
    for target in ({}, {'engine': '26.1.5'}):
        plan = upgrade_plan(facts, target)
        assert actions(plan) == [('upgrade_client', 'client:ecs-agent'), ('verify', 'host')], plan
        assert plan[0]['from'] == '1.80.0' and 'works with it' in plan[0]['reason'], plan[0]
    # a client the engine accepts is left alone
    fine = L.host(L.docker('26.1.5'), declared=[{'name': 'ecs-agent', 'image': 'amazon/amazon-ecs-agent:1.86.2'}])
    assert upgrade_plan(fine, {}) == []


def test_rootless_daemon_left_on_the_old_engine_is_restarted_on_a_rerun():
    """The engine is on target but a user's daemon still runs the old dockerd (its restart failed, or the host
    was upgraded by hand): the plan restarts that daemon only, so verify cannot pass over it."""
    facts = L.host(L.docker('26.1.5'), L.containerd('1.7.24'),
                   rootless_daemons=[L.rootless_daemon(engine='20.10.24'), L.rootless_daemon('bob', engine='26.1.5')])
    plan = upgrade_plan(facts, {'engine': '26.1.5', 'containerd': '1.7.24'})
    assert actions(plan) == [('restart_rootless_engine', 'rootless:alice'), ('verify', 'host')]
    assert (plan[0]['from'], plan[0]['to']) == ('20.10.24+dfsg1', '26.1.5')
    assert 'runs dockerd 20.10.24' in plan[0]['reason']
    # nothing left once it runs the installed dockerd
    facts = L.host(L.docker('26.1.5'), L.containerd('1.7.24'), rootless_daemons=[L.rootless_daemon(engine='26.1.5')])
    assert upgrade_plan(facts, {'engine': '26.1.5', 'containerd': '1.7.24'}) == []
