"""Bad input fails as one deliberate input error naming the filter and the value; a bug never passes as one.

Every filter call below either returns, or raises AnsibleFilterError caused by an InputError (the
collection's "this input is wrong" exception). Anything else — a KeyError, TypeError or the
FilterInternalError a bug becomes — is not caught here, so the test fails and hypothesis prints the
input that found the bug.
"""

from __future__ import annotations

import re

import lab_facts as L
import pytest
from ansible._internal._datatag._tags import Origin
from ansible.errors import AnsibleFilterError
from ansible.module_utils._internal._datatag import AnsibleTagHelper
from ansible_collections.fleetsafe.container_engine.plugins.filter import (
    compat_findings,
    engine_api_range,
    nearest_tag,
    upgrade_plan,
    version_compare,
)
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils import _filters
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._versions import InputError
from hypothesis import given, settings
from hypothesis import strategies as st

FILTERS = {}
for module in (compat_findings, engine_api_range, nearest_tag, upgrade_plan, version_compare):
    FILTERS.update(module.FilterModule().filters())

ORIGIN = [Origin(path='/inventory/group_vars/all.yml', line_num=3)]
# Ansible's own type names must never reach a user: values are shown as written.
LEAKS = re.compile(r'_AnsibleTagged|AnsibleTagged|NoneType|<class |object at 0x')


def tagged(value):
    """The value as Ansible 2.19 hands it to a filter from inventory (tagged with its origin)."""
    return AnsibleTagHelper.tag(value, ORIGIN)


leaf = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20)
        | st.sampled_from(['20.10.24+dfsg1', '1.41', '2.1.9+unknown', 'v1.32', 'latest', '', '1.7.24~ds1',
                           '26.1.5garbage', '28.0', 'x' * 200]))
junk = st.recursive(
    leaf | leaf.filter(lambda v: isinstance(v, (str, int, float)) and not isinstance(v, bool)).map(tagged),
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


def deliberate(name, *args, **kwargs):
    """Call a filter; a failure must be a deliberate input error that names the filter. Returns the result."""
    try:
        return FILTERS[name](*args, **kwargs)
    except AnsibleFilterError as exc:
        message = str(exc)
        assert isinstance(exc.__cause__, InputError), f'not a deliberate input error: {exc.__cause__!r}'
        assert message.startswith(name + ': '), message
        assert not LEAKS.search(message), message
        return exc


@settings(max_examples=300, deadline=None)
@given(junk, junk, junk, junk)
def test_random_junk_everywhere(facts, target, knowledge, findings):
    for name in ('compat_findings', 'upgrade_plan'):
        deliberate(name, facts, target, knowledge)
        deliberate(name, facts, target)
    deliberate('compat_findings', facts, target, knowledge, findings)
    deliberate('engine_api_range', facts, knowledge)
    deliberate('version_compare', facts, target)
    deliberate('version_compare', facts, target, knowledge)
    deliberate('nearest_tag', facts, target, knowledge)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(PATHS), junk)
def test_one_bad_leaf_in_valid_facts(path, value):
    facts = _mutate(full_facts(), path, value)
    for name in ('compat_findings', 'upgrade_plan'):
        deliberate(name, facts, {'engine': '26.1.5', 'containerd': '2.1.9'})


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(['engine', 'containerd', 'clients', 'images', 'engine_version']), junk,
                       max_size=3))
def test_junk_targets(target):
    for name in ('compat_findings', 'upgrade_plan'):
        deliberate(name, full_facts(), target)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(['engine_stale', 'known_bad_release', 'nope']),
                       st.dictionaries(st.sampled_from(['enabled', 'severity', 'x']), junk, max_size=2) | junk,
                       max_size=2))
def test_junk_finding_switches(findings):
    deliberate('compat_findings', full_facts(), {'engine': '26.1.5'}, None, findings)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(['known_bad', 'engines', 'containerd', 'upgrade_rules', 'clients']),
                       st.lists(st.dictionaries(st.sampled_from(['id', 'line', 'enabled', 'versions', 'severity',
                                                                 'api_max', 'disabled', 'source']),
                                                junk | st.sampled_from(['1.7', '26.1', 'engine-28.0.0-rootless-'
                                                                        'slirp4netns-port-driver']),
                                                max_size=4), max_size=2),
                       max_size=2))
def test_junk_knowledge_rows(knowledge):
    for name in ('compat_findings', 'upgrade_plan'):
        deliberate(name, full_facts(), {'engine': '28.0.0', 'containerd': '2.1.9'}, knowledge)


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
    ('nearest_tag', ('v1.32',), 'wrong arguments'),
    ('compat_findings', (tagged({'docker': L.docker('20.10.24')}), tagged({'engine': tagged('26.1.5x')})),
     "target.engine is not a version: '26.1.5x'"),
    ('compat_findings', (L.host(L.docker('20.10.24')), {'engine': tagged(26)}),
     'target.engine must be a version string, got integer 26'),
])
def test_error_messages_name_the_bad_value(name, args, fragment):
    with pytest.raises(AnsibleFilterError) as info:
        FILTERS[name](*args)
    assert str(info.value).startswith(name + ': ')
    assert fragment in str(info.value)
    assert isinstance(info.value.__cause__, InputError)
    assert not LEAKS.search(str(info.value))


def test_a_bug_is_reported_as_an_internal_error_not_as_bad_input():
    """A KeyError from the code (a bug) is not turned into "bad input": it says it is a bug and chains the cause."""
    def buggy(facts):
        return {}['docker']

    wrapped = _filters.named_filter('compat_findings', buggy)
    with pytest.raises(_filters.FilterInternalError) as info:
        wrapped({})
    assert not isinstance(info.value, AnsibleFilterError)
    assert str(info.value).startswith('compat_findings: internal error (')
    assert str(info.value).endswith("KeyError: 'docker'")
    assert 'bug in the fleetsafe.container_engine collection' in str(info.value)
    assert isinstance(info.value.__cause__, KeyError)


def test_the_property_check_fails_when_a_bug_escapes(monkeypatch):
    """deliberate() lets a bug through: proof that the property tests above can fail."""
    from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._findings import _engine

    def broken(ctx, entry):
        yield ctx.host.docker['no_such_key']      # the kind of bug a refactoring leaves behind

    entry = _engine.engine_stale.__name__
    from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._compat_findings import REGISTRY
    monkeypatch.setattr(REGISTRY[entry], 'check', broken)
    with pytest.raises(_filters.FilterInternalError):
        deliberate('compat_findings', full_facts(), {})
