"""How long judging a fleet takes on one core: 10,000 hosts' facts through compat_findings, and the report made
from them (goal: findings and report <= 2 s of CPU together).

Run from the collection root:
    .venv/bin/python benchmarks/bench_findings.py [--hosts N] [--plan] [--report MODULE:CALLABLE]
Not a test: it prints the figures. The facts vary the way a real fleet does (three engine sets,
containerd mid-upgrade on some hosts, rootless daemons, socket-mounting clients, leftover overrides).

The report: by default (--report fleet) the collection's own fleet report as the fleet_report callback makes it
after a check run: the report model, then its JSON, HTML and terminal text, each part's CPU time printed.
--report json writes the records as JSON instead (the least any report does with them); --report MODULE:CALLABLE
times another renderer, called once with the fleet as a list of per-host records ``{"host", "facts", "findings",
"plan"}`` (``plan``: upgrade_plan's steps with --plan, else None), returning the report (str or bytes).
Measure on one core: ``taskset -c 0 .venv/bin/python benchmarks/bench_findings.py --plan``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import random
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'build', 'collections'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'unit'))

import lab_facts as L  # noqa: E402
from ansible_collections.fleetsafe.container_engine.plugins.filter.compat_findings import (  # noqa: E402
    compat_findings,
)
from ansible_collections.fleetsafe.container_engine.plugins.filter.upgrade_plan import upgrade_plan  # noqa: E402

CLIENT_IMAGES = [
    ('captain', 'caprover/caprover:1.11.1'), ('captain', 'caprover/caprover:1.12.0'),
    ('traefik', 'traefik:v3.6.0'), ('traefik', 'traefik:v3.6.2'), ('portainer', 'portainer/portainer-ce:2.33.4'),
    ('mystery', 'acme/thing:latest'),
]
SETS = [('20.10.24', '1.6.20'), ('26.1.5', '1.7.24'), ('28.5.2', '2.1.9')]


def make_host(rng):
    engine, containerd = rng.choice(SETS)
    docker = L.docker(engine, live_restore=rng.random() < 0.3)
    if rng.random() < 0.1:
        docker['min_api_overrides'] = [{'source': 'systemd_dropin', 'value': '1.17', 'where': '/etc/x.conf'}]
    if containerd == '1.7.24' and rng.random() < 0.2:
        c = L.containerd('1.7.24', '2.1.9')
    else:
        c = L.containerd(containerd)
    daemons = [L.rootless_daemon(engine=engine, port_driver=rng.choice(['builtin', 'slirp4netns']))] \
        if rng.random() < 0.2 else []
    mounts = [L.socket_mount(*rng.choice(CLIENT_IMAGES)) for dummy in range(rng.randint(0, 2))]
    declared = [{'name': 'ecs-agent', 'image': 'amazon/amazon-ecs-agent:1.80.0'}] if rng.random() < 0.2 else []
    return L.host(docker, c, daemons, mounts=mounts, declared=declared)


def json_report(records):
    """The stand-in renderer: the records as JSON."""
    return json.dumps(records, sort_keys=True)


TARGET = {'engine': '28.5.2', 'containerd': '2.1.9'}
PARTS = {}  # the fleet report's parts -> CPU seconds, printed by main()


def fleet_report(records):
    """The collection's own report, the way the fleet_report callback makes it after a check run: the report model
    (build_report over the callback's per-host records, the target judged for "which hosts would break") and its
    three renderings (JSON, HTML, terminal text)."""
    from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils import _report
    label = _report._label(TARGET)
    recs = {}
    for r in records:
        blockers = [f for f in r['findings'] if f['severity'] == 'blocker']
        steps = [s for s in r['plan'] or [] if s.get('action') != 'verify']
        status = 'blocked' if blockers else 'planned' if steps else 'unchanged'
        recs[r['host']] = {'errors': [], 'facts_before': r['facts']['container_engine'], 'findings': r['findings'],
                           'would_break': {label: blockers},
                           'preflight': {'status': status, 'target': TARGET, 'plan': r['plan'] or [],
                                         'blockers': blockers}}
    settings = {'kind': 'check', 'target': TARGET, 'targets': [{'label': label, 'target': TARGET}],
                'hosts_pattern': 'docker_hosts', 'hosts': [r['host'] for r in records], 'rollout': {},
                'files': {form: '/tmp/check.' + form for form in ('txt', 'json', 'html')}}
    out = []
    for part, call in (('model', lambda: _report.build_report(recs, settings)), ('json', _report.render_json),
                       ('html', _report.render_html), ('text', _report.render_text)):
        start = time.process_time()
        if part == 'model':
            report = call()
        else:
            out.append(call(report))
        PARTS[part] = time.process_time() - start
    return ''.join(out)


def load_renderer(spec):
    """MODULE:CALLABLE -> the callable; one clear error when it cannot be had."""
    module_name, sep, name = (spec or '').partition(':')
    if not sep or not module_name or not name:
        raise SystemExit(f'--report must be MODULE:CALLABLE, not {spec!r}')
    try:
        return getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as exc:
        raise SystemExit(f'--report {spec}: {exc}') from None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--hosts', type=int, default=10000)
    parser.add_argument('--plan', action='store_true', help='also time upgrade_plan')
    parser.add_argument('--report', metavar='MODULE:CALLABLE', default='fleet',
                        help='the report renderer to time (see above): fleet (default) or json are built in')
    args = parser.parse_args()
    render = {'fleet': fleet_report, 'json': json_report}.get(args.report) or load_renderer(args.report)
    rng = random.Random(42)  # noqa: S311 - a reproducible fleet, not cryptography
    fleet = [make_host(rng) for dummy in range(args.hosts)]
    target = TARGET
    compat_findings(fleet[0], target)          # load and index the knowledge base once, as Ansible would
    start = time.process_time()
    findings = [compat_findings(facts, target) for facts in fleet]
    judged = time.process_time() - start
    total = sum(len(found) for found in findings)
    print(f'compat_findings: {args.hosts} hosts in {judged:.3f} s CPU '
          f'({judged / args.hosts * 1e6:.1f} us/host), {total} findings')
    plans = [None] * len(fleet)
    if args.plan:
        start = time.process_time()
        plans = [upgrade_plan(facts, target) for facts in fleet]
        elapsed = time.process_time() - start
        print(f'upgrade_plan:    {args.hosts} hosts in {elapsed:.3f} s CPU '
              f'({elapsed / args.hosts * 1e6:.1f} us/host), {sum(len(plan) for plan in plans)} steps')
    records = [{'host': f'host-{index:05d}', 'facts': facts, 'findings': found, 'plan': plan}
               for index, (facts, found, plan) in enumerate(zip(fleet, findings, plans, strict=True))]
    start = time.process_time()
    report = render(records)
    rendered = time.process_time() - start
    names = {'fleet': 'the fleet report: model, JSON, HTML, text', 'json': 'the records as JSON'}
    name = names.get(args.report, args.report)
    print(f'report:          {args.hosts} hosts in {rendered:.3f} s CPU, {len(report):,} characters ({name})')
    if PARTS:
        print('                 ' + ', '.join(f'{part} {seconds:.3f} s' for part, seconds in PARTS.items()))
    print(f'findings + report: {judged + rendered:.3f} s CPU for {args.hosts} hosts on one core (goal <= 2 s)')


if __name__ == '__main__':
    main()
