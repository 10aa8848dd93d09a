"""Every changelog fragment is YAML that antsibull-changelog (and ansible-lint) can load: a dict of section -> list of
strings. A fragment that does not parse fails ansible-lint in `make test`, far from the change that broke it."""

from __future__ import annotations

import glob
import os

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FRAGMENTS = sorted(glob.glob(os.path.join(ROOT, 'changelogs', 'fragments', '*.yml')))
SECTIONS = {'major_changes', 'minor_changes', 'breaking_changes', 'deprecated_features', 'removed_features',
            'security_fixes', 'bugfixes', 'known_issues', 'trivial'}


@pytest.mark.parametrize('path', FRAGMENTS, ids=[os.path.basename(p) for p in FRAGMENTS])
def test_fragment_loads_as_sections_of_strings(path):
    with open(path, encoding='utf-8') as fh:
        data = yaml.safe_load(fh)
    assert isinstance(data, dict) and data, path
    assert set(data) <= SECTIONS, (path, sorted(set(data) - SECTIONS))
    for section, entries in data.items():
        assert isinstance(entries, list) and entries, (path, section)
        assert all(isinstance(entry, str) and entry.strip() for entry in entries), (path, section)
