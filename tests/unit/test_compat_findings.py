"""Each seed incident reproduced as facts recorded on real engines, and each finding type."""

from __future__ import annotations

import lab_facts as L
import pytest
from ansible_collections.fleetsafe.container_engine.plugins.filter.compat_findings import FilterModule
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._predict import engine_api_range

compat_findings = FilterModule().filters()['compat_findings']


def ids(findings, severity=None):
    return sorted(f['id'] for f in findings if severity is None or f['severity'] == severity)


def only(findings, fid):
    matching = [f for f in findings if f['id'] == fid]
    assert len(matching) == 1, findings
    return matching[0]


def test_every_finding_has_the_documented_keys():
    facts = L.host(L.docker('20.10.24'), L.containerd('1.7.24', '2.1.9'),
                   mounts=[L.socket_mount('captain', 'caprover/caprover:1.12.0')])
    findings = compat_findings(facts, {'engine': '26.1.5'})
    assert findings
    for finding in findings:
        assert set(finding) == {'id', 'severity', 'component', 'message', 'remedy', 'source'}
        assert finding['severity'] in ('blocker', 'warning', 'info')
        assert finding['source'] and finding['message'] and finding['remedy']
    ranks = [('blocker', 'warning', 'info').index(f['severity']) for f in findings]
    assert ranks == sorted(ranks)


def test_healthy_lab_host_without_target_has_no_findings():
    facts = L.host(L.docker('28.5.2'), L.containerd('2.1.9'), [L.rootless_daemon()], mounts=[], declared=[])
    assert compat_findings(facts, {}) == []


# --- docs/incidents.md#client-api-too-new: CapRover 1.12.0 speaks 1.43 on Engine 20.10 (max 1.41) ---

def test_incident_1_client_too_new():
    facts = L.host(L.docker('20.10.24'), mounts=[L.socket_mount('captain', 'caprover/caprover:1.12.0')])
    finding = only(compat_findings(facts, {}), 'client_api_too_new')
    assert finding['severity'] == 'blocker'
    recorded_max = L.ENGINES['20.10.24']['api_version']
    assert f'client version 1.43 is too new. Maximum supported API version is {recorded_max}' in finding['message']
    # the remedy names the first line that serves 1.43, derived from the knowledge base
    first = next(line for line in ('23.0', '24.0', '25.0')
                 if tuple(map(int, engine_api_range(line + '.0')['max'].split('.'))) >= (1, 43))
    assert f'upgrade the engine to {first}' in finding['remedy']
    assert 'caprover/caprover <1.12.0' in finding['remedy']
    assert 'caprover/caprover#2117' in finding['source']


def test_incident_1_rollback_target_clears_it():
    facts = L.host(L.docker('20.10.24'), mounts=[L.socket_mount('captain', 'caprover/caprover:1.12.0')])
    assert compat_findings(facts, {'clients': {'captain': '1.11.1'}}) == []


def test_incident_1_engine_upgrade_clears_it():
    facts = L.host(L.docker('20.10.24'), mounts=[L.socket_mount('captain', 'caprover/caprover:1.12.0')])
    assert 'client_api_too_new' not in ids(compat_findings(facts, {'engine': '24.0.7'}))


def test_api_version_env_wins_over_the_image():
    # DOCKER_API_VERSION=1.41 in CapRover's environment (its documented override) makes 1.12.0 work on 20.10
    facts = L.host(L.docker('20.10.24'), mounts=[L.socket_mount('captain', 'caprover/caprover:1.12.0', '1.41')])
    assert compat_findings(facts, {}) == []


def test_declared_api_version_used_for_unlisted_client():
    facts = L.host(L.docker('20.10.24'), declared=[{'name': 'legacy-agent', 'api_version': '1.43'}])
    assert ids(compat_findings(facts, {})) == ['client_api_too_new']


def test_unknown_client_is_info():
    facts = L.host(L.docker('28.5.2'), mounts=[L.socket_mount('mystery', 'acme/thing:latest')])
    finding = only(compat_findings(facts, {}), 'client_api_unknown')
    assert finding['severity'] == 'info'


# --- docs/incidents.md#containerd-shim-v3: containerd 2.1.9 installed, 1.7.24 still running ---

def test_incident_2_shim_protocol_mismatch():
    facts = L.host(L.docker('26.1.5'), L.containerd(running='1.7.24', installed='2.1.9'))
    finding = only(compat_findings(facts, {}), 'containerd_shim_protocol_mismatch')
    assert finding['severity'] == 'blocker'
    assert L.SHIM_ERROR in finding['message']
    assert 'restart containerd' in finding['remedy'].lower()


def test_incident_2_uses_raw_debian_version_strings_too():
    section = L.containerd(running='1.7.24', installed='2.1.9')
    section['installed_version'] = L.CONTAINERD['2.1.9']['raw']      # "2.1.9+unknown"
    section['running_version'] = L.CONTAINERD['1.7.24']['raw']       # "1.7.24~ds1"
    section['shims'][0]['version'] = L.CONTAINERD['2.1.9']['raw']
    assert 'containerd_shim_protocol_mismatch' in ids(compat_findings(L.host(containerd_section=section), {}))


def test_containerd_restart_without_protocol_change_is_warning():
    # 1.6.20 running, 1.7.24 installed: the 1.7 shim still prints a plain address, so nothing breaks yet
    facts = L.host(containerd_section=L.containerd(running='1.6.20', installed='1.7.24'))
    assert ids(compat_findings(facts, {})) == ['containerd_restart_required']


def test_target_containerd_warns_about_the_restart_window():
    facts = L.host(containerd_section=L.containerd('1.7.24'))
    finding = only(compat_findings(facts, {'containerd': '2.1.9'}), 'containerd_restart_with_upgrade')
    assert L.SHIM_ERROR in finding['message']


def test_facts_protocols_used_when_versions_unknown():
    section = L.containerd('1.7.24', running_version=None, shims=[], installed_version=None,
                           shim_protocol_accepted=[1, 2], shim_protocol_produced=3)
    assert 'containerd_shim_protocol_mismatch' in ids(compat_findings(L.host(containerd_section=section), {}))


def test_skipped_containerd_minor():
    facts = L.host(containerd_section=L.containerd('1.7.24'))
    finding = only(compat_findings(facts, {'containerd': '2.1.9'}), 'containerd_skipped_minor')
    assert 'skips 2.0' in finding['message']
    assert 'RELEASES.md' in finding['source']
    # 1.6 -> 2.0 is a supported step (RELEASES.md: migration from 1.6 or 1.7)
    facts = L.host(containerd_section=L.containerd('1.6.20'))
    assert 'containerd_skipped_minor' not in ids(compat_findings(facts, {'containerd': '2.0.7'}))


def test_containerd_downgrade_warns():
    facts = L.host(containerd_section=L.containerd('2.1.9'))
    assert 'containerd_downgrade' in ids(compat_findings(facts, {'containerd': '1.7.24'}))


def test_config_migration_info():
    facts = L.host(containerd_section=L.containerd('1.7.24', config_version=2))
    assert 'containerd_config_migration' in ids(compat_findings(facts, {'containerd': '2.0.7'}))


# --- docs/incidents.md#agent-api-too-old: ECS agent at API 1.21, leftover DOCKER_MIN_API_VERSION=1.17 ---

def ecs_host(engine='20.10.24', agent='1.80.0', override='1.17'):
    section = L.docker(engine)
    if override:
        section['min_api_overrides'] = [
            {'source': 'systemd_dropin', 'value': override, 'where': '/etc/systemd/system/docker.service.d/ecs.conf'},
        ]
    return L.host(section, declared=[{'name': 'ecs-agent', 'image': f'amazon/amazon-ecs-agent:{agent}'}])


def test_incident_4_leftover_override_stops_dockerd_26():
    finding = only(compat_findings(ecs_host(), {'engine': '26.1.5'}), 'min_api_override_invalid')
    assert finding['severity'] == 'blocker'
    floor = L.ENGINES['26.1.5']['min_api_version']
    expected = f'invalid DOCKER_MIN_API_VERSION: minimum supported API version is {floor}: 1.17'
    assert expected in finding['message']
    assert 'ecs.conf' in finding['message']


def test_incident_4_agent_too_old_and_no_override_helps_on_26():
    finding = only(compat_findings(ecs_host(), {'engine': '26.1.5'}), 'client_api_too_old')
    assert 'client version 1.21 is too old. Minimum supported API version is 1.24' in finding['message']
    assert 'no override can help' in finding['message']
    assert '>=1.81.0' in finding['remedy']


def test_incident_4_override_helps_on_25():
    findings = compat_findings(ecs_host(override=None), {'engine': '25.0.5'})
    finding = only(findings, 'client_api_too_old')
    floor = engine_api_range('25.0.5')['min_override_floor']
    assert 'an override could help' in finding['message'] and floor in finding['message']
    # ...and with the override in place, 25.0 accepts the agent and starts
    findings = compat_findings(ecs_host(override='1.21'), {'engine': '25.0.5'})
    assert 'client_api_too_old' not in ids(findings) and 'min_api_override_invalid' not in ids(findings)


def test_incident_4_fixed_agent_is_fine():
    assert ids(compat_findings(ecs_host(agent='1.81.0', override=None), {'engine': '28.5.2'}), 'blocker') == []


def test_override_ignored_before_25():
    findings = compat_findings(ecs_host(override='1.17'), {'engine': '24.0.7'})
    assert 'min_api_override_ignored' in ids(findings)


def test_daemon_json_min_api_version_blocks_downgrade_from_29():
    section = L.docker('28.5.2', min_api_overrides=[
        {'source': 'daemon_json', 'value': '1.24', 'where': '/etc/docker/daemon.json'}])
    finding = only(compat_findings(L.host(section), {'engine': '28.5.2'}), 'min_api_override_unsupported')
    assert 'min-api-version' in finding['message']
    assert 'min_api_override_unsupported' not in ids(compat_findings(L.host(section), {'engine': '29.1.0'}))


# --- docs/incidents.md#rootless-slirp4netns-28-0-0: rootless 28.0.0 with the slirp4netns port driver ---

def test_incident_5_known_bad_for_slirp4netns_port_driver():
    facts = L.host(L.docker('26.1.5'), rootless_daemons=[L.rootless_daemon(engine='26.1.5', port_driver='slirp4netns')])
    finding = only(compat_findings(facts, {'engine': '28.0.0'}), 'known_bad_release')
    assert finding['severity'] == 'blocker' and finding['component'] == 'rootless:alice'
    assert 'moby/moby#49499' in finding['source'] and '28.0.1' in finding['message']
    assert 'known_bad_release' not in ids(compat_findings(facts, {'engine': '28.0.1'}))


def test_incident_5_builtin_port_driver_unaffected():
    facts = L.host(L.docker('26.1.5'), rootless_daemons=[L.rootless_daemon(engine='26.1.5', port_driver='builtin')])
    assert 'known_bad_release' not in ids(compat_findings(facts, {'engine': '28.0.0'}))


def test_incident_5_without_rootless_facts_is_unverified_info():
    facts = L.host(L.docker('26.1.5'))
    unverified = [f for f in compat_findings(facts, {'engine': '28.0.0'}) if f['id'] == 'known_bad_unverified']
    rootless = [f for f in unverified if 'rootless facts were not gathered' in f['message']]
    assert len(rootless) == 1 and rootless[0]['severity'] == 'info', unverified


def test_incident_5_current_rootless_daemon_on_bad_release():
    facts = L.host(L.docker('28.5.2'), rootless_daemons=[L.rootless_daemon(engine='28.0.0', port_driver='slirp4netns')])
    assert ids(compat_findings(facts, {})) == ['known_bad_release']


def test_line_only_target_is_evaluated_as_first_patch():
    facts = L.host(L.docker('26.1.5'), rootless_daemons=[L.rootless_daemon(engine='26.1.5', port_driver='slirp4netns')])
    finding = only(compat_findings(facts, {'engine': '28.0'}), 'known_bad_release')
    assert 'pin a patch release' in finding['message']


def test_rootlesskit_known_bad():
    facts = L.host(L.docker('20.10.24'), rootless_daemons=[
        L.rootless_daemon(engine='20.10.24', port_driver='slirp4netns', rootlesskit='0.14.1')])
    finding = only(compat_findings(facts, {}), 'known_bad_release')
    assert 'rootless-containers/rootlesskit#250' in finding['source']


def test_user_known_bad_row_from_inventory():
    knowledge = {'known_bad': [{
        'id': 'acme-26.1.5', 'component': 'engine', 'versions': '==26.1.5', 'severity': 'warning',
        'fixed_in': None, 'symptom': 'our storage plugin hangs', 'remedy': 'stay on 26.1.4',
        'source': 'ACME incident INC-7'}]}
    facts = L.host(L.docker('20.10.24'))
    finding = only(compat_findings(facts, {'engine': '26.1.5'}, knowledge), 'known_bad_release')
    assert finding['severity'] == 'warning' and 'INC-7' in finding['source']


# --- engine state ---------------------------------------------------------------------------------

def test_stale_engine():
    facts = L.host(L.docker('20.10.24', installed='26.1.5'))
    finding = only(compat_findings(facts, {}), 'engine_stale')
    assert finding['severity'] == 'warning'


def test_stale_engine_computed_when_flag_missing():
    facts = L.host(L.docker('20.10.24', installed='26.1.5', stale=None))
    assert 'engine_stale' in ids(compat_findings(facts, {}))


@pytest.mark.parametrize('driver,target,expected', [
    ('aufs', '23.0.6', 'storage_driver_deprecated'),
    ('aufs', '24.0.7', 'storage_driver_removed'),
    ('devicemapper', '24.0.7', 'storage_driver_deprecated'),
    ('devicemapper', '25.0.5', 'storage_driver_removed'),
    ('overlay', '26.1.5', 'storage_driver_removed'),
])
def test_storage_driver(driver, target, expected):
    facts = L.host(L.docker('20.10.24', storage_driver=driver))
    assert expected in ids(compat_findings(facts, {'engine': target}))


def test_live_restore_not_covering_minor_upgrade():
    facts = L.host(L.docker('26.1.5', live_restore=True))
    finding = only(compat_findings(facts, {'engine': '28.5.2'}), 'live_restore_not_covering')
    assert 'docs.docker.com/engine/daemon/live-restore' in finding['source']
    assert 'live_restore_not_covering' not in ids(compat_findings(facts, {'engine': '26.1.4'}))


def test_docker_unreachable_is_reported_not_raised():
    section = L.docker('20.10.24', can_talk_to_docker=False, error='permission denied', version=None,
                       api_version=None, min_api_version=None)
    assert 'engine_facts_unavailable' in ids(compat_findings(L.host(section), {}))


def test_whole_ansible_facts_accepted():
    facts = L.host(L.docker('20.10.24'), mounts=[L.socket_mount('captain', 'caprover/caprover:1.12.0')])
    assert compat_findings({'container_engine': facts['container_engine'], 'os_family': 'Debian'}, {}) == \
        compat_findings(facts)


def test_image_ref_with_registry_and_digest():
    facts = L.host(L.docker('28.5.2'), declared=[
        {'name': 'proxy', 'image': 'docker.io/library/traefik:v3.6.0@sha256:' + '0' * 64}])
    finding = only(compat_findings(facts, {'engine': '29.0.0'}), 'client_api_too_old')
    assert 'traefik/traefik#12253' in finding['source']
    assert compat_findings(facts, {'engine': '28.5.2'}) == []
