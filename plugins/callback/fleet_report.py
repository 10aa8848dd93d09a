# -*- coding: utf-8 -*-
# Copyright: fleetsafe developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
name: fleet_report
type: aggregate
short_description: Write the fleet report (terminal table, JSON, HTML) of the facts, check and upgrade playbooks
version_added: 0.1.0
author:
  - fleetsafe developers (@fleetsafe)
description:
  - Records, for every host of a run of the collection's playbooks C(fleetsafe.container_engine.facts),
    C(fleetsafe.container_engine.check) and C(fleetsafe.container_engine.upgrade), the container engine facts,
    the findings, the upgrade role's C(upgrade_result) (in the preflight and in the rollout), the rollout batch,
    and every unreachable host and failed task; at the end of the run it writes the report in three forms from one
    data model (C(<dir>/<kind>.txt), C(<dir>/<kind>.json), C(<dir>/<kind>.html)) and prints the terminal table.
  - The JSON follows C(docs/report.schema.json) (versioned by C(schema_version)); the HTML is one self-contained
    file (inline style, no script, no network).
  - A run writes a report only when its playbook announces one (the fact C(fleetsafe_report_settings), which the
    collection's playbooks set first); other playbooks run with this callback enabled are left alone.
  - Because it is a callback it sees hosts that were unreachable or failed before any role ran, and works the same
    under ansible-runner and AWX.
  - Enable it in C(ansible.cfg) (C(callbacks_enabled = fleetsafe.container_engine.fleet_report)) or with
    C(ANSIBLE_CALLBACKS_ENABLED=fleetsafe.container_engine.fleet_report); the playbooks stop with a clear error
    when it is not enabled.
requirements:
  - enabled in callbacks_enabled
options:
  report_dir:
    description:
      - Folder the report goes to when the playbook does not name one (the playbooks' C(fleetsafe_report_dir)
        takes precedence). Relative paths are relative to the directory ansible-playbook runs in.
    type: path
    default: fleetsafe-report
    env:
      - name: FLEETSAFE_REPORT_DIR
    ini:
      - section: fleetsafe_report
        key: dir
  summary:
    description: Print the terminal table at the end of the run.
    type: bool
    default: true
    env:
      - name: FLEETSAFE_REPORT_SUMMARY
    ini:
      - section: fleetsafe_report
        key: summary
  keep_records:
    description:
      - Also write C(<dir>/<kind>.records.json), the per-host records the report was built from (facts, findings,
        C(upgrade_result), errors), for a bug report or to rebuild the report.
    type: bool
    default: false
    env:
      - name: FLEETSAFE_REPORT_KEEP_RECORDS
    ini:
      - section: fleetsafe_report
        key: keep_records
'''

EXAMPLES = r'''
# ansible.cfg
# [defaults]
# callbacks_enabled = fleetsafe.container_engine.fleet_report
#
# ansible-playbook -i inventory fleetsafe.container_engine.check -e fleetsafe_report_dir=reports/2026-12-05 \
#   -e '{"upgrade_target": {"engine": "26.1.5", "containerd": "1.7.24"}}'
'''

import json
import os

from ansible.plugins.callback import CallbackBase

from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils import _report


def _plain(value):
    """Ansible's tagged values as plain JSON types."""
    return json.loads(json.dumps(value, default=str))


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'fleetsafe.container_engine.fleet_report'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.records = {}
        self.settings = None
        self.rollout = {}
        self.phase = None
        self.batches = []
        self.playbook = None
        self.written = None

    def _rec(self, host):
        return self.records.setdefault(host, {'errors': []})

    # ------------------------------------------------------------------ events
    def v2_playbook_on_start(self, playbook):
        self.playbook = getattr(playbook, '_file_name', None)

    def v2_playbook_on_play_start(self, play):
        play_vars = getattr(play, 'vars', None) or {}
        phase = play_vars.get('fleetsafe_report_phase')
        self.phase = phase if isinstance(phase, str) else None
        if self.phase == 'rollout':  # sent once per serial batch
            self.batches.append([])

    def _host(self, result):
        return result._host.get_name()

    def _take_facts(self, host, facts):
        if 'fleetsafe_report_settings' in facts:
            self.settings = _plain(facts['fleetsafe_report_settings'])
        if 'fleetsafe_report_rollout' in facts:
            self.rollout = _plain(facts['fleetsafe_report_rollout'])
        if facts.get('container_engine'):
            rec = self._rec(host)
            ce = _plain(facts['container_engine'])
            rec.setdefault('facts_before', ce)
            rec['facts_after'] = ce
        if isinstance(facts.get('fleetsafe_report_host'), dict):
            rec = self._rec(host)
            extra = _plain(facts['fleetsafe_report_host'])
            rec.update(extra)
        if isinstance(facts.get('upgrade_result'), dict):
            key = 'preflight' if self.phase in ('preflight', 'check') else 'result'
            self._rec(host)[key] = _plain(facts['upgrade_result'])

    def _note_batch(self, host):
        if self.phase == 'rollout' and self.batches and host != 'localhost':
            rec = self._rec(host)
            if rec.get('batch') is None:
                rec['batch'] = len(self.batches)
                self.batches[-1].append(host)

    def v2_runner_on_ok(self, result):
        host = self._host(result)
        facts = result._result.get('ansible_facts')
        delegated = result._result.get('_ansible_delegated_vars')
        if isinstance(facts, dict) and not delegated:
            self._take_facts(host, facts)
        self._note_batch(host)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        host = self._host(result)
        self._note_batch(host)
        if ignore_errors:
            return
        res = result._result
        msg = str(res.get('msg') or res.get('stderr') or res.get('reason') or 'failed')
        if res.get('module_stderr'):
            msg += ': ' + str(res['module_stderr']).strip()
        self._rec(host)['errors'].append({'task': result.task_name, 'message': msg[:2000]})

    def v2_runner_on_unreachable(self, result):
        host = self._host(result)
        self._note_batch(host)
        self._rec(host)['unreachable'] = str(result._result.get('msg') or 'unreachable')[:2000]

    def v2_runner_on_skipped(self, result):
        self._note_batch(self._host(result))

    # ------------------------------------------------------------------ the report
    def v2_playbook_on_stats(self, stats):
        if self.settings is None:
            return  # not one of the collection's report playbooks
        listed = self.settings.get('hosts') or []
        for host in [h for h in self.records if h == 'localhost' and h not in listed]:
            del self.records[host]  # the playbooks' own plays on the controller
        for host, rec in self.records.items():
            summary = stats.summarize(host)
            rec['ended_failed'] = bool(summary.get('failures'))
            if not rec['ended_failed'] and not rec.get('unreachable'):
                rec['errors'] = []  # failures the playbook rescued (a blocked preflight) are not the outcome
        settings = dict(self.settings)
        settings['rollout'] = dict(self.rollout, batches=[b for b in self.batches if b])
        out_dir = settings.get('dir') or self.get_option('report_dir')
        out_dir = os.path.abspath(os.path.expanduser(out_dir))
        kind = settings.get('kind')
        settings['files'] = {form: os.path.join(out_dir, '%s.%s' % (kind, form)) for form in ('txt', 'json', 'html')}
        try:
            report = _report.build_report(self.records, settings)
        except _report.ReportError as exc:
            self._display.error(str(exc))
            return
        try:
            os.makedirs(out_dir, exist_ok=True)
            text = _report.render_text(report)
            if self.get_option('keep_records'):
                with open(os.path.join(out_dir, '%s.records.json' % kind), 'w', encoding='utf-8') as fh:
                    json.dump({'settings': settings, 'records': self.records}, fh, indent=1, sort_keys=True)
            for form, body in (('json', _report.render_json(report)), ('html', _report.render_html(report)),
                               ('txt', text)):
                tmp = settings['files'][form] + '.tmp'
                with open(tmp, 'w', encoding='utf-8') as fh:
                    fh.write(body)
                os.replace(tmp, settings['files'][form])
        except OSError as exc:
            self._display.error('fleet_report: cannot write the report to %s: %s' % (out_dir, exc))
            return
        self.written = settings['files']
        if self.get_option('summary'):
            self._display.banner('FLEET REPORT')
            self._display.display(text.rstrip('\n'))
