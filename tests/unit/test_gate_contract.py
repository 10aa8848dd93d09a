"""A preflight gate never passes silently on malformed input (docs/findings.md "What the filters accept").

Each input below once came back as an empty list ("nothing blocks") or was read as something else;
each must now be one error that names the filter and shows the value as the user wrote it.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess

import lab_facts as L
import pytest
from ansible._internal._datatag._tags import Origin
from ansible.errors import AnsibleFilterError
from ansible.module_utils._internal._datatag import AnsibleTagHelper
from ansible_collections.fleetsafe.container_engine.plugins.filter.compat_findings import compat_findings
from ansible_collections.fleetsafe.container_engine.plugins.filter.nearest_tag import nearest_tag
from ansible_collections.fleetsafe.container_engine.plugins.filter.upgrade_plan import upgrade_plan

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOST = L.host(L.docker('20.10.24'), L.containerd('1.7.24'),
              mounts=[L.socket_mount('captain', 'caprover/caprover:1.12.0')])
LONG_TAG = 'v1.' + '9' * 126          # 129 characters: one more than the OCI distribution spec allows


def tagged(value):
    return AnsibleTagHelper.tag(value, [Origin(path='/inventory/group_vars/all.yml', line_num=7)])


def error_of(func, *args, **kwargs):
    with pytest.raises(AnsibleFilterError) as info:
        func(*args, **kwargs)
    message = str(info.value)
    assert 'Tagged' not in message and 'NoneType' not in message, message
    return message


@pytest.mark.parametrize('target,fragment', [
    ({'engine': None}, 'target.engine is null: give a version'),
    ({'containerd': None}, 'target.containerd is null'),
    ({'clients': {'captain': None}}, 'target.clients.captain is null'),
    ({'clients': None}, 'target.clients must map client names to versions, got null'),
    ({'images': None}, 'target.images must be a list'),
    ({'engine': '26.1.5garbage'}, "target.engine is not a version: '26.1.5garbage'"),
    ({'engine': '28.0.1.x'}, "target.engine is not a version: '28.0.1.x'"),
    ({'engine': '26'}, "target.engine must be a release like \"26.1.5\" or a line like \"26.1\", got '26'"),
    ({'containerd': '2.1.9 please'}, "target.containerd is not a version: '2.1.9 please'"),
    ({'clients': {'captian': '1.11.1'}}, 'target.clients names captian, which the clients facts do not show'),
])
@pytest.mark.parametrize('func', [compat_findings, upgrade_plan], ids=['compat_findings', 'upgrade_plan'])
def test_malformed_target_is_an_error(func, target, fragment):
    assert fragment in error_of(func, HOST, target)


def test_packaging_suffixes_are_still_versions():
    """What real tools print stays readable: only non-suffix garbage is refused."""
    def kinds(target):
        return [(f['id'], f['severity']) for f in compat_findings(HOST, target)]
    assert kinds({'engine': '5:24.0.7-1~debian.12~bookworm'}) == kinds({'engine': '24.0.7'})
    assert 'client_api_too_new' in [f['id'] for f in compat_findings(HOST, {'engine': '20.10.24+dfsg1-1+deb12u1+b6'})]


def test_facts_version_with_trailing_garbage_is_an_error():
    facts = L.host(L.docker('20.10.24', version='20.10.24garbage'))
    assert "docker.version is not a version: '20.10.24garbage'" in error_of(compat_findings, facts, {})


@pytest.mark.parametrize('facts,fragment', [
    ({'ansible_facts': {'container_engine': HOST['container_engine']}, 'inventory_hostname': 'h1',
      'group_names': []}, 'this looks like hostvars[host]'),
    ({'os_family': 'Debian', 'ansible_distribution': 'Debian'},
     'run fleetsafe.container_engine.container_engine_facts'),
    ({'dockr': HOST['container_engine']['docker']}, "got a dict with key(s) 'dockr'"),
    ({}, 'facts hold none of the sections'),
    ({'docker': None, 'containerd': None}, 'facts hold none of the sections'),
    ([HOST], 'facts must be a dict, got list'),
])
def test_facts_of_an_unrecognised_shape_are_an_error(facts, fragment):
    assert fragment in error_of(compat_findings, facts, {'engine': '26.1.5'})
    assert fragment in error_of(upgrade_plan, facts, {'engine': '26.1.5'})


def test_whole_ansible_facts_and_images_only_still_work():
    assert compat_findings({'container_engine': HOST['container_engine'], 'os_family': 'Debian'}, {}) == \
        compat_findings(HOST, {})
    assert compat_findings({}, {'images': [{'image': 'clastix/kubectl', 'tag': 'v1.31', 'available': ['v1.31']}]}) \
        == []


def test_target_clients_without_client_facts_is_an_error():
    facts = L.host(L.docker('20.10.24'))
    assert 'clients facts were not gathered' in error_of(compat_findings, facts, {'clients': {'captain': '1.11.1'}})


def test_image_tag_longer_than_registries_allow_is_an_error():
    assert len(LONG_TAG) == 129
    image = {'image': 'clastix/kubectl', 'tag': LONG_TAG, 'available': ['v1.31']}
    message = error_of(compat_findings, {}, {'images': [image]})
    assert 'target.images[0].tag is 129 characters long; registries allow at most 128' in message
    assert 'registries allow at most 128' in error_of(nearest_tag, LONG_TAG, ['v1.31'])
    assert nearest_tag(LONG_TAG[:128], ['v1.31'])['tag'] == 'v1.31'
    assert 'is not an image tag' in error_of(nearest_tag, '-v1.32', ['v1.31'])


def test_values_from_inventory_are_shown_as_written():
    """Ansible 2.19 hands filters tagged strings and numbers; errors show the value, never the type's name."""
    message = error_of(compat_findings, tagged(HOST), tagged({'engine': tagged('26.1.5garbage')}))
    assert "'26.1.5garbage'" in message
    message = error_of(compat_findings, HOST, {'engine': tagged(26.1)})
    assert 'got float 26.1' in message
    message = error_of(compat_findings, HOST, {}, {'engines': tagged(3)})
    assert 'got integer' in message


def test_errors_through_a_real_ansible_run(tmp_path):
    """The same errors as a user sees them: ansible ad hoc, values from a vars file, hostvars passed by mistake."""
    (tmp_path / 'vars.yml').write_text('fleetsafe_target:\n  engine: 26.1.5garbage\nfleetsafe_ok_target:\n'
                                       '  engine: 26.1.5\n')
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, 'build', 'collections'),
               ANSIBLE_FORCE_COLOR='0', ANSIBLE_NOCOLOR='1')
    ansible = os.path.join(ROOT, '.venv', 'bin', 'ansible')

    def adhoc(expression):
        result = subprocess.run(
            [ansible, 'localhost', '-c', 'local', '-i', 'localhost,', '-e', '@%s' % (tmp_path / 'vars.yml'),
             '-m', 'ansible.builtin.debug', '-a', json.dumps({'msg': '{{ ' + expression + ' }}'})],
            capture_output=True, text=True, env=env, check=False, cwd=str(tmp_path))
        assert result.returncode != 0, result.stdout
        assert 'Tagged' not in result.stdout and 'HostVars' not in result.stdout, result.stdout
        return result.stdout

    facts = "{{'docker': {!r}}}".format(L.docker('20.10.24'))
    out = adhoc(f'{facts} | fleetsafe.container_engine.compat_findings(fleetsafe_target)')
    assert "compat_findings: target.engine is not a version: '26.1.5garbage'" in out
    out = adhoc("hostvars['localhost'] | fleetsafe.container_engine.compat_findings(fleetsafe_ok_target)")
    assert 'this looks like hostvars[host]: pass hostvars[host].ansible_facts.container_engine' in out
    # a target built from an unset variable is never "no change"
    out = adhoc(f'{facts} | fleetsafe.container_engine.compat_findings(upgrade_target | default(none))')
    assert 'compat_findings: target is null: give the versions to judge' in out
    out = adhoc(f'{facts} | fleetsafe.container_engine.upgrade_plan(upgrade_target | default(""))')
    assert "upgrade_plan: target must be a dict, got string ''" in out
    out = adhoc(f'{{"container_engine": {facts}}} | fleetsafe.container_engine.upgrade_plan(upgrade_target)')
    assert "'upgrade_target' is undefined" in out


# --- remedies read as a person would write them ------------------------------------------------

CLIENTS = ['caprover/caprover:1.11.1', 'caprover/caprover:1.12.0', 'amazon/amazon-ecs-agent:1.80.0',
           'traefik:v3.6.0', 'traefik:v2.11.30', 'portainer/portainer-ce:2.33.4']
GRID = list(itertools.product(['20.10.24', '26.1.5', '28.5.2'],
                              [None, '20.10.24', '24.0.7', '25.0.5', '26.1.5', '28.5.2', '29.0.0'], CLIENTS))


def _grid_findings():
    for engine, target, image in GRID:
        facts = L.host(L.docker(engine), mounts=[L.socket_mount('web-1', image)])
        for finding in compat_findings(facts, {'engine': target} if target else {}):
            yield engine, target, image, finding


def test_an_upgrade_is_never_a_move_to_an_older_line():
    from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._versions import parse_spec, parse_version
    for _engine, _target, image, finding in _grid_findings():
        current = parse_version(image.rsplit(':', 1)[1])
        for match in re.finditer(r'upgrade \S+ first \(([^)]*)\)', finding['remedy']):
            ranges = match.group(1) if match.group(1)[:1] in '<>=!' else match.group(1).split(' ', 1)[1]
            for spec in ranges.split(' or '):
                assert not parse_spec(spec).entirely_below(current), (image, finding['remedy'])


def test_remedies_name_the_product_not_the_container_and_repeat_nothing():
    for _engine, _target, image, finding in _grid_findings():
        remedy = finding['remedy']
        assert 'web-1' not in remedy, remedy
        parts = [part.strip() for part in remedy.split(';')]
        assert len(parts) == len(set(parts)), remedy
        assert remedy.count(image.split(':')[0] + ' ') <= 1, remedy


def test_a_rollback_target_does_not_tell_a_newer_host_to_upgrade_to_an_older_engine():
    facts = L.host(L.docker('28.5.2'), mounts=[L.socket_mount('captain', 'caprover/caprover:1.12.0')])
    finding = next(f for f in compat_findings(facts, {'engine': '20.10.24'}) if f['id'] == 'client_api_too_new')
    assert 'upgrade the engine to 24.0' not in finding['remedy']
    assert 'keep the engine at 24.0 or later (the host runs 28.5.2' in finding['remedy']
