"""Clients that Compose or a swarm manage: labels -> facts (managed_by, manager), where a Compose service's image is
written in its files, and the findings per manager (client_swarm_managed, client_compose_file_unreachable).

The labels here were read with `docker inspect` from containers in a lab host (Engine 26.1.5, Debian's Compose
2.26.1, `docker swarm init` + `docker service create`); the move itself runs against a real project in
tests/integration/test_api_clients_managed.py."""
from __future__ import annotations

import lab_facts as L
import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetsafe.container_engine.plugins.filter.compat_findings import compat_findings
from ansible_collections.fleetsafe.container_engine.plugins.filter.upgrade_plan import upgrade_plan
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _managers as M
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._gather_clients import client_manager
from ansible_collections.fleetsafe.container_engine.plugins.modules.api_client_move import (
    compose_blocker,
    swarm_message,
)

COMPOSE_LABELS = {  # agent-agent-1, brought up by `docker compose up -d` in /srv/agent (Compose 2.26.1)
    "com.docker.compose.config-hash": "c87a2c63a7385d7d6534f51a7c786dc876abb62902ef1f439b90bc34bd7f145e",
    "com.docker.compose.container-number": "1", "com.docker.compose.depends_on": "",
    "com.docker.compose.image": "sha256:b2842b164a3bbef213958aeab5788f514b2193d0721b50a32bdfc49deb476db4",
    "com.docker.compose.oneoff": "False", "com.docker.compose.project": "agent",
    "com.docker.compose.project.config_files": "/srv/agent/compose.yaml",
    "com.docker.compose.project.working_dir": "/srv/agent", "com.docker.compose.service": "agent",
    "com.docker.compose.version": "2.26.1", "io.fleetsafe.lab.engine-api-version": "1.23",
    "org.opencontainers.image.title": "fleetsafe-lab/agent", "org.opencontainers.image.version": "1.0.0"}
SWARM_LABELS = {  # watcher2.1.wix4eihkbdefbo10n5svkv2el, a task of `docker service create --name watcher2 ...`
    "com.docker.swarm.node.id": "fjq6ohc94bd960au78moeyqou", "com.docker.swarm.service.id": "fd57bxco7u5ll1iizz0ro7hwf",
    "com.docker.swarm.service.name": "watcher2", "com.docker.swarm.task": "",
    "com.docker.swarm.task.id": "wix4eihkbdefbo10n5svkv2el",
    "com.docker.swarm.task.name": "watcher2.1.wix4eihkbdefbo10n5svkv2el",
    "org.opencontainers.image.version": "2.0.0"}
LAB_FILE = """# the monitoring agent
services:
  agent:
    image: fleetsafe-lab/agent:1.0.0   # pinned
    restart: unless-stopped
    environment:
      TEAM: ops
    volumes:
      - /var/run/docker.sock:/var/run/docker.sock
"""
ECS_OLD, ECS_FIXED = 'amazon/amazon-ecs-agent:1.80.0', 'amazon/amazon-ecs-agent:1.81.0'
TARGET = {'engine': '26.1.5'}


# --- labels -> manager ---------------------------------------------------------------------------------------------

def test_compose_labels_name_the_project_service_and_files():
    assert M.manager_of(COMPOSE_LABELS) == ('compose', {
        'project': 'agent', 'service': 'agent', 'working_dir': '/srv/agent',
        'config_files': ['/srv/agent/compose.yaml'], 'compose_version': '2.26.1'})


def test_swarm_labels_name_the_service():
    assert M.manager_of(SWARM_LABELS) == ('swarm', {
        'service_name': 'watcher2', 'service_id': 'fd57bxco7u5ll1iizz0ro7hwf',
        'task_name': 'watcher2.1.wix4eihkbdefbo10n5svkv2el', 'stack': None})


def test_no_manager_without_their_labels():
    assert M.manager_of({'org.opencontainers.image.version': '1.0.0'}) == (None, None)
    assert M.manager_of(None) == (None, None)
    # a project label alone (no service) is not Compose's
    assert M.manager_of({'com.docker.compose.project': 'x'}) == (None, None)


def test_several_config_files_are_split():
    labels = dict(COMPOSE_LABELS, **{'com.docker.compose.project.config_files': '/a/compose.yaml,/a/override.yaml'})
    assert M.manager_of(labels)[1]['config_files'] == ['/a/compose.yaml', '/a/override.yaml']


# --- where the image is written ------------------------------------------------------------------------------------

def test_the_image_line_of_the_service_is_found_and_changed_keeping_the_rest():
    index, image = M.find_service_image(LAB_FILE, 'agent')
    assert (index, image) == (3, 'fleetsafe-lab/agent:1.0.0')
    new = M.set_service_image(LAB_FILE, 'agent', 'fleetsafe-lab/agent:2.0.0')
    assert new == LAB_FILE.replace('agent:1.0.0   # pinned', 'agent:2.0.0   # pinned')


@pytest.mark.parametrize('text, expected', [
    ('services:\n  web:\n    image: nginx:1\n  agent:\n    image: "acme/agent:1.0"\n',
     'services:\n  web:\n    image: nginx:1\n  agent:\n    image: "acme/agent:2.0"\n'),
    ("services:  # ours\n    'agent':\n        build: .\n        image: 'acme/agent:1.0'\nvolumes: {}\n",
     "services:  # ours\n    'agent':\n        build: .\n        image: 'acme/agent:2.0'\nvolumes: {}\n"),
    ('version: "3.8"\r\nservices:\r\n  agent:\r\n    labels:\r\n      image: no\r\n    image: acme/agent:1.0\r\n',
     'version: "3.8"\r\nservices:\r\n  agent:\r\n    labels:\r\n      image: no\r\n    image: acme/agent:2.0\r\n'),
])
def test_quotes_comments_other_services_nested_keys_and_crlf(text, expected):
    assert M.set_service_image(text, 'agent', 'acme/agent:2.0') == expected


@pytest.mark.parametrize('text, reason', [
    ('services:\n  web:\n    image: nginx:1\n', 'no service agent under services:'),
    ('services:\n  agent:\n    build: .\n', 'service agent sets no image'),
    ('services: {agent: {image: acme/agent:1.0}}\n', 'no service agent under services:'),
    ('x-agent:\n  agent:\n    image: acme/agent:1.0\n', 'no service agent under services:'),
    ('services:\n  agent:\n    image: >-\n      acme/agent:1.0\n', 'not a plain value on one line'),
])
def test_what_cannot_be_edited_safely_is_said(text, reason):
    index, why = M.find_service_image(text, 'agent')
    assert index is None and reason in why
    with pytest.raises(ValueError, match=reason.split(':')[0]):
        M.set_service_image(text, 'agent', 'acme/agent:2.0')


def _manager(*files):
    return {'project': 'agent', 'service': 'agent', 'working_dir': '/srv/agent', 'config_files': list(files)}


def test_the_last_file_that_sets_the_image_wins():
    texts = {'/a/compose.yaml': LAB_FILE, '/a/override.yaml': 'services:\n  agent:\n    image: acme/agent:9\n'}
    assert M.locate_compose_image(_manager(*texts), texts.get) == ('/a/override.yaml', 'acme/agent:9', None)
    texts['/a/override.yaml'] = 'services:\n  agent:\n    restart: always\n'
    assert M.locate_compose_image(_manager(*texts), texts.get) == (
        '/a/compose.yaml', 'fleetsafe-lab/agent:1.0.0', None)


def test_a_missing_or_unreadable_file_or_a_variable_is_a_problem():
    assert M.locate_compose_image(_manager('/gone/compose.yaml'), {}.get) == (
        '/gone/compose.yaml', None, '/gone/compose.yaml does not exist on this host')

    def denied(path):
        raise PermissionError(13, 'Permission denied', path)
    assert M.locate_compose_image(_manager('/a/compose.yaml'), denied)[2] == \
        'cannot read /a/compose.yaml: Permission denied'
    text = 'services:\n  agent:\n    image: acme/agent:${AGENT_TAG:-1.0}\n'
    file, image, problem = M.locate_compose_image(_manager('/a/compose.yaml'), {'/a/compose.yaml': text}.get)
    assert (file, image) == ('/a/compose.yaml', 'acme/agent:${AGENT_TAG:-1.0}')
    assert 'comes from a variable (acme/agent:${AGENT_TAG:-1.0})' in problem
    assert 'no compose file' in M.locate_compose_image(_manager(), {}.get)[2]


class _Host:
    def __init__(self, files):
        self.files = files

    def read(self, path, binary=False):
        return self.files.get(path)


class _Ctx:
    def __init__(self, files):
        self.host = _Host(files)


def test_the_facts_of_a_compose_client_say_where_its_image_is_written():
    facts = client_manager(_Ctx({'/srv/agent/compose.yaml': LAB_FILE}), COMPOSE_LABELS)
    assert facts == {'managed_by': 'compose', 'manager': {
        'project': 'agent', 'service': 'agent', 'working_dir': '/srv/agent',
        'config_files': ['/srv/agent/compose.yaml'], 'compose_version': '2.26.1',
        'image_file': '/srv/agent/compose.yaml', 'image_in_file': 'fleetsafe-lab/agent:1.0.0', 'problem': None}}
    gone = client_manager(_Ctx({}), COMPOSE_LABELS)['manager']
    assert gone['problem'] == '/srv/agent/compose.yaml does not exist on this host'
    assert client_manager(_Ctx({}), SWARM_LABELS)['managed_by'] == 'swarm'
    assert client_manager(_Ctx({}), {}) == {'managed_by': None, 'manager': None}


# --- the facts parser ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('change, message', [
    ({'managed_by': 'kubernetes'}, 'managed_by must be one of compose, swarm or null'),
    ({'managed_by': None}, 'manager must be null when'),
    ({'manager': None}, 'manager must be a dict'),
    ({'manager': {'project': 'm', 'config_files': []}}, 'missing key clients.socket_mounts[0].manager.service'),
    ({'manager': {'project': 'monitoring', 'service': '', 'config_files': []}}, 'manager.service must name'),
    ({'manager': {'project': 'm', 'service': 's', 'config_files': '/a.yaml'}}, 'config_files must be a list'),
])
def test_malformed_manager_facts_are_errors_naming_the_value(change, message):
    mount = dict(L.compose_mount('agent', ECS_OLD), **change)
    with pytest.raises(AnsibleFilterError, match='compat_findings.*' + message.replace('[', r'\[').replace(']', r'\]')
                       .replace('.', r'\.')):
        compat_findings(L.host(L.docker('20.10.24'), mounts=[mount]), TARGET)
    swarm = dict(L.swarm_mount('t', ECS_OLD), manager={'service_name': None, 'service_id': None})
    with pytest.raises(AnsibleFilterError, match='needs service_name or service_id'):
        compat_findings(L.host(L.docker('20.10.24'), mounts=[swarm]), TARGET)


def test_facts_without_the_manager_keys_are_read_as_unmanaged():
    """Facts gathered by a release before managed_by existed: no manager finding, the client blocker stays."""
    ids = [f['id'] for f in compat_findings(L.host(L.docker('20.10.24'), mounts=[L.socket_mount('ecs', ECS_OLD)]),
                                            TARGET)]
    assert 'client_api_too_old' in ids and not {'client_swarm_managed', 'client_compose_file_unreachable'} & set(ids)


# --- findings per manager --------------------------------------------------------------------------------------------

def _found(mounts, target=None, **kw):
    facts = L.host(L.docker('20.10.24'), mounts=mounts)
    return {(f['id'], f['component']): f for f in compat_findings(facts, TARGET if target is None else target, **kw)}


def test_a_swarm_task_that_must_move_is_a_blocker_naming_docker_service_update():
    found = _found([L.swarm_mount('watcher.1.abc', ECS_OLD)])
    f = found[('client_swarm_managed', 'client:watcher.1.abc')]
    assert f['severity'] == 'blocker'
    assert 'docker service update --image amazon/amazon-ecs-agent:1.81.0 watcher' in f['remedy']
    assert 'task of the swarm service watcher' in f['message']
    # the plan still says where it must go: the role leaves it to the swarm (the blocker), it never recreates it
    steps = upgrade_plan(L.host(L.docker('20.10.24'), mounts=[L.swarm_mount('watcher.1.abc', ECS_OLD)]), TARGET)
    assert [s['to'] for s in steps if s['component'] == 'client:watcher.1.abc'] == ['1.81.0']
    stacked = _found([L.swarm_mount('mon_watcher.1.abc', ECS_OLD, service='mon_watcher', stack='mon')])
    assert 'stack file' in stacked[('client_swarm_managed', 'client:mon_watcher.1.abc')]['remedy']


def test_a_swarm_task_with_no_release_known_names_the_command_without_one():
    """Captain 1.12.0 (API 1.43) on Engine 20.10 as the target: no caprover release the knowledge base knows is older,
    so the plan has no step, and the remedy names the command with a placeholder."""
    found = _found([L.swarm_mount('captain.1.x', 'caprover/caprover:1.12.0', service='captain-captain')], {})
    assert 'client_api_too_new' in {fid for fid, _c in found}
    remedy = found[('client_swarm_managed', 'client:captain.1.x')]['remedy']
    assert 'docker service update --image' in remedy and 'captain-captain' in remedy


def test_a_compose_client_whose_file_is_not_on_the_host_is_a_blocker_naming_the_file_and_service():
    mount = L.compose_mount('monitoring-agent-1', ECS_OLD, problem='/srv/monitoring/compose.yaml does not exist on '
                                                                   'this host')
    f = _found([mount])[('client_compose_file_unreachable', 'client:monitoring-agent-1')]
    assert 'service agent of the Compose project monitoring' in f['message']
    assert 'does not exist on this host' in f['message']
    assert f['remedy'].startswith('change the image of service agent in /srv/monitoring/compose.yaml to '
                                  'amazon/amazon-ecs-agent:1.81.0, then docker compose -p monitoring '
                                  '-f /srv/monitoring/compose.yaml up -d agent')


def test_a_compose_client_the_move_can_edit_has_no_manager_finding():
    found = _found([L.compose_mount('monitoring-agent-1', ECS_OLD)])
    assert ('client_api_too_old', 'client:monitoring-agent-1') in found
    assert not [k for k in found if k[0] in ('client_compose_file_unreachable', 'client_swarm_managed')]


def test_managed_clients_that_need_no_move_have_no_finding():
    found = _found([L.swarm_mount('w.1', ECS_FIXED),
                    L.compose_mount('m-1', ECS_FIXED, problem='/srv/monitoring/compose.yaml does not exist')])
    assert not [k for k in found if k[0] in ('client_compose_file_unreachable', 'client_swarm_managed')]


def test_a_version_the_target_names_for_a_managed_client_is_the_one_to_move_to():
    found = _found([L.swarm_mount('w.1', ECS_OLD)], dict(TARGET, clients={'w.1': '1.85.0'}))
    assert 'docker service update --image amazon/amazon-ecs-agent:1.85.0 watcher' in \
        found[('client_swarm_managed', 'client:w.1')]['remedy']


def test_each_manager_finding_can_be_switched_off_by_id():
    mounts = [L.swarm_mount('w.1', ECS_OLD), L.compose_mount('m-1', ECS_OLD, problem='gone')]
    assert {k[0] for k in _found(mounts)} >= {'client_swarm_managed', 'client_compose_file_unreachable'}
    off = _found(mounts, findings={'client_swarm_managed': {'enabled': False},
                                   'client_compose_file_unreachable': {'severity': 'warning'}})
    assert not [k for k in off if k[0] == 'client_swarm_managed']
    assert off[('client_compose_file_unreachable', 'client:m-1')]['severity'] == 'warning'


# --- the move's own refusals -----------------------------------------------------------------------------------------

def test_the_module_refuses_a_swarm_task_and_names_the_swarm_command():
    message = swarm_message('watcher2.1.x', M.manager_of(SWARM_LABELS)[1], 'fleetsafe-lab/agent:3.0.0')
    assert 'docker service update --image fleetsafe-lab/agent:3.0.0 watcher2' in message
    assert message.endswith('(nothing was changed)')


def test_the_module_names_file_service_and_command_when_it_cannot_move_through_the_project():
    compose = M.manager_of(COMPOSE_LABELS)[1]
    message = compose_blocker('agent-agent-1', compose, '/srv/agent/compose.yaml', 'fleetsafe-lab/agent:2.0.0',
                              'Docker Compose v2 (docker compose or docker-compose 2.x) is not installed on this host')
    assert 'Change the image of service agent in /srv/agent/compose.yaml to fleetsafe-lab/agent:2.0.0, then run ' \
           'docker compose -p agent -f /srv/agent/compose.yaml up -d agent' in message


class _Compose:
    """What `docker compose config --format json` answers, per file list (the edited file is a temporary one)."""

    def __init__(self, path, answer):
        self.files = [str(path)]
        self.answer = answer

    def config(self, files=None):
        if files is None:
            return {'name': 'agent', 'services': {'agent': {'image': 'fleetsafe-lab/agent:1.0.0', 'restart': 'always'}}}
        assert files != self.files and files[0].endswith('.fleetsafe.yml')
        return self.answer


def test_the_edit_is_checked_with_compose_before_anything_is_written(tmp_path):
    from ansible_collections.fleetsafe.container_engine.plugins.modules.api_client_move import (
        MoveError,
        checked_compose_edit,
    )
    path = tmp_path / 'compose.yaml'
    path.write_text(LAB_FILE)
    new = M.set_service_image(LAB_FILE, 'agent', 'fleetsafe-lab/agent:2.0.0')
    same = {'name': 'agent', 'services': {'agent': {'image': 'fleetsafe-lab/agent:2.0.0', 'restart': 'always'}}}
    checked_compose_edit(_Compose(path, same), str(path), new, 'agent', 'fleetsafe-lab/agent:2.0.0')
    more = {'name': 'agent', 'services': {'agent': {'image': 'fleetsafe-lab/agent:2.0.0', 'restart': 'no'}}}
    with pytest.raises(MoveError, match='changes more than the image of service agent'):
        checked_compose_edit(_Compose(path, more), str(path), new, 'agent', 'fleetsafe-lab/agent:2.0.0')
    other = {'name': 'agent', 'services': {'agent': {'image': 'fleetsafe-lab/agent:1.0.0', 'restart': 'always'}}}
    with pytest.raises(MoveError, match="gives service agent the image 'fleetsafe-lab/agent:1.0.0'"):
        checked_compose_edit(_Compose(path, other), str(path), new, 'agent', 'fleetsafe-lab/agent:2.0.0')
    # nothing written, no temporary file left
    assert path.read_text() == LAB_FILE and [p.name for p in tmp_path.iterdir()] == ['compose.yaml']
