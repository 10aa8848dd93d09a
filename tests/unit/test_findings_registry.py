"""The findings registry: one example per finding id, the documentation generated from it, and the
switches operators use (findings by id, knowledge rows with enabled: false).

`pytest -k ID tests/unit` runs the example of finding ID (test_finding_example[ID]).
"""

from __future__ import annotations

import os
import subprocess
import sys

import lab_facts as L
import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetsafe.container_engine.plugins.filter.compat_findings import compat_findings
from ansible_collections.fleetsafe.container_engine.plugins.filter.upgrade_plan import upgrade_plan
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils import _kb
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._compat_findings import REGISTRY

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ECS_DROPIN = [{'source': 'systemd_dropin', 'value': '1.17', 'where': '/etc/systemd/system/docker.service.d/ecs.conf'}]
TAGS = ['v1.30', 'v1.31']


def _rootless(port_driver, engine='26.1.5', rootlesskit='2.0.2'):
    return [L.rootless_daemon(engine=engine, port_driver=port_driver, rootlesskit=rootlesskit)]


# finding id -> (facts, target[, knowledge]): the smallest lab-recorded host that shows it
EXAMPLES = {
    'client_api_unknown': (L.host(L.docker('28.5.2'), mounts=[L.socket_mount('x', 'acme/thing:latest')]), {}),
    'client_api_too_new': (L.host(L.docker('20.10.24'), mounts=[L.socket_mount('captain', 'caprover/caprover:1.12.0')]),
                           {}),
    'client_floating_tag_some_releases_break': (
        L.host(L.docker('28.5.2'), mounts=[L.socket_mount('proxy', 'traefik:latest')]), {'engine': '29.0.0'}),
    'client_api_unknown_min_api_raised': (L.host(L.docker('28.5.2'), mounts=[L.socket_mount('x', 'acme/thing:latest')]),
                                          {'engine': '29.0.0'}),
    'client_api_too_old': (L.host(L.docker('20.10.24'), declared=[{'name': 'ecs-agent',
                                                                  'image': 'amazon/amazon-ecs-agent:1.80.0'}]),
                           {'engine': '26.1.5'}),
    'containerd_shim_protocol_mismatch': (L.host(containerd_section=L.containerd('1.7.24', '2.1.9')), {}),
    'containerd_restart_required': (L.host(containerd_section=L.containerd('1.6.20', '1.7.24')), {}),
    'containerd_restart_with_upgrade': (L.host(containerd_section=L.containerd('1.7.24')), {'containerd': '2.1.9'}),
    'containerd_downgrade': (L.host(containerd_section=L.containerd('2.1.9')), {'containerd': '1.7.24'}),
    'containerd_unknown_line': (L.host(containerd_section=L.containerd('1.6.20', installed_version='1.4.13')),
                                {'containerd': '1.7.24'}),
    'containerd_no_upgrade_path': (L.host(containerd_section=L.containerd('2.1.9')), {'containerd': '3.0.0'}, {
        'containerd': [{'line': '3.0', 'shim_protocol_accepted': [3], 'shim_protocol_produced': 3,
                        'upgrades_from': ['2.9'], 'source': 'assumed for a test: a line only 2.9 leads to'}]}),
    'containerd_skipped_minor': (L.host(containerd_section=L.containerd('1.7.24')), {'containerd': '2.1.9'}),
    'containerd_config_migration': (L.host(containerd_section=L.containerd('1.7.24', config_version=2)),
                                    {'containerd': '2.0.7'}),
    'engine_facts_unavailable': (L.host(L.docker('20.10.24', can_talk_to_docker=False, error='permission denied',
                                                 version=None, api_version=None, min_api_version=None)), {}),
    'engine_stale': (L.host(L.docker('20.10.24', installed='26.1.5')), {}),
    'package_family_mismatch': (L.host(L.docker('26.1.5')), {'engine': '28.5.2', 'package_family': 'docker-ce'}),
    'package_family_switch_moves_release': (L.host(L.docker('26.1.5')), {
        'engine': '28.5.2', 'package_family': 'docker-ce', 'package_family_switch': True}),
    'apt_source_lacks_family_switch_package': (L.host(L.docker('26.1.5'), L.containerd('1.7.24')), {
        'engine': '26.1.5', 'package_family': 'docker-ce', 'package_family_switch': True}),
    # alice's rootless dockerd starts docker.io's contrib dockerd-rootless.sh (recorded as rootless_facts reports it)
    'package_family_switch_breaks_rootless': (
        L.host(L.docker('26.1.5'), L.containerd('1.7.24'), rootless_daemons=_rootless('builtin')),
        {'package_family': 'docker-ce', 'package_family_switch': True}),
    'package_family_switch_rootless_unknown': (L.host(L.docker('26.1.5'), L.containerd('1.7.24')), {
        'package_family': 'docker-ce', 'package_family_switch': True}),
    'package_family_switch_rootless_unverified': (
        L.host(L.docker('26.1.5'), L.containerd('1.7.24'), rootless_daemons=[L.rootless_daemon(
            engine='26.1.5', script='/home/alice/bin/dockerd-rootless.sh', script_family=None)]),
        {'package_family': 'docker-ce', 'package_family_switch': True}),
    'daemon_option_refused': (L.host(L.docker('26.1.5', daemon_json={'api-cors-header': '*'})), {'engine': '28.5.2'}),
    'daemon_option_ignored': (L.host(L.docker('28.5.2', daemon_json={'deprecated-key-path': '/etc/docker/key.json'})),
                              {}),
    'daemon_option_deprecated': (L.host(L.docker('28.5.2', daemon_json={'host-gateway-ip': '192.0.2.1'})), {}),
    'min_api_override_invalid': (L.host(L.docker('20.10.24', min_api_overrides=ECS_DROPIN)), {'engine': '26.1.5'}),
    'min_api_override_unsupported': (L.host(L.docker('28.5.2', min_api_overrides=[
        {'source': 'daemon_json', 'value': '1.24', 'where': '/etc/docker/daemon.json'}])), {}),
    'min_api_override_ignored': (L.host(L.docker('20.10.24', min_api_overrides=ECS_DROPIN)), {'engine': '24.0.7'}),
    'storage_driver_removed': (L.host(L.docker('20.10.24', storage_driver='overlay')), {'engine': '26.1.5'}),
    'storage_driver_deprecated': (L.host(L.docker('20.10.24', storage_driver='aufs')), {'engine': '23.0.6'}),
    'live_restore_not_covering': (L.host(L.docker('26.1.5', live_restore=True)), {'engine': '28.5.2'}),
    'engine_restart_stops_containers': (L.host(L.docker('26.1.5')), {'engine': '28.5.2'}),
    'image_tag_missing': ({}, {'images': [{'image': 'clastix/kubectl', 'tag': 'v1.29', 'available': TAGS}]}),
    'image_tag_missing_fallback': ({}, {'images': [{'image': 'clastix/kubectl', 'tag': 'v1.32', 'available': TAGS}]}),
    'known_bad_release': (L.host(L.docker('26.1.5'), rootless_daemons=_rootless('slirp4netns')), {'engine': '28.0.0'}),
    'known_bad_unverified': (L.host(L.docker('26.1.5')), {'engine': '28.0.0'}),
    'client_swarm_managed': (L.host(L.docker('20.10.24'), mounts=[
        L.swarm_mount('ecs.1.x', 'amazon/amazon-ecs-agent:1.80.0')]), {'engine': '26.1.5'}),
    'client_compose_file_unreachable': (L.host(L.docker('20.10.24'), mounts=[L.compose_mount(
        'monitoring-agent-1', 'amazon/amazon-ecs-agent:1.80.0',
        problem='/srv/monitoring/compose.yaml does not exist on this host')]), {'engine': '26.1.5'}),
    # CapRover 1.11.1 speaks 1.40: Engine 29.0 wants 1.44, which only 1.14.1 speaks and 20.10 refuses
    'client_needs_new_engine_first': (L.host(L.docker('20.10.24'),
                                             mounts=[L.socket_mount('captain', 'caprover/caprover:1.11.1')]),
                                      {'engine': '29.0.0'}),
    'apt_source_lacks_containerd_line': (L.host(containerd_section=L.containerd('1.7.24')), {'containerd': '2.1.9'}),
    'apt_source_lacks_containerd': (L.host(containerd_section=L.containerd('1.6.20')), {'containerd': '1.7.25'}),
    'apt_source_lacks_engine': (L.host(L.docker('20.10.24')), {'engine': '27.5.1'}),
    'apt_source_lacks_package': (L.host(L.docker('20.10.24')), {'engine': '26.1.5'}),
    'apt_source_lacks_family_package': (L.host(L.docker('26.1.5')), {'engine': '28.5.2'}),
    'smoke_image_missing': (L.host(L.docker('26.1.5')), {}),
    'apt_cannot_make_step': (L.host(L.docker('28.5.2'), L.containerd('2.1.9')), {'engine': '26.1.5'}),
}

# what the lab's offline repo serves (apt-cache madison in a lab host): the old, mid and new sets
LAB_APT = {'source': 'deb [trusted=yes] file:/srv/repo ./',
           'packages': {'engine': 'docker.io', 'cli': 'docker-cli', 'containerd': 'containerd'},
           'offered': {'docker.io': ['28.5.2+dfsg4-5', '26.1.5+dfsg1-9+deb13u1', '20.10.24+dfsg1-1+deb12u1+b6'],
                       'docker-cli': ['28.5.2+dfsg4-5', '26.1.5+dfsg1-9+deb13u1'],
                       'containerd': ['2.1.9+ds1-5', '1.7.24~ds1-6+deb13u1', '1.6.20~ds1-1+deb12u3'],
                       'tini': ['0.19.0-1+b3']}}
# finding id -> the preflight argument its example needs (what only the host can tell)
PREFLIGHT = {
    'apt_source_lacks_containerd_line': {'apt': LAB_APT},
    'apt_source_lacks_containerd': {'apt': LAB_APT},
    'apt_source_lacks_engine': {'apt': LAB_APT},
    'apt_source_lacks_package': {'apt': dict(LAB_APT, extra={'tini-static': '', 'tini': '0.19.0-6'})},
    # a host with Debian's docker-cli installed (it moves with docker.io) and a source without docker-cli 28.5
    'apt_source_lacks_family_package': {'apt': dict(LAB_APT, moving=['docker-cli'], offered=dict(
        LAB_APT['offered'], **{'docker-cli': ['26.1.5+dfsg1-9+deb13u1']}))},
    # a Debian host switching to docker-ce against a source that serves docker-ce 26.1.5 but no containerd.io 1.7
    'apt_source_lacks_family_switch_package': {'apt': dict(
        LAB_APT, packages={'engine': 'docker-ce', 'cli': 'docker-ce-cli', 'containerd': 'containerd.io'},
        offered={'docker-ce': ['5:26.1.5-1~debian.12~bookworm'], 'docker-ce-cli': ['5:26.1.5-1~debian.12~bookworm'],
                 'containerd.io': ['1.6.20-1']},
        switch={'from': 'debian', 'to': 'docker-ce', 'packages': {'docker-ce': '5:26.1.5-1~debian.12~bookworm',
                                                                  'docker-ce-cli': '5:26.1.5-1~debian.12~bookworm'},
                'remove': ['docker.io', 'docker-cli', 'containerd', 'runc'], 'lacking': [['containerd.io', '1.7.24']],
                'plan': []})},
    'smoke_image_missing': {'smoke_image': {'image': 'busybox:latest', 'present': False}},
    # apt_resolve's answer on a lab host at the new set asked about new -> mid
    # (tests/unit/data/engine_host_recorded.json)
    'apt_cannot_make_step': {'apt': dict(LAB_APT, cannot_make={
        'action': 'upgrade_engine', 'component': 'engine', 'from': '28.5.2', 'to': '26.1.5',
        'moves': ['docker-cli=26.1.5+dfsg1-9+deb13u1', 'docker.io=26.1.5+dfsg1-9+deb13u1'],
        'problems': ['tini-static: Breaks: tini (< 0.19.0-5) but 0.19.0-1+b3 is to be installed'],
        'in_the_way': ['tini-static', 'tini'],
        'output': 'E: Unable to correct problems, you have held broken packages.'})},
}


def test_every_finding_has_an_example():
    assert sorted(EXAMPLES) == sorted(REGISTRY)


@pytest.mark.parametrize('fid', list(REGISTRY))
def test_finding_example(fid):
    facts, target, *knowledge = EXAMPLES[fid]
    everything = compat_findings(facts, target, *knowledge, preflight=PREFLIGHT.get(fid))
    found = [f for f in everything if f['id'] == fid]
    assert found, everything
    entry = REGISTRY[fid]
    for finding in found:
        if entry.severity != 'per row':
            assert finding['severity'] == entry.severity
        assert finding['source'] and finding['message'] and finding['remedy']


@pytest.mark.parametrize('fid', list(REGISTRY))
def test_finding_knowledge_rows_exist(fid):
    sections = _kb.builtin_sections()
    for ref in REGISTRY[fid].kb:
        section, key = ref.split(':', 1)
        key_field = _kb.SCHEMA[section][0]
        assert key == '*' or any(row[key_field] == key for row in sections[section]), ref


def test_committed_doc_matches_the_registry():
    """docs/findings.md is generated: ids, severities, knowledge rows, sources and checks come from the registry."""
    result = subprocess.run([sys.executable, os.path.join(ROOT, 'tests', 'unit', 'findings_doc.py'), '--check'],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_doc_names_each_finding_with_its_severity_and_rows():
    with open(os.path.join(ROOT, 'docs', 'findings.md'), encoding='utf-8') as handle:
        doc = handle.read()
    for entry in REGISTRY.values():
        row = next(line for line in doc.splitlines() if line.startswith(f'| [`{entry.id}`]'))
        assert f'| {entry.severity} |' in row
        for ref in entry.kb:
            assert f'`{ref}`' in row


def test_knowledge_base_doc_does_not_restate_severities():
    """The findings table lives in docs/findings.md only (it once called a blocker a warning)."""
    with open(os.path.join(ROOT, 'docs', 'knowledge_base.md'), encoding='utf-8') as handle:
        doc = handle.read()
    assert 'docs/findings.md' in doc or 'findings.md' in doc
    for fid in REGISTRY:
        assert f'`{fid}` |' not in doc


# --- switches --------------------------------------------------------------------------------

def test_switching_off_the_rule_a_blocker_relies_on_fails_clearly():
    """upgrade_rules:containerd-restart-after-upgrade backs the blocker containerd_shim_protocol_mismatch."""
    facts, target = EXAMPLES['containerd_shim_protocol_mismatch']
    knowledge = {'upgrade_rules': [{'id': 'containerd-restart-after-upgrade', 'enabled': False}]}
    for name, func in (('compat_findings', compat_findings), ('upgrade_plan', upgrade_plan)):
        with pytest.raises(AnsibleFilterError) as info:
            func(facts, target, knowledge)
        message = str(info.value)
        assert message.startswith(name + ': ')
        assert 'containerd-restart-after-upgrade' in message and 'containerd_shim_protocol_mismatch' in message
        assert 'is a blocker' in message and 'findings=' in message


def test_a_blocker_is_switched_off_only_by_its_id():
    facts, target = EXAMPLES['containerd_shim_protocol_mismatch']
    assert 'containerd_shim_protocol_mismatch' in [f['id'] for f in compat_findings(facts, target)]
    quiet = compat_findings(facts, target, findings={'containerd_shim_protocol_mismatch': {'enabled': False}})
    assert 'containerd_shim_protocol_mismatch' not in [f['id'] for f in quiet]


def test_severity_changed_by_id():
    facts, target = EXAMPLES['engine_stale']
    found = compat_findings(facts, target, findings={'engine_stale': {'severity': 'blocker'}})
    assert [(f['id'], f['severity']) for f in found] == [('engine_stale', 'blocker')]


def test_known_bad_release_severity_replaces_the_rows():
    facts, target = EXAMPLES['known_bad_release']
    found = compat_findings(facts, target, findings={'known_bad_release': {'severity': 'warning'}})
    assert [f['severity'] for f in found if f['id'] == 'known_bad_release'] == ['warning']


@pytest.mark.parametrize('findings,fragment', [
    ({'engine_stail': {'enabled': False}}, "unknown finding id 'engine_stail'"),
    ({'engine_stale': False}, 'must be a dict'),
    ({'engine_stale': {'enabled': 'no'}}, "enabled must be true or false, got 'no'"),
    ({'engine_stale': {'severity': 'fatal'}}, "severity must be one of blocker, warning, info, got 'fatal'"),
    ({'engine_stale': {'level': 'info'}}, "unknown key(s) 'level'"),
    (['engine_stale'], 'must map finding ids'),
])
def test_bad_findings_argument_is_an_error(findings, fragment):
    facts, target = EXAMPLES['engine_stale']
    with pytest.raises(AnsibleFilterError) as info:
        compat_findings(facts, target, findings=findings)
    assert str(info.value).startswith('compat_findings: ') and fragment in str(info.value)


def test_known_bad_row_switched_off_with_enabled_false():
    facts, target = EXAMPLES['known_bad_release']
    knowledge = {'known_bad': [{'id': 'engine-28.0.0-rootless-slirp4netns-port-driver', 'enabled': False}]}
    assert 'known_bad_release' not in [f['id'] for f in compat_findings(facts, target, knowledge)]


def test_switched_off_containerd_line_fails_instead_of_hiding_the_shim_blocker():
    facts, target = EXAMPLES['containerd_shim_protocol_mismatch']
    knowledge = {'containerd': [{'line': '1.7', 'enabled': False}]}
    with pytest.raises(AnsibleFilterError, match='containerd line 1.7 is not in the knowledge base'):
        compat_findings(facts, target, knowledge)


@pytest.mark.parametrize('row,fragment', [
    ({'id': 'engine-28.0.0-rootless-slirp4netns-port-driver', 'disabled': True}, 'use "enabled: false"'),
    ({'id': 'engine-28.0.0-rootless-slirp4netns-port-drvier', 'enabled': False}, 'names no built-in row'),
])
def test_knowledge_switch_mistakes_are_errors(row, fragment):
    facts, target = EXAMPLES['known_bad_release']
    with pytest.raises(AnsibleFilterError) as info:
        compat_findings(facts, target, {'known_bad': [row]})
    assert fragment in str(info.value)
