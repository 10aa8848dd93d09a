# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Private: used by this collection's fleet_report callback and its tests; not a public API.
"""The fleet report: one data model, three renderings (terminal text, JSON, self-contained HTML).

build_report() turns what a run recorded per host (facts, findings, the upgrade role's upgrade_result,
unreachable or failed tasks, the rollout batch) into the report dict that docs/report.schema.json
describes. render_text() and render_html() only read that dict; the JSON form is the dict itself.
"""

from __future__ import annotations

import contextlib
import datetime
import gc
import html
import json

SCHEMA_ID = 'https://fleetsafe.invalid/container_engine/report.schema.json'
SCHEMA_VERSION = 1
KINDS = ('facts', 'check', 'upgrade')
# every state a host can end in, in the order the summary lists them
STATES = ('upgraded', 'rolled_back', 'rollback_failed', 'failed', 'blocked', 'unreachable', 'not_run',
          'ready', 'unchanged', 'gathered')
ATTENTION = ('rolled_back', 'rollback_failed', 'failed', 'blocked', 'unreachable', 'not_run')
SEVERITIES = ('blocker', 'warning', 'info')
# what the upgrade role's upgrade_result.status becomes in the report
ROLE_STATUS = {'upgraded': 'upgraded', 'rolled_back': 'rolled_back', 'rollback_failed': 'rollback_failed',
               'failed': 'failed', 'blocked': 'blocked', 'unchanged': 'unchanged', 'planned': 'ready',
               # an earlier run that never finished was rolled back, and this run stopped there
               'recovered': 'rolled_back'}


class ReportError(ValueError):
    """The report's input is not what the playbooks give (a bug or a hand-made call): named in the message."""


@contextlib.contextmanager
def _no_gc():
    """Pause Python's cycle collector while the report's trees of plain dicts are built: they hold no cycles, and
    with a large fleet's facts in memory each collection walks all of them (10,000 hosts: half the model's time)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _num(value):
    try:
        return round(float(value), 2)
    except (TypeError, ValueError):
        return None


def _text(value):
    return '' if value is None else str(value)


def _finding(f):
    return {'id': _text(f.get('id')), 'severity': f.get('severity') if f.get('severity') in SEVERITIES else 'blocker',
            'component': _text(f.get('component')), 'message': _text(f.get('message')),
            'remedy': _text(f.get('remedy')), 'source': _text(f.get('source'))}


def _client_versions(facts):
    """client name -> version it runs (or the API version it speaks), from the clients facts."""
    out = {}
    clients = (facts or {}).get('clients') or {}
    for m in clients.get('socket_mounts') or []:
        out['container ' + (m.get('image_name') or _text(m.get('name')))] = _text(m.get('image_tag')) or '?'
    for p in clients.get('host_processes') or []:
        out['program ' + _text(p.get('program') or p.get('name'))] = _text(p.get('version')) or '?'
    for d in clients.get('declared') or []:
        out['declared ' + _text(d.get('name'))] = _text(d.get('version') or d.get('api_version')) or '?'
    return out


def _short(version):
    """An engine or containerd version as upstream names it (Debian's +dfsg1, ~ds1 suffixes dropped)."""
    if version in (None, ''):
        return None
    return str(version).split('+', maxsplit=1)[0].split('~', maxsplit=1)[0]


def _versions(facts):
    if not facts:
        return None
    docker = facts.get('docker') or {}
    containerd = facts.get('containerd') or {}
    packages = docker.get('packages') or {}
    return {
        'engine': _short(docker.get('version')),
        'api_version': docker.get('api_version'),
        'min_api_version': docker.get('min_api_version'),
        'containerd': _short(containerd.get('running_version')),
        'cli': _short(packages.get('docker-cli') or packages.get('docker-ce-cli') or packages.get('docker.io')),
        'clients': _client_versions(facts),
    }


def _steps(result):
    out = []
    for s in (result or {}).get('steps') or []:
        r = s.get('result') or {}
        out.append({
            'order': s.get('order'), 'action': _text(s.get('action')), 'component': _text(s.get('component')),
            'to': s.get('to'), 'seconds': _num(s.get('seconds')),
            'packages': {str(k): _text(v) for k, v in (s.get('packages') or {}).items()},
            'api_down_seconds': _num(r.get('api_down_seconds')) if r.get('restarted', True) else None,
            'containers_down_seconds': {str(k): _num(v) for k, v in (r.get('containers_down_seconds') or {}).items()},
        })
    return out


def _plan(steps):
    return [{'order': s.get('order'), 'action': _text(s.get('action')), 'component': _text(s.get('component')),
             'from': s.get('from'), 'to': s.get('to'),
             'packages': {str(k): _text(v) for k, v in (s.get('packages') or {}).items()},
             'skip': bool(s.get('skip')), 'skip_reason': s.get('skip_reason')} for s in steps or []]


def _reason(state, host, rec, settings):
    """One line saying why the host is in its state: only what the run recorded."""
    res, pre = rec.get('result') or {}, rec.get('preflight') or {}
    if state == 'unreachable':
        return _text(rec.get('unreachable')).strip() or 'unreachable'
    if state in ('rolled_back', 'rollback_failed', 'failed') and res.get('failed_step'):
        f = res['failed_step']
        what = ' '.join(x for x in (_text(f.get('step')), _text(f.get('component'))) if x)
        tail = {'rolled_back': '; rolled back', 'rollback_failed': '; ROLLBACK FAILED'}.get(state, '')
        return 'failed at %s: %s%s' % (what, _text(f.get('message')).strip(), tail)
    if state == 'failed':
        err = (rec.get('errors') or [{}])[0]
        return 'failed in task "%s": %s' % (_text(err.get('task')), _text(err.get('message')).strip())
    if state == 'blocked':
        blockers = host['blockers'] or [f for f in host['findings'] if f['severity'] == 'blocker']
        ids = ', '.join(sorted({b['id'] for b in blockers}))
        tail = '; left untouched' if settings['kind'] == 'upgrade' else ''
        return '%d blocker(s): %s%s' % (len(blockers), ids, tail)
    if state == 'upgraded':
        b, a = res.get('before') or {}, res.get('after') or {}
        down = (res.get('downtime') or {}).get('api_seconds')
        return 'engine %s -> %s, containerd %s -> %s in %s s; Docker API down %s s' % (
            b.get('engine'), a.get('engine'), b.get('containerd'), a.get('containerd'),
            (res.get('seconds') or {}).get('total'), down)
    if state == 'not_run':
        rollout = settings.get('rollout') or {}
        if rollout and not rollout.get('started', True):
            return 'not changed: the rollout did not start'
        if pre.get('status') == 'planned':
            return 'not changed: the rollout stopped before this host\'s batch'
        return 'no task ran on this host'
    if state == 'ready':
        steps = [s for s in host['plan'] if s['action'] != 'verify' and not s['skip']]
        return '%d step(s) to the target, no blocker' % len(steps)
    if state == 'unchanged':
        return 'nothing to do: already at the target' if settings.get('target') else 'nothing to do'
    if state == 'gathered':
        counts = {s: sum(1 for f in host['findings'] if f['severity'] == s) for s in SEVERITIES}
        return 'facts gathered; %d blocker(s), %d warning(s) now' % (counts['blocker'], counts['warning'])
    return ''


def _state(kind, rec):
    if rec.get('unreachable'):
        return 'unreachable'
    res = rec.get('result')
    if res and res.get('status') in ROLE_STATUS:
        return ROLE_STATUS[res['status']]
    pre = rec.get('preflight')
    if rec.get('ended_failed'):
        if pre and pre.get('status') == 'blocked':
            return 'blocked'
        return 'failed'
    if kind == 'facts':
        return 'gathered' if rec.get('facts_before') else 'not_run'
    if not pre:
        return 'not_run'
    status = ROLE_STATUS.get(pre.get('status'), 'not_run')
    if kind == 'upgrade' and status == 'ready':
        return 'not_run'
    return status


def _planned_labels(settings):
    """The labels of the report's targets that are the run's own target (the one the hosts' plans are for)."""
    target = settings.get('target')
    if not target:
        return set()
    return {str(t.get('label') or _label(t.get('target'))) for t in settings.get('targets') or []
            if t.get('target') == target}


def _host(name, rec, settings):
    if not isinstance(rec, dict):
        raise ReportError('fleet report: the record of host %r is %s, not a dict' % (name, type(rec).__name__))
    kind = settings['kind']
    res = rec.get('result') or {}
    pre = rec.get('preflight') or {}
    before = _versions(rec.get('facts_before'))
    after = None
    if res.get('after'):
        after = dict(before or {}, engine=_short(res['after'].get('engine')),
                     containerd=_short(res['after'].get('containerd')))
        if rec.get('facts_after') and res.get('status') == 'upgraded':
            after = _versions(rec['facts_after'])
    host = {
        'name': name,
        'state': _state(kind, rec),
        'reason': '',
        'batch': rec.get('batch'),
        'versions': {'before': before, 'after': after},
        'findings': sorted((_finding(f) for f in rec.get('findings') or []),
                           key=lambda f: (SEVERITIES.index(f['severity']), f['id'])),
        'blockers': [_finding(f) for f in (res.get('blockers') if res else None) or pre.get('blockers') or []],
        'plan': _plan((res or pre).get('plan')),
        'steps': _steps(res),
        'downtime': {'api_seconds': _num((res.get('downtime') or {}).get('api_seconds')),
                     'containers_seconds': {str(k): _num(v) for k, v in
                                            ((res.get('downtime') or {}).get('containers_seconds') or {}).items()}}
        if res.get('steps') else None,
        'failed_step': res.get('failed_step') or None,
        'rollback': res.get('rollback') or None,
        'seconds': _num((res.get('seconds') or {}).get('total')),
        'errors': [{'task': _text(e.get('task')), 'message': _text(e.get('message'))} for e in rec.get('errors') or []],
    }
    # a blocker finding the upgrade role's preflight did not keep as a blocker is one a step of the plan resolves
    # (a client the plan moves first, a containerd daemon it restarts)
    judged = bool(res or pre) and host['state'] != 'unreachable'
    kept = {(b['id'], b['message']) for b in host['blockers']}
    for f in host['findings']:
        f['resolved_by_plan'] = judged and f['severity'] == 'blocker' and (f['id'], f['message']) not in kept
    # which targets the host would break on: the blockers of each target, less those the host's own plan resolves
    # (only for the target the plan was made for: the ids or messages its steps name in `resolves`, and every
    # blocker the preflight, which judged that target, did not keep)
    resolves = {str(r) for s in (res or pre).get('plan') or [] for r in s.get('resolves') or []}
    verdict = (res or pre).get('status') in ('planned', 'unchanged', 'blocked', 'upgraded', 'rolled_back',
                                             'rollback_failed')
    planned_for = _planned_labels(settings)
    host['would_break'] = {}
    for label, fs in (rec.get('would_break') or {}).items():
        own = str(label) in planned_for
        host['would_break'][str(label)] = sorted({
            _text(f.get('id')) for f in fs if f.get('severity') == 'blocker'
            and not (own and (_text(f.get('id')) in resolves or _text(f.get('message')) in resolves
                              or (verdict and (_text(f.get('id')), _text(f.get('message'))) not in kept)))})
    host['reason'] = _reason(host['state'], host, rec, settings)
    return host


def _drift(hosts):
    """component -> version -> hosts, for the components whose version differs across the fleet."""
    table = {'engine': {}, 'containerd': {}, 'cli': {}}
    clients = {}
    for h in hosts:
        v = h['versions']['after'] or h['versions']['before']
        if not v:
            continue
        for comp in table:
            if v.get(comp):
                table[comp].setdefault(str(v[comp]), []).append(h['name'])
        for client, version in (v.get('clients') or {}).items():
            clients.setdefault(client, {}).setdefault(version, []).append(h['name'])
    out = dict(table)
    out['clients'] = clients
    mixed = [comp for comp in ('engine', 'containerd', 'cli') if len(table[comp]) > 1]
    mixed += ['client ' + c for c, versions in sorted(clients.items()) if len(versions) > 1]
    return out, mixed


def _label(target):
    if not target:
        return 'current'
    return ', '.join('%s %s' % (k, target[k]) for k in ('engine', 'containerd') if target.get(k)) \
        or json.dumps(target, sort_keys=True)


def build_report(records, settings, generated=None):
    """The report dict (docs/report.schema.json) from per-host RECORDS and the run's SETTINGS.

    records: host name -> {facts_before, facts_after, findings, would_break, preflight (the upgrade role's
    upgrade_result in check mode), result (its upgrade_result in the rollout), unreachable (message),
    errors [{task, message}], ended_failed, batch}.
    settings: {kind, target, targets [{label, target}], hosts_pattern, hosts (every host the pattern matched),
    rollout {started, reason, batches}, files}.
    """
    if not isinstance(settings, dict) or settings.get('kind') not in KINDS:
        raise ReportError('fleet report: kind=%r is not one of %s' % (
            settings.get('kind') if isinstance(settings, dict) else settings, ', '.join(KINDS)))
    if not isinstance(records, dict):
        raise ReportError('fleet report: the host records are %s, not a dict' % type(records).__name__)
    names = list(settings.get('hosts') or [])
    listed = set(names)
    names += sorted(n for n in records if n not in listed)
    with _no_gc():
        hosts = [_host(n, records.get(n, {}), settings) for n in names]
    drift, mixed = _drift(hosts)
    counts = {s: 0 for s in STATES}
    for h in hosts:
        counts[h['state']] += 1
    targets = []
    for t in settings.get('targets') or []:
        label = t.get('label') or _label(t.get('target'))
        targets.append({'label': label, 'target': t.get('target') or {},
                        'blocked_hosts': {h['name']: h['would_break'][label] for h in hosts
                                          if h['would_break'].get(label)},
                        'checked_hosts': sum(1 for h in hosts if label in h['would_break'])})
    rollout = settings.get('rollout') or {}
    batches = [list(b) for b in rollout.get('batches') or []]
    return {
        '$schema': SCHEMA_ID,
        'schema_version': SCHEMA_VERSION,
        'kind': settings['kind'],
        'generated': generated or datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'),
        'hosts_pattern': _text(settings.get('hosts_pattern')),
        'target': settings.get('target') or None,
        'counts': counts,
        'fleet': {
            'drift': drift,
            'mixed': mixed,
            'targets': targets,
            'rollout': {'started': rollout.get('started'), 'reason': _text(rollout.get('reason')) or None,
                        'batches': batches} if settings['kind'] == 'upgrade' else None,
        },
        'hosts': hosts,
        'files': dict(settings.get('files') or {}),
        'note': 'no host matched %r' % _text(settings.get('hosts_pattern')) if not hosts else None,
    }


# ---------------------------------------------------------------------------------------------------- text

def _ver_cell(h, key):
    b = (h['versions']['before'] or {}).get(key)
    a = (h['versions']['after'] or {}).get(key)
    if not b and not a:
        return '-'
    if a and a != b:
        return '%s>%s' % (b or '?', a)
    return str(b or a)


def _fit(text, width):
    text = str(text)
    indent = text[:len(text) - len(text.lstrip(' '))]
    text = indent + ' '.join(text.split())
    return text if len(text) <= width else text[:max(width - 3, 0)] + '...'


def render_text(report, width=120):
    """The terminal summary: one line per host, then details only for hosts that need attention."""
    lines = []
    target = report.get('target')
    lines.append('fleetsafe %s report: %d host(s)%s' % (
        report['kind'], len(report['hosts']), ', target %s' % _label(target) if target else ''))
    if not report['hosts']:
        lines.append('  ' + (report.get('note') or 'no hosts'))
    else:
        hw = max(4, min(40, max(len(h['name']) for h in report['hosts'])))
        fmt = '  %%-%ds %%-15s %%-16s %%-13s %%-5s %%s' % hw
        lines.append(fmt % ('host', 'state', 'engine', 'containerd', 'batch', 'reason'))
        room = max(width - len(fmt % ('', '', '', '', '', '')), 30)
        for h in report['hosts']:
            lines.append(fmt % (
                _fit(h['name'], hw), h['state'].replace('_', ' '), _fit(_ver_cell(h, 'engine'), 16),
                _fit(_ver_cell(h, 'containerd'), 13), '' if h['batch'] is None else h['batch'],
                _fit(h['reason'], room)))
    counts = ', '.join('%s %d' % (s.replace('_', ' '), n) for s, n in report['counts'].items() if n)
    lines.append('states: ' + (counts or 'none'))
    if report['fleet']['mixed']:
        lines.append(_fit('version drift: ' + '; '.join(
            '%s %s' % (comp, ' / '.join('%s (%d)' % (v, len(hs)) for v, hs in sorted(_drift_of(report, comp).items())))
            for comp in report['fleet']['mixed']), width))
    rollout = report['fleet'].get('rollout')
    if rollout:
        if rollout['started'] is False:
            lines.append(_fit('rollout: did not start: %s' % rollout['reason'], width))
        elif rollout['batches']:
            lines.append(_fit('rollout batches: ' + ' | '.join(
                '%d: %s' % (i, ','.join(b)) for i, b in enumerate(rollout['batches'], 1)), width))
    attention = [h for h in report['hosts'] if h['state'] in ATTENTION and h['state'] != 'not_run']
    if attention:
        lines.append('needs attention:')
    for h in attention:
        shown = h['blockers'] or [f for f in h['findings'] if f['severity'] == 'blocker']
        if h['state'] == 'blocked' and shown:
            for f in shown[:3]:
                lines.append(_fit('  %s: [%s] %s' % (h['name'], f['id'], f['message']), width))
                lines.append(_fit('  %s  remedy: %s' % (' ' * len(h['name']), f['remedy']), width))
        else:
            lines.append(_fit('  %s (%s): %s' % (h['name'], h['state'].replace('_', ' '), h['reason']), width * 2))
    files = report['files']
    if files.get('json'):
        lines.append('report: %s' % ', '.join(files[f] for f in ('txt', 'json', 'html') if files.get(f)))
    return '\n'.join(lines) + '\n'


def _drift_of(report, comp):
    drift = report['fleet']['drift']
    if comp.startswith('client '):
        return drift['clients'].get(comp[len('client '):], {})
    return drift.get(comp, {})


def render_json(report):
    """The report as JSON, one line per host and per fleet-wide entry: json's C encoder writes only unindented
    JSON, and its Python one (indent=2) took over a second for 10,000 hosts."""
    dump = json.JSONEncoder(default=str, separators=(', ', ': ')).encode
    out = []
    for key, value in report.items():
        if key == 'hosts' and value:
            body = '[\n    %s\n  ]' % ',\n    '.join(dump(h) for h in value)
        elif isinstance(value, dict) and value:
            body = '{\n    %s\n  }' % ',\n    '.join('%s: %s' % (dump(k), dump(v)) for k, v in value.items())
        else:
            body = dump(value)
        out.append('  %s: %s' % (dump(key), body))
    return '{\n%s\n}\n' % ',\n'.join(out)


# ---------------------------------------------------------------------------------------------------- HTML

_CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5em;color:#1d2329;background:#fff}
h1{font-size:1.4em;margin:0 0 .3em}h2{font-size:1.15em;margin:1.4em 0 .4em;border-bottom:1px solid #ccd}
h3{font-size:1em;margin:1em 0 .3em}table{border-collapse:collapse;margin:.3em 0 .8em}
td,th{border:1px solid #ccd;padding:.2em .5em;text-align:left;vertical-align:top}th{background:#eef1f5}
.state{display:inline-block;padding:0 .5em;border-radius:.6em;font-weight:600;font-size:.9em}
.s-upgraded,.s-ready,.s-gathered{background:#d6f5dd;color:#145c27}.s-unchanged{background:#e4e8ee;color:#333}
.s-rolled_back,.s-not_run{background:#fff0c2;color:#6b4b00}
.s-blocked,.s-failed,.s-rollback_failed,.s-unreachable{background:#ffd9d6;color:#8a1209}
.sev-blocker{color:#8a1209;font-weight:600}.sev-warning{color:#6b4b00;font-weight:600}.sev-info{color:#345}
.counts span{margin-right:1em}.mixed{color:#8a1209;font-weight:600}.muted{color:#666}
section.host{border:1px solid #ccd;border-radius:6px;padding:.3em 1em .6em;margin:.8em 0}
code{background:#f2f4f7;padding:0 .2em}
table.wide{width:100%;table-layout:fixed}td{overflow-wrap:break-word}
.wide td,#hosts td:last-child{overflow-wrap:anywhere}
.state,#hosts td:first-child{white-space:nowrap}#hosts{max-width:100%}
div.reason,div.sev-blocker{margin:.5em 0;overflow-wrap:anywhere}
details.long summary{cursor:pointer}details.long[open] summary{color:#666}
"""


_ESCAPED = {}  # text -> its escaped form: a fleet's reports repeat the same messages, versions and names


def _e(value):
    if not isinstance(value, str):  # True and 1 are equal keys: only strings are remembered
        return html.escape('' if value is None else str(value))
    out = _ESCAPED.get(value)
    if out is None:
        out = html.escape(value)
        if len(_ESCAPED) < 100000:
            _ESCAPED[value] = out
    return out


LONG = 160  # characters of a reason, message or remedy shown before the rest folds away


def _long(value, limit=LONG):
    """Escaped text; a long one shows its first words and keeps the whole text one click away (<details>), so a
    long reason or remedy never stretches a table."""
    text = '' if value is None else str(value)
    if len(text) <= limit:
        return _e(text)
    cut = text.rfind(' ', limit // 2, limit)
    head = text[:cut if cut > 0 else limit]
    return '<details class="long"><summary>%s &hellip;</summary>%s</details>' % (_e(head), _e(text))


def _state_html(state):
    return '<span class="state s-%s">%s</span>' % (_e(state), _e(state.replace('_', ' ')))


def _table(head, rows, wide=False):
    out = ['<table%s><tr>' % (' class="wide"' if wide else '') + ''.join('<th>%s</th>' % _e(h) for h in head) + '</tr>']
    for r in rows:
        out.append('<tr>' + ''.join('<td>%s</td>' % c for c in r) + '</tr>')
    return ''.join(out) + '</table>'


_FINDINGS_HTML = {}  # a host's findings -> their table: a fleet's hosts mostly share the same findings


def _findings_html(findings):
    key = tuple((f['severity'], bool(f.get('resolved_by_plan')), f['id'], f['component'], f['message'], f['remedy'],
                 f['source']) for f in findings)
    out = _FINDINGS_HTML.get(key)
    if out is not None:
        return out
    resolved = '<br><span class="muted">the plan resolves it</span>'
    rows = []
    for severity, resolved_by_plan, fid, component, message, remedy, source in key:
        note = resolved if resolved_by_plan else ''
        rows.append(['<span class="sev-%s">%s</span>%s' % (_e(severity), _e(severity), note),
                     '<code>%s</code>' % _e(fid), _e(component), _long(message), _long(remedy), _long(source)])
    out = '<h4>Findings</h4>' + _table(['severity', 'id', 'component', 'message', 'remedy', 'source'], wide=True,
                                       rows=rows)
    if len(_FINDINGS_HTML) < 10000:
        _FINDINGS_HTML[key] = out
    return out


def _host_html(h):
    out = ['<section class="host" id="host-%s"><h3>%s %s</h3><div class="reason">%s</div>' % (
        _e(h['name']), _e(h['name']), _state_html(h['state']), _long(h['reason'], 400))]
    b, a = h['versions']['before'] or {}, h['versions']['after'] or {}
    if b or a:
        rows = [[_e(k), _e(b.get(k)), _e(a.get(k)) if a else '<span class="muted">-</span>']
                for k in ('engine', 'api_version', 'min_api_version', 'containerd', 'cli')]
        rows += [[_e(c), _e(v), _e((a.get('clients') or {}).get(c)) if a else '<span class="muted">-</span>']
                 for c, v in sorted((b.get('clients') or {}).items())]
        out.append(_table(['version', 'before', 'after'], rows))
    findings = h['findings'] or h['blockers']
    if findings:
        out.append(_findings_html(findings))
    if h['blockers'] and h['findings']:
        shown = {(f['id'], f['message']) for f in h['findings']}
        extra = [f for f in h['blockers'] if (f['id'], f['message']) not in shown]
        if extra:
            out.append('<h4>Preflight blockers</h4>' + _table(['id', 'message', 'remedy'], [
                ['<code>%s</code>' % _e(f['id']), _long(f['message']), _long(f['remedy'])] for f in extra], wide=True))
    if h['plan']:
        out.append('<h4>Plan</h4>' + _table(['#', 'action', 'component', 'from', 'to', 'packages'], [
            [_e(s['order']), _e(s['action']) + (' <span class="muted">(skipped: %s)</span>' % _e(s['skip_reason'])
                                                if s['skip'] else ''),
             _e(s['component']), _e(s['from']), _e(s['to']),
             _e(', '.join('%s=%s' % kv for kv in sorted(s['packages'].items())))] for s in h['plan']]))
    if h['steps']:
        out.append('<h4>Outcome: steps and measured downtime</h4>' + _table(
            ['#', 'step', 'seconds', 'Docker API down (s)', 'containers down (s)'], [
                [_e(s['order']), _e('%s %s' % (s['action'], s['component'])), _e(s['seconds']),
                 _e(s['api_down_seconds']),
                 _e(', '.join('%s %s' % kv for kv in sorted(s['containers_down_seconds'].items())))]
                for s in h['steps']]))
        d = h['downtime'] or {}
        per_container = ''.join(', %s %s s' % (_e(k), _e(v))
                                for k, v in sorted((d.get('containers_seconds') or {}).items()))
        out.append('<p>Downtime in all: Docker API %s s%s; %s s for the whole host.</p>' % (
            _e(d.get('api_seconds')), per_container, _e(h['seconds'])))
    if h['failed_step']:
        f = h['failed_step']
        out.append('<div class="sev-blocker">Failed at %s %s: %s</div>' % (
            _e(f.get('step')), _e(f.get('component')), _long(f.get('message'), 400)))
    if h['rollback']:
        r = h['rollback']
        out.append('<p>Rollback: engine %s, containerd %s, packages restored %s, smoke %s, %s s.</p>' % (
            _e(r.get('engine')), _e(r.get('containerd')), _e(', '.join(r.get('packages_restored') or []) or 'none'),
            _e(r.get('smoke')), _e(r.get('seconds'))))
    for err in h['errors']:
        out.append('<div class="sev-blocker">Task "%s": %s</div>' % (_e(err['task']), _long(err['message'], 400)))
    out.append('</section>')
    return ''.join(out)


def render_html(report):
    """One self-contained HTML page (inline CSS, no script, no external resource)."""
    target = report.get('target')
    title = 'fleetsafe %s report' % report['kind']
    out = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
           '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">',
           '<title>%s</title><style>%s</style></head><body>' % (_e(title), _CSS),
           '<h1>%s</h1><p class="muted">%d host(s) matching <code>%s</code>%s; generated %s; schema version %s</p>' % (
               _e(title), len(report['hosts']), _e(report['hosts_pattern']),
               ('; target ' + _e(_label(target))) if target else '', _e(report['generated']),
               _e(report['schema_version']))]
    out.append('<h2>States</h2><p class="counts" id="counts">%s</p>' % (''.join(
        '<span>%s %d</span>' % (_state_html(s), n) for s, n in report['counts'].items() if n) or 'no hosts'))
    if not report['hosts']:
        out.append('<p id="empty">%s</p>' % _e(report.get('note') or 'no hosts'))
    else:
        out.append('<table id="hosts"><tr><th>host</th><th>state</th><th>engine</th><th>containerd</th>'
                   '<th>batch</th><th>reason</th></tr>')
        for h in report['hosts']:
            out.append('<tr><td><a href="#host-%s">%s</a></td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>'
                       '<td>%s</td></tr>' % (_e(h['name']), _e(h['name']), _state_html(h['state']),
                                             _e(_ver_cell(h, 'engine')), _e(_ver_cell(h, 'containerd')),
                                             _e(h['batch']), _long(h['reason'])))
        out.append('</table>')
    fleet = report['fleet']
    out.append('<h2>Version drift</h2><div id="drift">')
    rows = []
    for comp in ('engine', 'containerd', 'cli'):
        versions = fleet['drift'].get(comp) or {}
        if versions:
            rows.append([('<span class="mixed">%s (mixed)</span>' if len(versions) > 1 else '%s') % _e(comp),
                         '<br>'.join('%s: %s' % (_e(v), _e(', '.join(hs))) for v, hs in sorted(versions.items()))])
    for client, versions in sorted(fleet['drift'].get('clients', {}).items()):
        rows.append([('<span class="mixed">%s (mixed)</span>' if len(versions) > 1 else '%s') % _e(client),
                     '<br>'.join('%s: %s' % (_e(v), _e(', '.join(hs))) for v, hs in sorted(versions.items()))])
    out.append(_table(['component', 'versions: hosts'], rows) if rows else '<p class="muted">no versions known</p>')
    out.append('<p>%s</p></div>' % ('Mixed: ' + _e(', '.join(fleet['mixed'])) if fleet['mixed']
                                    else 'Every host runs the same versions.'))
    if fleet['targets']:
        out.append('<h2>Which hosts would break on which target</h2><div id="targets">')
        out.append(_table(['target', 'hosts checked', 'hosts with blockers'], [
            [_e(t['label']), _e(t['checked_hosts']),
             '<br>'.join('%s: %s' % (_e(hn), _e(', '.join(ids))) for hn, ids in sorted(t['blocked_hosts'].items()))
             or 'none'] for t in fleet['targets']]))
        out.append('</div>')
    rollout = fleet.get('rollout')
    if rollout is not None:
        out.append('<h2>Rollout</h2><div id="rollout">')
        if rollout['started'] is False:
            out.append('<p class="sev-blocker">The rollout did not start: %s</p>' % _e(rollout['reason']))
        if rollout['batches']:
            state = {h['name']: h['state'] for h in report['hosts']}
            out.append('<ol>%s</ol>' % ''.join('<li>%s</li>' % ', '.join(
                '%s %s' % (_e(n), _state_html(state.get(n, 'not_run'))) for n in b) for b in rollout['batches']))
        elif rollout['started'] is not False:
            out.append('<p class="muted">no batch ran</p>')
        out.append('</div>')
    if report['hosts']:
        out.append('<h2>Hosts</h2>')
        attention = [h for h in report['hosts'] if h['state'] in ATTENTION]
        rest = [h for h in report['hosts'] if h['state'] not in ATTENTION]
        out.extend(_host_html(h) for h in attention + rest)
    out.append('</body></html>\n')
    return ''.join(out)
