# Private to the fleetsafe.container_engine collection: imported only by its own plugins and tests.
# Not a public API; it may change in any release.
#
# Copyright: fleetsafe developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The findings registry: every finding declared once, with its id, severity, knowledge rows and check.

A family module (``_engine.py``, ``_containerd.py`` ...) declares each finding with ``@finding(...)``
above its check, like an ansible-lint rule: the id, the component it is about, its default
severity, the knowledge-base rows it relies on and a one-line summary.  docs/findings.md is
generated from these declarations (tests/unit/findings_doc.py) and a unit test keeps it in step.

Naming: finding ids are snake_case ``<component>_<what>`` (``containerd_shim_protocol_mismatch``);
knowledge-base rows are named ``<section>:<key>`` where the section is the file under
data/knowledge_base without ``.yml`` and the key is the row's ``id``, ``line`` or ``driver``
(``upgrade_rules:containerd-restart-after-upgrade``, ``containerd:1.7``); ``<section>:*`` means the
finding reads every row of that section.
"""

from __future__ import annotations

from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils import _kb
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._versions import (
    InputError,
    describe,
    got,
)

SEVERITIES = ('blocker', 'warning', 'info')
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
SETTING_KEYS = ('enabled', 'severity')
REGISTRY = {}


class Finding:
    """One kind of finding: what ansible-lint calls a rule."""

    __slots__ = ('id', 'severity', 'component', 'kb', 'summary', 'incident', 'check', 'module')

    def __init__(self, fid, severity, component, kb, summary, incident, check):
        self.id = fid
        self.severity = severity
        self.component = component
        self.kb = tuple(kb)
        self.summary = summary
        self.incident = incident
        self.check = check
        self.module = check.__module__

    def source_of(self, kb):
        """The sources of the upgrade rules this finding relies on, joined."""
        key = ('source', self.id)
        if key not in kb.derived:
            kb.derived[key] = '; '.join(kb.rules[rule]['source'] for rule in self.rule_rows())
        return kb.derived[key]

    def rule_rows(self):
        return [ref.split(':', 1)[1] for ref in self.kb if ref.startswith('upgrade_rules:')]


def finding(fid, severity, component, kb, summary, incident=None):
    """Declare a finding; the decorated check(ctx, entry) yields hit(...) for each occurrence on a host."""
    if fid in REGISTRY:
        raise RuntimeError('finding %s declared twice' % fid)
    if severity not in SEVERITIES and severity != 'per row':
        raise RuntimeError('finding %s: unknown severity %s' % (fid, severity))
    for ref in kb:
        section, _sep, key = ref.partition(':')
        if section not in _kb.SCHEMA or not key:
            raise RuntimeError('finding %s: knowledge reference %r is not SECTION:KEY' % (fid, ref))

    def register(check):
        REGISTRY[fid] = Finding(fid, severity, component, kb, summary, incident, check)
        return check
    return register


def hit(component, message, remedy, source, severity=None):
    return {'component': component, 'message': message, 'remedy': remedy, 'source': source, 'severity': severity}


def check_knowledge(kb):
    """Upgrade rules that findings rely on cannot be switched off: say which findings to switch off instead."""
    if kb.derived.get('checked'):
        return
    _check_knowledge(kb)
    kb.derived['checked'] = True


def _check_knowledge(kb):
    for rule_id, row in kb.rules.items():
        if row.get('enabled', True):
            continue
        users = [f for f in REGISTRY.values() if ('upgrade_rules:' + rule_id) in f.kb]
        if users:
            raise InputError(
                'knowledge upgrade_rules row %s cannot be switched off: findings %s rely on it (%s). Switch a '
                'finding off by its id instead, e.g. findings={%r: {"enabled": false}}; see docs/findings.md' % (
                    describe(rule_id), ', '.join(f.id for f in users),
                    ', '.join('%s is a %s' % (f.id, f.severity) for f in users), users[0].id))


def read_settings(settings):
    """The operator's per-finding switches: {finding id: {enabled: bool, severity: blocker|warning|info}}."""
    if not settings and isinstance(settings, dict) or settings is None:
        return {}
    if not isinstance(settings, dict):
        raise InputError('findings must map finding ids to {enabled, severity}, got %s' % (
            got(settings)))
    parsed = {}
    for fid, setting in settings.items():
        if fid not in REGISTRY:
            raise InputError('findings has unknown finding id %s (known: %s)' % (describe(fid), ', '.join(REGISTRY)))
        where = 'findings.%s' % fid
        if not isinstance(setting, dict):
            raise InputError('%s must be a dict like {"enabled": false} or {"severity": "warning"}, got %s' % (
                where, describe(setting)))
        unknown = [k for k in setting if k not in SETTING_KEYS]
        if unknown:
            raise InputError('%s has unknown key(s) %s (known: %s)' % (
                where, ', '.join(describe(k) for k in unknown), ', '.join(SETTING_KEYS)))
        enabled = setting.get('enabled', True)
        if not isinstance(enabled, bool):
            raise InputError('%s.enabled must be true or false, got %s' % (where, describe(enabled)))
        severity = setting.get('severity')
        if severity is not None and severity not in SEVERITIES:
            raise InputError('%s.severity must be one of %s, got %s' % (where, ', '.join(SEVERITIES),
                                                                        describe(severity)))
        parsed[fid] = {'enabled': enabled, 'severity': severity}
    return parsed


def run(ctx, settings=None):
    """Every enabled finding's check against the context, as the sorted list compat_findings returns."""
    check_knowledge(ctx.kb)
    settings = read_settings(settings)
    findings = []
    for entry in REGISTRY.values():
        severity = None
        if settings and entry.id in settings:
            if not settings[entry.id]['enabled']:
                continue
            severity = settings[entry.id]['severity']
        for found in entry.check(ctx, entry):
            findings.append({'id': entry.id, 'severity': severity or found['severity'] or entry.severity,
                             'component': found['component'], 'message': found['message'],
                             'remedy': found['remedy'], 'source': found['source']})
    findings.sort(key=lambda f: (SEVERITY_RANK[f['severity']], f['component'], f['id']))
    return findings
