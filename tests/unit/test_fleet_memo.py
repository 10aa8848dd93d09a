"""Judging a fleet's identical hosts once changes nothing: compat_findings' memo and the HTML report's findings tables
give what judging and rendering every host afresh gives, on the fleet benchmarks/bench_findings.py times (its own
generator, seed and target), and never remember bad input or hand two callers the same findings."""
from __future__ import annotations

import copy
import importlib.util
import random
from pathlib import Path

import pytest
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils import _compat_findings, _report
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._versions import InputError

ROOT = Path(__file__).resolve().parents[2]
HOSTS = 600


def _bench():
    spec = importlib.util.spec_from_file_location('bench_findings', ROOT / 'benchmarks' / 'bench_findings.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCH = _bench()


class NoMemo(dict):
    """A memo that never remembers: every lookup misses."""

    def get(self, key, default=None):
        return default


@pytest.fixture()
def fleet():
    rng = random.Random(42)  # noqa: S311 - the benchmark's own seed
    return [BENCH.make_host(rng) for dummy in range(HOSTS)]


@pytest.fixture(autouse=True)
def fresh_memos(monkeypatch):
    monkeypatch.setattr(_compat_findings, '_MEMO', {})
    monkeypatch.setattr(_report, '_FINDINGS_HTML', {})


def _records(fleet, findings, plans):
    return [{'host': f'host-{i:05d}', 'facts': f, 'findings': x, 'plan': p}
            for i, (f, x, p) in enumerate(zip(fleet, findings, plans, strict=True))]


def test_memoised_findings_equal_judging_every_host(fleet):
    fresh = [_compat_findings._judged(f, BENCH.TARGET, None, None, None, None) for f in fleet]
    memoised = [_compat_findings.compat_findings(f, BENCH.TARGET) for f in fleet]
    assert memoised == fresh
    assert sum(len(found) for found in fresh) > HOSTS    # the fleet has findings to get wrong
    assert len(_compat_findings._MEMO) < HOSTS * 0.6     # identical hosts were judged once
    # with a plan (the steps upgrade_plan makes), which leaves out what the steps resolve
    pairs = [(f, BENCH.upgrade_plan(f, BENCH.TARGET)) for f in fleet[:100]]
    assert [_compat_findings.compat_findings(f, BENCH.TARGET, plan=p) for f, p in pairs] == \
        [_compat_findings._judged(f, BENCH.TARGET, None, None, None, p) for f, p in pairs]


def test_the_fleet_report_equals_one_rendered_without_memos(fleet, monkeypatch):
    plans = [BENCH.upgrade_plan(f, BENCH.TARGET) for f in fleet]
    findings = [_compat_findings.compat_findings(f, BENCH.TARGET) for f in fleet]
    generated = '2026-12-05T00:00:00Z'
    build = _report.build_report
    monkeypatch.setattr(_report, 'build_report', lambda recs, settings: build(recs, settings, generated))
    memoised = BENCH.fleet_report(_records(fleet, findings, plans))
    assert memoised.count('<h4>Findings</h4>') > HOSTS / 2
    monkeypatch.setattr(_compat_findings, '_MEMO', NoMemo())
    monkeypatch.setattr(_report, '_FINDINGS_HTML', NoMemo())
    fresh = [_compat_findings.compat_findings(f, BENCH.TARGET) for f in fleet]
    assert fresh == findings
    assert BENCH.fleet_report(_records(fleet, fresh, plans)) == memoised


def test_each_caller_gets_its_own_findings(fleet):
    facts = next(f for f in fleet if _compat_findings.compat_findings(f, BENCH.TARGET))
    first = _compat_findings.compat_findings(facts, BENCH.TARGET)
    expected = copy.deepcopy(first)
    first[0]['severity'] = 'info'
    first.append({'id': 'made_up'})
    assert _compat_findings.compat_findings(facts, BENCH.TARGET) == expected


def test_bad_input_is_judged_even_after_its_good_twin(fleet):
    facts = fleet[0]
    assert _compat_findings.compat_findings(facts, BENCH.TARGET) is not None
    bad = copy.deepcopy(facts)
    bad['container_engine']['containerd']['shims'] = tuple(bad['container_engine']['containerd']['shims'])
    with pytest.raises(InputError, match='containerd.shims must be a list'):
        _compat_findings.compat_findings(bad, BENCH.TARGET)
    bad = copy.deepcopy(facts)
    bad['container_engine']['docker']['live_restore'] = int(bad['container_engine']['docker']['live_restore'])
    with pytest.raises(InputError, match='live_restore must be true, false or null'):
        _compat_findings.compat_findings(bad, BENCH.TARGET)
    with pytest.raises(InputError):
        _compat_findings.compat_findings(facts, None)
    assert not any(key is None for key in _compat_findings._MEMO)
