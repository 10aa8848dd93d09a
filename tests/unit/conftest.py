# Unit tests import the collection as ansible_collections.fleetsafe.container_engine: make sure the
# build/collections tree (a symlink to the checkout) exists and is importable.
from __future__ import annotations

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(ROOT, 'build', 'collections')
LINK = os.path.join(COLLECTIONS, 'ansible_collections', 'fleetsafe', 'container_engine')

if not os.path.exists(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    os.symlink(ROOT, LINK)
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)


@pytest.fixture(autouse=True)
def _fresh_findings_memo():
    """compat_findings remembers what it judged (a fleet's identical hosts are judged once): a test that changes the
    findings registry or the knowledge base in place must not get what another test's judging left behind."""
    from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils import _compat_findings
    _compat_findings._MEMO.clear()
    yield
    _compat_findings._MEMO.clear()
