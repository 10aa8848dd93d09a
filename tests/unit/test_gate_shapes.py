"""A gate never turns a malformed target or facts shape into "nothing blocks" (docs/findings.md "What the filters
accept").

The host below has a blocker only the target reveals: an ECS agent that speaks API 1.21, which Engine 26.1.5 refuses
(client_api_too_old), while the running 20.10.24 accepts it. So a target that is silently dropped, or a facts shape
whose clients section is silently skipped, shows up as a missing blocker. Every shape hypothesis builds must either
fail as one input error naming the filter, or give exactly the findings and plan of the canonical input.
"""

from __future__ import annotations

import copy

import lab_facts as L
import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetsafe.container_engine.plugins.filter.compat_findings import compat_findings
from ansible_collections.fleetsafe.container_engine.plugins.filter.upgrade_plan import upgrade_plan
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._versions import InputError
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2 import StrictUndefined as Undefined

FACTS = L.host(L.docker('20.10.24'), L.containerd('1.6.20'),
               declared=[{'name': 'ecs-agent', 'api_version': '1.21'}])['container_engine']
TARGET = {'engine': '26.1.5'}
FILTERS = {'compat_findings': compat_findings, 'upgrade_plan': upgrade_plan}
EXPECTED = {name: func(FACTS, TARGET) for name, func in FILTERS.items()}


def test_the_canonical_input_has_the_blocker_the_property_relies_on():
    assert 'client_api_too_old' in [f['id'] for f in EXPECTED['compat_findings'] if f['severity'] == 'blocker']
    assert EXPECTED['upgrade_plan'], 'the plan of a real upgrade is never empty'
    assert compat_findings(FACTS, {}) != EXPECTED['compat_findings']   # the target is what reveals the blocker


def unset(name='upgrade_target'):
    return Undefined(name=name)


# --- targets -----------------------------------------------------------------------------------
BAD_TARGETS = {
    'null': None,
    'empty string': '',
    'unset variable': unset(),
    'null engine': {'engine': None},
    'empty engine': {'engine': ''},
    'unset engine': {'engine': unset('engine_version')},
    'typo key': {'engnie': '26.1.5'},
    'capitalised key': {'Engine': '26.1.5'},
    'list': ['26.1.5'],
    'bare version': '26.1.5',
    'number': 26.1,
    'garbage version': {'engine': '26.1.5garbage'},
    'unset clients': {'engine': '26.1.5', 'clients': unset('clients')},
}


@pytest.mark.parametrize('name', sorted(FILTERS))
@pytest.mark.parametrize('label', sorted(BAD_TARGETS))
def test_a_malformed_target_is_an_error_naming_the_filter(name, label):
    with pytest.raises(AnsibleFilterError) as info:
        FILTERS[name](FACTS, BAD_TARGETS[label])
    message = str(info.value)
    assert message.startswith(name + ': '), message
    assert isinstance(info.value.__cause__, InputError), repr(info.value.__cause__)
    assert 'null None' not in message and 'NoneType' not in message and 'Undefined' not in message, message


def test_a_left_out_target_judges_the_host_as_it_is_and_null_does_not():
    assert compat_findings(FACTS) == compat_findings(FACTS, {})
    assert upgrade_plan(FACTS) == upgrade_plan(FACTS, {})
    with pytest.raises(AnsibleFilterError, match=r'^compat_findings: target is null: give the versions'):
        compat_findings(FACTS, None)
    with pytest.raises(AnsibleFilterError, match=r'^upgrade_plan: target is an undefined value \(upgrade_target '
                                                 r'is not set\)'):
        upgrade_plan(FACTS, unset())


# --- facts shapes ------------------------------------------------------------------------------
def wrapped(facts):
    return {'container_engine': facts}


def wrapped_with_other_facts(facts):
    return {'container_engine': facts, 'os_family': 'Debian', 'distribution': 'Debian'}


def with_key(key, value):
    def add(facts):
        return dict(facts, **{key: value})
    add.__name__ = f'with {key!r}'
    return add


def section_unset(name):
    def change(facts):
        return dict(facts, **{name: unset(name)})
    change.__name__ = f'{name} unset'
    return change


def section_renamed(name, typo):
    def change(facts):
        facts = dict(facts)
        if name in facts:
            facts[typo] = facts.pop(name)
        return facts
    change.__name__ = f'{name} misspelt {typo}'
    return change


KEEP = [wrapped, wrapped_with_other_facts]                     # shapes that mean the same facts
BREAK = [with_key('dockr', {}), with_key('Docker', FACTS['docker']), with_key('clients ', {}),
         with_key('ansible_facts', {}), section_unset('clients'), section_unset('docker'),
         section_renamed('clients', 'client'), section_renamed('docker', 'dockr'),
         section_renamed('clients', 'Clients')]                 # shapes that must be an error
WHOLE = {'null': None, 'unset': unset('ansible_facts'), 'empty string': '', 'list': [FACTS],
         'empty dict': {}, 'wrapped null': {'container_engine': None},
         'wrapped unset': {'container_engine': unset('container_engine')}, 'wrapped empty': {'container_engine': {}},
         'all sections null': {'docker': None, 'containerd': None, 'rootless': None, 'clients': None}}


@settings(max_examples=150, deadline=None)
@given(keep=st.lists(st.sampled_from(KEEP), max_size=2),
       breaks=st.lists(st.sampled_from(BREAK), max_size=2, unique=True),
       name=st.sampled_from(sorted(FILTERS)))
def test_facts_shapes_either_fail_or_judge_like_the_canonical_facts(keep, breaks, name):
    """Broken container_engine dicts, wrapped in ansible_facts or not: never a silent result.  (Beside
    container_engine, ansible_facts holds every other fact: keys there are not sections.)"""
    facts = copy.deepcopy(FACTS)
    for step in breaks + keep[:1]:
        facts = step(facts)
    try:
        result = FILTERS[name](facts, TARGET)
    except AnsibleFilterError as exc:
        assert str(exc).startswith(name + ': ') and isinstance(exc.__cause__, InputError), exc
        assert breaks, f'a shape that means the same facts was refused: {exc}'
        return
    assert not breaks, f'a broken shape ({[b.__name__ for b in breaks]}) passed with {result!r}'
    assert result == EXPECTED[name]


@pytest.mark.parametrize('name', sorted(FILTERS))
@pytest.mark.parametrize('label', sorted(WHOLE))
def test_facts_that_are_not_facts_are_an_error(name, label):
    with pytest.raises(AnsibleFilterError) as info:
        FILTERS[name](WHOLE[label], TARGET)
    message = str(info.value)
    assert message.startswith(name + ': ') and isinstance(info.value.__cause__, InputError), message
    assert 'null None' not in message and 'NoneType' not in message and 'Undefined' not in message, message


def test_a_misspelt_section_in_wrapped_facts_is_named():
    with pytest.raises(AnsibleFilterError) as info:
        compat_findings(wrapped(dict(FACTS, dockr={})), TARGET)
    assert "facts.container_engine has key(s) 'dockr' that are not sections" in str(info.value)


def test_the_property_check_fails_when_a_broken_shape_passes(monkeypatch):
    """The property can fail: make the filters skip unknown keys again and it must catch it."""
    from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils import _facts
    monkeypatch.setattr(_facts, 'SECTIONS', _facts.SECTIONS + ('dockr',))
    with pytest.raises(AssertionError, match='a broken shape'):
        test_facts_shapes_either_fail_or_judge_like_the_canonical_facts.hypothesis.inner_test(
            keep=[wrapped], breaks=[with_key('dockr', {})], name='compat_findings')


@pytest.mark.parametrize('label,args,fragment', [
    ('knowledge string', (FACTS, TARGET, 'abc'), "knowledge must be a dict of sections (engines, containerd, "),
    ('knowledge null section', (FACTS, TARGET, {'clients': None}), "knowledge section 'clients' must be a list of "
                                                                   "rows, got null"),
    ('findings list', (FACTS, TARGET, {}, ['client_api_too_old']), "got list ['client_api_too_old']"),
])
def test_other_arguments_show_the_value(label, args, fragment):
    with pytest.raises(AnsibleFilterError) as info:
        compat_findings(*args)
    assert fragment in str(info.value), (label, str(info.value))
    assert 'null None' not in str(info.value)
    if label == 'knowledge string':
        assert "got string 'abc'" in str(info.value)


@pytest.mark.parametrize('section,target', [('docker', {'engine': '26.1.5'}), ('containerd', {'containerd': '2.1.9'})])
def test_a_plan_for_a_part_whose_facts_were_not_gathered_is_an_error(section, target):
    """Without the section the plan would be [] ("nothing to do") for want of facts."""
    facts = {key: value for key, value in FACTS.items() if key != section}
    with pytest.raises(AnsibleFilterError, match=rf'^upgrade_plan: target\.\w+ is .*, but the {section} facts were not '
                                                 r'gathered'):
        upgrade_plan(facts, target)
    assert upgrade_plan(FACTS, target), 'with the section gathered the plan has steps'
