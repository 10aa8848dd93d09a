"""Clients on floating image tags (latest, no tag, a digest, a partial release such as 3 or 3.6).

Which release such a container runs is learned from what the host has (an image label, the registry's digests,
docs/facts.md `version_learned`), else judged across every release the knowledge base holds for its image:
every one breaking is a blocker, some a warning naming them, none nothing. An image with no rows at all stays
client_api_unknown (info), a warning when the target raises the engine's minimum API. The engines are the lab's
recorded ones (lab_facts); what breaks is derived from the knowledge base, never restated here.
"""

from __future__ import annotations

import lab_facts as L
import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetsafe.container_engine.plugins.filter.compat_findings import compat_findings
from ansible_collections.fleetsafe.container_engine.plugins.filter.upgrade_plan import upgrade_plan
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _parse as P
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._gather_clients import learned_version
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils import _kb
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._judge import Range, judge, row_api
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._versions import merge_ranges, parse_version

OCI = 'org.opencontainers.image.version'
SCHEMA = 'org.label-schema.version'
CLIENT_IDS = ('client_api_too_old', 'client_api_too_new', 'client_floating_tag_some_releases_break',
              'client_api_unknown', 'client_api_unknown_min_api_raised')


def mount(name, image, learned=None, source='label:' + OCI, api_version_env=None):
    item = L.socket_mount(name, image, api_version_env=api_version_env)
    if image.endswith(':'):    # no tag
        item.update(image=image[:-1], image_tag=None)
    item['version_learned'] = {'version': learned, 'source': source} if learned else None
    return item


def client_findings(facts, target, *args, **kwargs):
    return [f for f in compat_findings(facts, target, *args, **kwargs) if f['id'] in CLIENT_IDS]


def target_range(line):
    row = _kb.builtin().engine_row(parse_version(line))
    return Range(line, row, row['_api_max'], row['_api_min'])


def breaking_rows(image, line, prefix=None):
    """(rows that break, rows that work) of an image on an engine line, straight from the knowledge base."""
    rng = target_range(line)
    rows = _kb.builtin().client_rows(image)
    if prefix:
        rows = [r for r in rows if r['_spec'].reaches(prefix)]
    judged = [(r, judge(*row_api(r), rng)) for r in rows]
    return [r for r, v in judged if v != 'ok'], [r for r, v in judged if v == 'ok']


# --- every known release breaks: a blocker that says the tag floats ------------------------------------

def test_every_release_too_old_is_a_blocker():
    broken, working = breaking_rows('containrrr/watchtower', '29.0')
    assert broken and not working      # the knowledge base's own verdict, not restated
    facts = L.host(L.docker('28.5.2'), mounts=[mount('updater', 'containrrr/watchtower:latest')])
    [found] = client_findings(facts, {'engine': '29.0.0'})
    assert (found['id'], found['severity']) == ('client_api_too_old', 'blocker')
    assert 'its tag latest floats' in found['message'] and 'every watchtower release' in found['message']
    assert all(row['id'] in found['message'] for row in broken)
    assert 'is too old. Minimum supported API version is 1.44' in found['message']
    assert all(row['source'] in found['source'] for row in broken)


@pytest.mark.parametrize('image', ['caprover/caprover:latest', 'caprover/caprover:', 'caprover/caprover@sha256:' +
                                   '0' * 64])
def test_every_release_too_new_is_a_blocker(image):
    """Engine 18.09 serves at most API 1.39: no caprover release the knowledge base holds speaks that."""
    broken, working = breaking_rows('caprover/caprover', '18.09')
    assert broken and not working
    item = mount('captain', image)
    if '@' in image:
        item.update(image_name='caprover/caprover', image_tag=None)
    facts = L.host(L.docker('20.10.24'), mounts=[item])
    [found] = client_findings(facts, {'engine': '18.09.9'})
    assert (found['id'], found['severity']) == ('client_api_too_new', 'blocker')
    assert 'floats' in found['message'] and 'too new' in found['message']
    # the remedy names an engine that works: the host's own line
    assert '19.03 or later' in found['remedy']


# --- some releases break: a warning naming them and one that works --------------------------------------

@pytest.mark.parametrize('image,prefix', [('traefik:latest', None), ('traefik:', None), ('traefik:3', (3,)),
                                          ('traefik:v3.6', (3, 6)), ('traefik:2', (2,))])
def test_some_releases_break_is_a_warning_naming_them(image, prefix):
    broken, working = breaking_rows('traefik', '29.0', prefix)
    assert broken and working
    facts = L.host(L.docker('28.5.2'), mounts=[mount('proxy', image)])
    [found] = client_findings(facts, {'engine': '29.0.0'})
    assert (found['id'], found['severity']) == ('client_floating_tag_some_releases_break', 'warning')
    for text in merge_ranges([r['versions'] for r in broken]):
        assert text in found['message']
    for text in merge_ranges([r['versions'] for r in working]):
        assert text in found['remedy']
    assert found['remedy'].startswith('Pin the image to a release tag that works')
    # a partial tag is judged across the releases it can stand for only
    if prefix:
        others = [r for r in _kb.builtin().client_rows('traefik') if not r['_spec'].reaches(prefix)]
        assert not any(r['versions'] in found['message'] + found['remedy'] for r in others)


def test_some_releases_too_new_on_the_running_engine():
    """No target: judged against the running 20.10 (API 1.41); caprover 1.12.0 and later speak 1.43 / 1.44."""
    broken, working = breaking_rows('caprover/caprover', '20.10')
    assert broken and working
    facts = L.host(L.docker('20.10.24'), mounts=[mount('captain', 'caprover/caprover:latest')])
    [found] = client_findings(facts, {})
    assert found['id'] == 'client_floating_tag_some_releases_break'
    assert 'too new' in found['message'] and '<1.12.0' in found['remedy']


# --- no release breaks: nothing ---------------------------------------------------------------------------

def test_no_release_breaks_is_no_finding():
    broken, working = breaking_rows('traefik', '28.5')
    assert working and not broken
    facts = L.host(L.docker('28.5.2'), mounts=[mount('proxy', 'traefik:latest')])
    assert client_findings(facts, {}) == []
    assert client_findings(facts, {'engine': '28.5.2'}) == []


# --- no rows at all: client_api_unknown, a warning when the target raises the minimum API ---------------

@pytest.mark.parametrize('engine,target', [('28.5.2', {}), ('28.5.2', {'engine': '28.5.2'}),
                                           ('26.1.5', {'engine': '28.5.2'})])
def test_unknown_image_is_info_when_the_minimum_stays(engine, target):
    facts = L.host(L.docker(engine), mounts=[mount('x', 'acme/thing:latest')])
    assert [(f['id'], f['severity']) for f in client_findings(facts, target)] == [('client_api_unknown', 'info')]


@pytest.mark.parametrize('engine,target,before,after', [
    ('28.5.2', '29.0.0', '1.24', '1.44'),     # the 29.0 raise
    ('20.10.24', '26.1.5', '1.12', '1.24'),   # the 25.0 raise, carried by 26.x
    (None, '25.0.5', '1.12', '1.24'),         # no engine facts: the knowledge base's line before the target
])
def test_unknown_image_is_a_warning_when_the_target_raises_the_minimum(engine, target, before, after):
    facts = L.host(L.docker(engine) if engine else None, mounts=[mount('x', 'acme/thing:latest')])
    [found] = client_findings(facts, {'engine': target})
    assert (found['id'], found['severity']) == ('client_api_unknown_min_api_raised', 'warning')
    assert f'raises the minimum API from {before}' in found['message'] and f'to {after}' in found['message']


def test_the_raise_is_read_from_the_engine_rows_not_a_list():
    """A knowledge row that moves a line's minimum moves the warning with it."""
    facts = L.host(L.docker('26.1.5'), mounts=[mount('x', 'acme/thing:latest')])
    assert client_findings(facts, {'engine': '28.5.2'})[0]['id'] == 'client_api_unknown'
    knowledge = {'engines': [{'line': '28.5', 'api_min_default': '1.30'}]}
    assert client_findings(facts, {'engine': '28.5.2'}, knowledge)[0]['id'] == 'client_api_unknown_min_api_raised'


def test_an_override_that_keeps_the_minimum_keeps_it_info():
    dropin = [{'source': 'systemd_dropin', 'value': '1.24', 'where': '/etc/systemd/system/docker.service.d/m.conf'}]
    facts = L.host(L.docker('28.5.2', min_api_overrides=dropin), mounts=[mount('x', 'acme/thing:latest')])
    assert [f['id'] for f in client_findings(facts, {'engine': '29.0.0'})] == ['client_api_unknown']


# --- what the facts learned ------------------------------------------------------------------------------

@pytest.mark.parametrize('source,said', [
    ('label:' + OCI, 'learned from its image label ' + OCI),
    ('label:org.label-schema.version', 'learned from its image label org.label-schema.version'),
    ('registry:127.0.0.1:5000/caprover/caprover:1.12.0',
     'learned from the registry: 127.0.0.1:5000/caprover/caprover:1.12.0 has its digest'),
])
def test_a_learned_release_is_judged_like_a_tag(source, said):
    facts = L.host(L.docker('20.10.24'), mounts=[mount('captain', 'caprover/caprover:latest', '1.12.0', source)])
    [found] = client_findings(facts, {})
    assert (found['id'], found['severity']) == ('client_api_too_new', 'blocker')
    assert said in found['message'] and 'caprover-1.12-to-1.14.0' in found['message']
    assert 'floats' not in found['message']
    # judged as the tag 1.12.0 would be
    pinned = L.host(L.docker('20.10.24'), mounts=[mount('captain', 'caprover/caprover:1.12.0')])
    assert [f['id'] for f in client_findings(pinned, {})] == ['client_api_too_new']


def test_a_learned_release_that_works_is_no_finding_and_the_plan_knows_it():
    facts = L.host(L.docker('20.10.24'), mounts=[mount('captain', 'caprover/caprover:latest', '1.11.0')])
    assert client_findings(facts, {}) == []
    # a target that refuses 1.11.0's API: the plan moves it, from what was learned
    facts = L.host(L.docker('26.1.5'), mounts=[mount('captain', 'caprover/caprover:latest', '1.14.2')])
    assert [f['id'] for f in client_findings(facts, {'engine': '29.0.0'})] == []
    facts = L.host(L.docker('26.1.5'), mounts=[mount('captain', 'caprover/caprover:latest', '1.13.0')])
    assert [f['id'] for f in client_findings(facts, {'engine': '29.0.0'})] == ['client_api_too_old']
    steps = [s for s in upgrade_plan(facts, {'engine': '29.0.0'}) if s['action'] == 'upgrade_client']
    assert steps and steps[0]['component'] == 'client:captain'


def test_a_learned_release_without_a_row_is_unknown_not_floating():
    facts = L.host(L.docker('28.5.2'), mounts=[mount('proxy', 'traefik:latest', '1.7.34')])
    assert [f['id'] for f in client_findings(facts, {})] == ['client_api_unknown']


def test_the_environment_tells_the_api_of_a_floating_tag():
    """DOCKER_API_VERSION in the container's environment is judged before any release."""
    facts = L.host(L.docker('20.10.24'), mounts=[mount('proxy', 'traefik:latest', api_version_env='1.23')])
    [found] = client_findings(facts, {'engine': '26.1.5'})
    assert found['id'] == 'client_api_too_old' and 'DOCKER_API_VERSION=1.23' in found['message']
    assert 'floats' not in found['message']
    facts = L.host(L.docker('28.5.2'), mounts=[mount('x', 'acme/thing:latest', api_version_env='1.44')])
    assert client_findings(facts, {'engine': '29.0.0'}) == []


def test_a_declared_image_on_a_floating_tag_is_judged_the_same():
    facts = L.host(L.docker('28.5.2'), declared=[{'name': 'proxy', 'image': 'traefik:latest'}])
    assert [f['id'] for f in client_findings(facts, {'engine': '29.0.0'})] == \
        ['client_floating_tag_some_releases_break']


# --- switches ----------------------------------------------------------------------------------------------

def test_switching_off_a_row_a_floating_blocker_relies_on_fails_clearly():
    facts = L.host(L.docker('28.5.2'), mounts=[mount('updater', 'containrrr/watchtower:latest')])
    knowledge = {'clients': [{'id': 'watchtower-containrrr-1.x', 'enabled': False}]}
    with pytest.raises(AnsibleFilterError) as info:
        compat_findings(facts, {'engine': '29.0.0'}, knowledge)
    message = str(info.value)
    assert message.startswith('compat_findings: ')
    assert 'watchtower-containrrr-1.x' in message and 'client_api_too_old' in message and 'findings=' in message
    # without a target as well: the row is what the judgement of the running engine rests on
    with pytest.raises(AnsibleFilterError, match='watchtower-containrrr-1.x'):
        compat_findings(facts, {}, knowledge)


def test_a_switched_off_row_the_tag_cannot_stand_for_is_no_error():
    facts = L.host(L.docker('28.5.2'), mounts=[mount('proxy', 'traefik:3')])
    knowledge = {'clients': [{'id': 'traefik-2-before-2.11.31', 'enabled': False}]}
    assert [f['id'] for f in client_findings(facts, {'engine': '29.0.0'}, knowledge)] == \
        ['client_floating_tag_some_releases_break']


def test_a_floating_blocker_is_switched_off_by_its_id():
    facts = L.host(L.docker('28.5.2'), mounts=[mount('updater', 'containrrr/watchtower:latest')])
    quiet = compat_findings(facts, {'engine': '29.0.0'}, findings={'client_api_too_old': {'enabled': False}})
    assert 'client_api_too_old' not in [f['id'] for f in quiet]


# --- the facts input -----------------------------------------------------------------------------------------

@pytest.mark.parametrize('learned,fragment', [
    ({'version': 'banana', 'source': 'label:x'}, "version_learned.version is not a version: 'banana'"),
    ({'version': '1.2.3'}, 'missing key clients.socket_mounts[0].version_learned.source'),
    ({'version': '1.2.3', 'source': ''}, 'version_learned must hold the release learned'),
    ({'version': None, 'source': 'label:x'}, 'version_learned must hold the release learned'),
    ('1.2.3', 'version_learned must be a dict'),
])
def test_bad_version_learned_is_an_error(learned, fragment):
    item = mount('x', 'acme/thing:latest')
    item['version_learned'] = learned
    with pytest.raises(AnsibleFilterError) as info:
        compat_findings(L.host(L.docker('28.5.2'), mounts=[item]), {})
    assert fragment in str(info.value)


def test_facts_without_version_learned_are_read():
    """Facts gathered by an older clients_facts carry no version_learned."""
    item = mount('proxy', 'traefik:latest')
    del item['version_learned']
    assert [f['id'] for f in client_findings(L.host(L.docker('28.5.2'), mounts=[item]), {'engine': '29.0.0'})] == \
        ['client_floating_tag_some_releases_break']


# --- the facts module: which labels tell a release -----------------------------------------------------------

@pytest.mark.parametrize('tag,labels,expected', [
    ('latest', {OCI: '1.12.0'}, {'version': '1.12.0', 'source': 'label:' + OCI}),
    (None, {OCI: 'v3.6.2'}, {'version': 'v3.6.2', 'source': 'label:' + OCI}),
    ('latest', {SCHEMA: '2.11.3'}, {'version': '2.11.3', 'source': 'label:' + SCHEMA}),
    ('latest', {OCI: '3.6.2', SCHEMA: '1.0.0'}, {'version': '3.6.2', 'source': 'label:' + OCI}),
    ('3', {OCI: '3.6.2'}, {'version': '3.6.2', 'source': 'label:' + OCI}),
    ('3.6-alpine', {OCI: '3.6.2'}, {'version': '3.6.2', 'source': 'label:' + OCI}),
    ('3', {OCI: '2.11.5'}, None),                  # the tag cannot stand for it
    ('3.6.2', {OCI: '3.6.2'}, None),               # the tag names the release itself
    ('latest', {OCI: '22.04'}, None),              # two parts: a base image's line (ubuntu), not a release
    ('latest', {OCI: 'latest'}, None),
    ('latest', {'version': '8.9.1'}, None),        # Red Hat's base images: their own release
    ('latest', {'io.buildah.version': '1.33.7'}, None),
    ('latest', {}, None),
])
def test_learned_version_from_labels(tag, labels, expected):
    assert learned_version(tag, labels) == expected


@pytest.mark.parametrize('tag,names', [('1.12.0', True), ('v3.6.2-alpine', True), ('3.6', False), ('3', False),
                                       ('latest', False), (None, False), ('2024-05-01', False)])
def test_which_tags_name_a_release(tag, names):
    assert P.names_release(tag) is names
