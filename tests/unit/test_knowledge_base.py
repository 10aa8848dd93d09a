"""The knowledge base files: every row sourced, sorted, unique, well-formed; user knowledge merges."""

from __future__ import annotations

import os
import re

import pytest
import yaml
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils import _kb
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._versions import (
    InputError,
    parse_api,
    parse_version,
)

SOURCE_RE = re.compile(
    r'[\w.-]+/[\w.-]+(@v?[\w.+-]+|#\d+| [\w./]+)'   # owner/repo@tag, owner/repo#123, owner/repo path
    r'|https://'                                    # a release note or documentation page
    r'|\blab\b'                                     # reproduced on the project's lab
)


def raw_sections():
    sections = {}
    for name in sorted(os.listdir(_kb.KB_DIR)):
        if name.endswith('.yml'):
            with open(os.path.join(_kb.KB_DIR, name), encoding='utf-8') as handle:
                sections.update(yaml.safe_load(handle))
    return sections


ALL_ROWS = [(section, row) for section, rows in raw_sections().items() for row in rows]


def test_every_section_present():
    assert set(raw_sections()) == set(_kb.SCHEMA)


def test_builtin_validates():
    _kb.validate_sections(_kb.load_files())


def _row_id(value):
    return value if isinstance(value, str) else value.get('line') or value.get('id') or value.get('driver')


@pytest.mark.parametrize('section,row', ALL_ROWS, ids=_row_id)
def test_every_row_has_a_source_naming_upstream_or_lab(section, row):
    assert isinstance(row.get('source'), str) and row['source'].strip(), (section, row)
    assert SOURCE_RE.search(row['source']), 'source names no repository, URL or lab: {!r}'.format(row['source'])


def test_versions_are_strings_not_floats():
    """YAML reads 20.10 as 20.1: every version-like field must be quoted."""
    for section, row in ALL_ROWS:
        for field, value in row.items():
            assert not isinstance(value, float), (section, row.get('line') or row.get('id'), field, value)


def test_engine_lines_sorted_and_unique():
    rows = raw_sections()['engines']
    keys = [parse_version(row['line']).release for row in rows]
    lines = [k[:2] for k in keys]
    assert lines == sorted(lines)
    assert len(set(keys)) == len(keys)


def test_engine_api_max_never_decreases():
    rows = [row for row in raw_sections()['engines'] if len(parse_version(row['line']).release) == 2]
    maxima = [parse_api(row['api_max']) for row in rows]
    assert maxima == sorted(maxima)


def test_engine_minimum_inside_range():
    for row in raw_sections()['engines']:
        assert parse_api(row['api_min_default']) <= parse_api(row['api_max'])
        if row['min_api_env_floor'] is not None:
            assert parse_api(row['min_api_env_floor']) <= parse_api(row['api_min_default'])


def test_containerd_lines_sorted_unique_and_paths_point_back():
    rows = raw_sections()['containerd']
    lines = [parse_version(row['line']).line for row in rows]
    assert lines == sorted(lines) and len(set(lines)) == len(lines)
    for row in rows:
        for previous in row['upgrades_from']:
            assert parse_version(previous).line < parse_version(row['line']).line
        assert row['shim_protocol_produced'] in row['shim_protocol_accepted'], row['line']


@pytest.mark.parametrize('section', ['known_bad', 'clients', 'upgrade_rules', 'daemon_options'])
def test_ids_unique_within_section(section):
    ids = [row['id'] for row in raw_sections()[section]]
    assert len(set(ids)) == len(ids)


def test_client_ranges_do_not_overlap():
    """Two rows of the same image matching one version would make the answer depend on row order."""
    kb = _kb.builtin()
    probes = [f'{a}.{b}.{c}' for a in range(0, 4) for b in range(0, 90) for c in (0, 1, 4, 5, 30, 31)]
    for image, rows in kb.clients_by_image.items():
        for probe in probes:
            version = parse_version(probe)
            matching = [row['id'] for row in rows if row['_spec'].contains(version)]
            assert len(matching) <= 1, (image, probe, matching)


def test_storage_driver_removal_after_deprecation():
    for row in raw_sections()['storage_drivers']:
        assert parse_version(row['deprecated_in']) < parse_version(row['removed_in'])


def test_daemon_option_lines_in_order_and_settings_unique():
    """deprecated <= ignored <= refused <= unknown; one row per (where, setting); a refusal says what dockerd prints."""
    rows = raw_sections()['daemon_options']
    places = [(row['where'], row['setting']) for row in rows]
    assert len(set(places)) == len(places)
    for row in rows:
        lines = [parse_version(row[f]).line for f in ('deprecated_in', 'ignored_in', 'refused_in', 'unknown_in')
                 if row.get(f)]
        assert lines == sorted(lines), row['id']
        gone_at_once = row.get('unknown_in') == row['refused_in'] and row['where'] in ('daemon_json', 'flag')
        if row['refused_in'] and not gone_at_once:
            assert row.get('message'), row['id']
        if row['where'] == 'flag':
            assert row['setting'].startswith('--'), row['id']


# --- user knowledge --------------------------------------------------------------------------

def test_user_row_updates_builtin_field():
    kb = _kb.get({'known_bad': [{'id': 'engine-29.0-rootless-slirp4netns-port-driver', 'versions': '>=29.0.0,<29.1.3',
                                 'fixed_in': '29.1.3', 'source': 'our own test, OPS-42'}]})
    row = next(r for r in kb.known_bad['engine'] if r['id'] == 'engine-29.0-rootless-slirp4netns-port-driver')
    assert row['fixed_in'] == '29.1.3'
    assert row['_spec'].contains(parse_version('29.1.2'))
    # the built-in base is untouched
    base = next(r for r in _kb.builtin().known_bad['engine'] if r['id'] == row['id'])
    assert base['fixed_in'] is None


def test_user_row_added_and_disabled():
    kb = _kb.get({
        'clients': [{'id': 'acme', 'name': 'acme', 'images': ['registry.acme.test/agent'], 'versions': '<2.0.0',
                     'api_version': '1.25', 'negotiates': False, 'source': 'ACME runbook'}],
        'known_bad': [{'id': 'engine-28.0.0-rootless-slirp4netns-port-driver', 'enabled': False}],
    })
    assert kb.client_row('registry.acme.test/agent', parse_version('1.5.0'))['api_version'] == '1.25'
    assert all(r['id'] != 'engine-28.0.0-rootless-slirp4netns-port-driver' for r in kb.known_bad['engine'])


@pytest.mark.parametrize('knowledge,fragment', [
    ({'clients': [{'id': 'x', 'name': 'x', 'images': ['x'], 'versions': '<1.0.0', 'api_version': '1.25',
                   'negotiates': False}]}, "missing field 'source'"),
    ({'engines': [{'line': '30.0', 'api_max': '1.60', 'api_min_default': '1.40', 'min_api_env_floor': '1.24',
                   'min_api_daemon_json': True, 'rejects_too_new': True, 'source': ''}]}, 'must not be empty'),
    ({'engines': [{'line': '20.10', 'api_max': 1.41}]}, "'api_max' must be str"),
    ({'known_bad': [{'id': 'engine-28.0.0-rootless-slirp4netns-port-driver', 'when': {'kernel': '5.10'}}]},
     "unknown condition 'kernel'"),
    ({'enginez': []}, "unknown section 'enginez'"),
    ({'daemon_options': [{'id': 'daemon-json-graph', 'where': 'systemd'}]}, "'where' must be one of daemon_json"),
    ({'daemon_options': [{'id': 'daemon-json-graph', 'refused_in': 'soon'}]}, "'refused_in'"),
    ({'engines': {}}, 'must be a list'),
    ([], 'must be a dict'),
    ({'known_bad': [{'id': 'engine-28.0.0-rootless-slirp4netns-port-driver', 'disabled': True}]},
     'use "enabled: false"'),
    ({'known_bad': [{'id': 'no-such-row', 'enabled': False}]}, 'names no built-in row'),
    ({'known_bad': [{'id': 'engine-28.0.0-rootless-slirp4netns-port-driver', 'enabled': 'no'}]},
     "'enabled' must be bool"),
])
def test_user_knowledge_errors_name_the_problem(knowledge, fragment):
    with pytest.raises(InputError) as info:
        _kb.get(knowledge)
    assert fragment in str(info.value)


def test_data_rows_switch_off_with_enabled_false_too():
    sections = _kb.sections_copy()
    sections['known_bad'][0]['enabled'] = False
    _kb.validate_sections(sections)
    kb = _kb.Knowledge(sections)
    assert all(r['id'] != sections['known_bad'][0]['id'] for rows in kb.known_bad.values() for r in rows)


def test_user_engine_line_extends_known_lines():
    kb = _kb.get({'engines': [{'line': '30.0', 'api_max': '1.60', 'api_min_default': '1.40',
                               'min_api_env_floor': '1.24', 'min_api_daemon_json': True, 'rejects_too_new': True,
                               'source': 'assumed for a test'}]})
    assert kb.engine_row(parse_version('30.0.1'))['api_max'] == '1.60'
    assert _kb.builtin().engine_row(parse_version('30.0.1')) is None
