"""Bad input of any kind fails with AnsibleFilterError naming the filter and the value, never a traceback."""

from __future__ import annotations

import lab_facts as L
import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetsafe.container_engine.plugins.filter import (
    compat_findings,
    engine_api_range,
    upgrade_plan,
    version_compare,
)
from hypothesis import given, settings
from hypothesis import strategies as st

FILTERS = {}
for module in (compat_findings, engine_api_range, upgrade_plan, version_compare):
    FILTERS.update(module.FilterModule().filters())

junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20)
    | st.sampled_from(['20.10.24+dfsg1', '1.41', '2.1.9+unknown', 'v1.32', 'latest', '', '1.7.24~ds1']),
    lambda children: (st.lists(children, max_size=4)
                      | st.dictionaries(st.text(max_size=8) | st.integers(), children, max_size=4)),
    max_leaves=12,
)


def _mutate(base, path, value):
    """Replace one leaf of a valid facts dict (path of keys/indexes) with ``value``."""
    node = base
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return base


def _paths(node, prefix=()):
    if isinstance(node, dict):
        for key, child in node.items():
            yield prefix + (key,)
            yield from _paths(child, prefix + (key,))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield prefix + (index,)
            yield from _paths(child, prefix + (index,))


def full_facts():
    return L.host(L.docker('20.10.24', min_api_overrides=[{'source': 'environment', 'value': '1.17', 'where': 'x'}]),
                  L.containerd('1.7.24', '2.1.9'), [L.rootless_daemon(port_driver='slirp4netns')],
                  mounts=[L.socket_mount('captain', 'caprover/caprover:1.12.0')],
                  declared=[{'name': 'ecs-agent', 'image': 'amazon/amazon-ecs-agent:1.80.0'}])


PATHS = list(_paths(full_facts()))


def _call(name, *args):
    try:
        FILTERS[name](*args)
    except AnsibleFilterError as exc:
        assert str(exc).startswith(name + ': '), str(exc)


@settings(max_examples=300, deadline=None)
@given(junk, junk, junk)
def test_random_junk_everywhere(facts, target, knowledge):
    for name in ('compat_findings', 'upgrade_plan'):
        _call(name, facts, target, knowledge)
        _call(name, facts, target)
    _call('engine_api_range', facts, knowledge)
    _call('version_compare', facts, target)
    _call('version_compare', facts, target, knowledge)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(PATHS), junk)
def test_one_bad_leaf_in_valid_facts(path, value):
    facts = _mutate(full_facts(), path, value)
    for name in ('compat_findings', 'upgrade_plan'):
        _call(name, facts, {'engine': '26.1.5', 'containerd': '2.1.9'})


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(['engine', 'containerd', 'clients', 'engine_version']), junk, max_size=3))
def test_junk_targets(target):
    for name in ('compat_findings', 'upgrade_plan'):
        _call(name, full_facts(), target)


@pytest.mark.parametrize('name,args,fragment', [
    ('compat_findings', (L.host(L.docker('20.10.24')), {'engine': '30.1.0'}),
     'Engine line 30.1 is not in the knowledge'),
    ('compat_findings', (L.host(L.docker('20.10.24')), {'engine': 'latest'}), "'latest'"),
    ('compat_findings', (L.host(L.docker('20.10.24', version='twenty')), {}),
     "docker.version is not a version: 'twenty'"),
    ('compat_findings', ({'container_engine': {'docker': {'version': '20.10.24'}}}, {}), 'missing key docker.'),
    ('compat_findings', (L.host(L.docker('20.10.24')), {'engin': '26.1.5'}), "unknown key 'engin'"),
    ('upgrade_plan', (L.host(containerd_section=L.containerd('1.7.24')), {'containerd': '3.9.0'}),
     'containerd line 3.9 is not in the knowledge base'),
    ('engine_api_range', ('16.04.0',), 'Engine line 16.4 is not in the knowledge base'),
    ('engine_api_range', (20.10,), 'got float 20.1'),
    ('version_compare', ('1.41', '1.4x', 'api'), "'1.4x'"),
    ('version_compare', ('1.0', '2.0', 'semver'), "'semver'"),
])
def test_error_messages_name_the_bad_value(name, args, fragment):
    with pytest.raises(AnsibleFilterError) as info:
        FILTERS[name](*args)
    assert str(info.value).startswith(name + ': ')
    assert fragment in str(info.value)
