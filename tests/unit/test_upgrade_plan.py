"""upgrade_plan: step order for the seed incidents and the fleet's three lab version sets."""

from __future__ import annotations

import lab_facts as L
from ansible_collections.fleetsafe.container_engine.plugins.filter.compat_findings import FilterModule as Findings
from ansible_collections.fleetsafe.container_engine.plugins.filter.upgrade_plan import FilterModule

upgrade_plan = FilterModule().filters()['upgrade_plan']
compat_findings = Findings().filters()['compat_findings']


def actions(plan):
    return [(step['action'], step['component']) for step in plan]


def test_steps_are_numbered_and_complete():
    facts = L.host(L.docker('20.10.24'), L.containerd('1.6.20'))
    plan = upgrade_plan(facts, {'engine': '26.1.5', 'containerd': '1.7.24'})
    assert [step['order'] for step in plan] == list(range(1, len(plan) + 1))
    for step in plan:
        assert set(step) == {'order', 'action', 'component', 'from', 'to', 'reason', 'resolves'}
        assert step['reason']


def test_nothing_to_do_is_empty():
    facts = L.host(L.docker('28.5.2'), L.containerd('2.1.9'), [L.rootless_daemon()], mounts=[], declared=[])
    assert upgrade_plan(facts, {}) == []
    assert upgrade_plan(facts, {'engine': '28.5.2', 'containerd': '2.1.9'}) == []
    assert upgrade_plan(facts, {'engine': '28.5'}) == []


def test_old_to_mid_set_order_containerd_before_engine():
    facts = L.host(L.docker('20.10.24'), L.containerd('1.6.20'))
    plan = upgrade_plan(facts, {'engine': '26.1.5', 'containerd': '1.7.24'})
    # the containerd step restarts containerd itself: no separate restart step, no verify pseudo-step
    assert actions(plan) == [
        ('upgrade_containerd', 'containerd'), ('upgrade_engine', 'engine'), ('restart_engine', 'engine')]
    assert plan[0]['from'] == '1.6.20' and plan[0]['to'] == '1.7.24'


def test_containerd_minor_by_minor():
    facts = L.host(containerd_section=L.containerd('1.7.24'))
    plan = upgrade_plan(facts, {'containerd': '2.1.9'})
    hops = [(s['from'], s['to']) for s in plan if s['action'] == 'upgrade_containerd']
    assert hops == [('1.7.24', '2.0'), ('2.0', '2.1.9')]
    # each upgrade restarts containerd within the step
    assert [s['action'] for s in plan] == ['upgrade_containerd'] * 2
    assert all('restarts within the step' in s['reason'] for s in plan)


def test_incident_2_restart_first():
    facts = L.host(L.docker('26.1.5'), L.containerd('1.7.24', '2.1.9'))
    plan = upgrade_plan(facts, {})
    assert actions(plan) == [('restart_containerd', 'containerd')]
    assert plan[0]['resolves'] == ['containerd_shim_protocol_mismatch']


def test_stale_engine_gets_a_restart():
    facts = L.host(L.docker('20.10.24', installed='26.1.5'))
    plan = upgrade_plan(facts, {})
    assert actions(plan) == [('restart_engine', 'engine')]
    assert plan[0]['resolves'] == ['engine_stale']


def test_incident_4_agent_first_then_engine_the_override_stays_a_blocker():
    section = L.docker('20.10.24', min_api_overrides=[
        {'source': 'systemd_dropin', 'value': '1.17', 'where': '/etc/systemd/system/docker.service.d/ecs.conf'},
        {'source': 'environment', 'value': '1.17', 'where': '/proc/812/environ'}])
    facts = L.host(section, declared=[{'name': 'ecs-agent', 'image': 'amazon/amazon-ecs-agent:1.80.0'}])
    plan = upgrade_plan(facts, {'engine': '26.1.5'})
    assert actions(plan) == [
        ('upgrade_client', 'client:ecs-agent'), ('upgrade_engine', 'engine'), ('restart_engine', 'engine')]
    assert plan[0]['to'] == '1.81.0' and plan[0]['resolves'] == ['client_api_too_old']
    # only an operator knows which client needed the override: no step removes it, it stays a blocker
    left = compat_findings(facts, {'engine': '26.1.5'}, plan=plan)
    assert sorted(f['id'] for f in left if f['severity'] == 'blocker') == ['min_api_override_invalid']


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
                             ('upgrade_client', 'client:captain')]
    assert 'keeps working' in plan[2]['reason']


def test_rootless_daemons_restart_after_the_engine():
    facts = L.host(L.docker('26.1.5'), rootless_daemons=[L.rootless_daemon(engine='26.1.5')])
    plan = upgrade_plan(facts, {'engine': '28.5.2'})
    assert actions(plan) == [('upgrade_engine', 'engine'), ('restart_engine', 'engine'),
                             ('restart_rootless_engine', 'rootless:alice')]


def test_client_the_running_engine_rejects_moves_when_the_engine_stays():
    # the upgrade role's step after the engine: the engine is at the target, the ECS agent (API 1.17) is not
    facts = L.host(L.docker('26.1.5'), declared=[{'name': 'ecs-agent', 'image': 'amazon/amazon-ecs-agent:1.80.0'}])
    for target in ({}, {'engine': '26.1.5'}):
        plan = upgrade_plan(facts, target)
        assert actions(plan) == [('upgrade_client', 'client:ecs-agent')], plan
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
    assert actions(plan) == [('restart_rootless_engine', 'rootless:alice')]
    assert (plan[0]['from'], plan[0]['to']) == ('20.10.24+dfsg1', '26.1.5')
    assert 'runs dockerd 20.10.24' in plan[0]['reason']
    # nothing left once it runs the installed dockerd
    facts = L.host(L.docker('26.1.5'), L.containerd('1.7.24'), rootless_daemons=[L.rootless_daemon(engine='26.1.5')])
    assert upgrade_plan(facts, {'engine': '26.1.5', 'containerd': '1.7.24'}) == []


def left_blockers(facts, target):
    plan = upgrade_plan(facts, target)
    return [f['id'] for f in compat_findings(facts, target, plan=plan) if f['severity'] == 'blocker']


def test_each_step_names_the_findings_it_resolves_and_the_plan_leaves_none_of_them():
    # incident 2: the restart resolves the shim blocker
    facts = L.host(L.docker('26.1.5'), L.containerd('1.7.24', '2.1.9'))
    assert [f['id'] for f in compat_findings(facts, {}) if f['severity'] == 'blocker'] == [
        'containerd_shim_protocol_mismatch']
    assert left_blockers(facts, {}) == []
    # a stale daemon and a containerd upgrade: the first upgrade step restarts it and resolves the finding
    facts = L.host(L.docker('26.1.5'), L.containerd('1.6.20', '1.7.24'))
    plan = upgrade_plan(facts, {'containerd': '2.1.9'})
    assert [s['resolves'] for s in plan] == [['containerd_restart_required'], []]
    assert not [f for f in compat_findings(facts, {'containerd': '2.1.9'}, plan=plan)
                if f['id'] == 'containerd_restart_required']
    # a client that moves after the engine: its blocker is resolved, the downtime stays a warning
    facts = L.host(L.docker('20.10.24'), mounts=[L.socket_mount('captain', 'caprover/caprover:1.11.1')])
    plan = upgrade_plan(facts, {'engine': '29.0.0'})
    assert (plan[-1]['action'], plan[-1]['resolves']) == ('upgrade_client', ['client_api_too_old'])
    left = compat_findings(facts, {'engine': '29.0.0'}, plan=plan)
    assert 'client_api_too_old' not in [f['id'] for f in left]
    assert [f['severity'] for f in left if f['id'] == 'client_needs_new_engine_first'] == ['warning']


def test_a_step_resolves_only_on_its_own_component():
    facts = L.host(L.docker('20.10.24'), declared=[{'name': 'ecs-agent', 'image': 'amazon/amazon-ecs-agent:1.80.0'}],
                   mounts=[L.socket_mount('captain', 'caprover/caprover:1.12.0')])
    plan = upgrade_plan(facts, {'engine': '26.1.5'})
    moved = [s['component'] for s in plan if s['action'] == 'upgrade_client']
    left = compat_findings(facts, {'engine': '26.1.5'}, plan=plan)
    for f in left:
        assert f['component'] not in moved or not f['id'].startswith('client_api_too'), f
    # without the steps, every client blocker is back
    assert len([f for f in compat_findings(facts, {'engine': '26.1.5'}) if f['id'].startswith('client_api_too')]) > \
        len([f for f in left if f['id'].startswith('client_api_too')])


def test_a_client_the_target_names_resolves_nothing():
    # the target says which release: compat_findings judges that release, so there is nothing for the step to resolve
    facts = L.host(L.docker('20.10.24'), declared=[{'name': 'ecs-agent', 'image': 'amazon/amazon-ecs-agent:1.80.0'}])
    plan = upgrade_plan(facts, {'engine': '26.1.5', 'clients': {'ecs-agent': '1.86.2'}})
    assert plan[0]['resolves'] == []
    assert left_blockers(facts, {'engine': '26.1.5', 'clients': {'ecs-agent': '1.86.2'}}) == []
