#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: upgrade_journal
short_description: Keep an upgrade run's journal on the host, and recover from a run that never finished
version_added: 0.3.0
description:
  - Keeps, beside a run's backup (C(ROOT/RUN/journal.json), root's alone), what the run intended - its target, its
    plan, the containers that ran, the package versions and holds at its start - and what it completed, step by
    step. Each record is written atomically (a private temporary file, fsync, rename, fsync of the folder), so a
    controller that dies, a connection that drops or a host that loses power leaves the last whole record.
  - O(event=find) looks for the newest run under O(root) that never ended (its controller died, its connection
    dropped); O(event=recover) brings the host out of it - it waits for a section the run left running on the host
    (a restart or a rollback run as a transient systemd unit goes on without its controller), finishes what an
    interrupted dpkg left (C(dpkg --configure -a)), removes a C(policy-rc.d) the run left, and then
    O(mode=rollback) puts the host back as the run's backup kept it (the rule of
    M(fleetsafe.container_engine.engine_rollback), itself run as a transient systemd unit), or O(mode=resume)
    starts the containers the run had stopped and puts its holds back so that the plan can be completed. A run
    cut before its first change is closed as abandoned (nothing to undo).
author:
  - fleetsafe developers (@fleetsafe)
options:
  event:
    description:
      - V(find) the newest unfinished run; V(recover) from it (O(mode)); V(begin) a run (its intent); V(backup) notes
        that the run's backup is complete; V(step) notes a step's start or end (O(step), O(step_status));
        V(end) notes how the run ended (O(status)).
    type: str
    required: true
    choices: [find, recover, begin, backup, step, end]
  root:
    description: The folder that holds one folder per run (the backups' root).
    type: path
    default: /var/backups/fleetsafe-container-engine
  run:
    description:
      - The run's name, its start as YYYYmmddTHHMMSS; required except for O(event=find). With O(event=find) and
        O(event=recover), the run to leave out of the search (the current one).
    type: str
  target:
    description:
      - The run's target (O(event=begin)); with O(event=recover) and O(mode=resume), the current run's target,
        required - resume is refused, with nothing changed, when it is not the unfinished run's target.
    type: dict
    default: {}
  plan:
    description: The run's plan, its steps in order (O(event=begin)).
    type: list
    elements: dict
    default: []
  packages:
    description:
      - The packages the run manages - their versions and holds are noted at O(event=begin); with
        O(event=recover) those a rollback may remove or put back.
    type: list
    elements: str
    default: []
  step:
    description: The plan step (C(order), C(action), C(component), C(to)) that starts or ends (O(event=step)).
    type: dict
  step_status:
    description: Whether the step V(started), is V(done) or V(failed) (O(event=step)).
    type: str
    choices: [started, done, failed]
    default: started
  next_step:
    description:
      - The plan step that starts next, noted as started in the same write (with O(event=backup), or with
        O(event=step) and O(step_status=done)). Nothing happens on the host between the end of one step and the
        start of the next, so the run saves a round trip per step; the running containers noted at its start are
        those at this end.
    type: dict
  result:
    description: What the step or the run did, kept in the journal (O(event=step), O(event=end)).
    type: dict
  status:
    description: How the run ended (O(event=end)).
    type: str
    choices: [upgraded, unchanged, blocked, failed, rolled_back, rollback_failed]
  mode:
    description:
      - What O(event=recover) does with a run that changed the host - V(rollback) to its backup (the safe default, the
        host ends as it was before that run), or V(resume) (the run's plan is completed by the caller; refused when
        O(target) is not the run's target). A run that was rolling back when it was cut is rolled back in either
        mode.
    type: str
    choices: [rollback, resume]
    default: rollback
  hold:
    description:
      - With O(event=recover) and O(mode=resume), whether the packages of a step the run was cut in are held (as the
        step holds them when it ends) or released.
    type: bool
    default: true
  timeout:
    description: Seconds to wait for each daemon and for the containers (a rollback waits for several).
    type: int
    default: 90
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: V(find) reads only; the other events say what they would write or do and change nothing.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in diff_mode).
    support: none
seealso:
  - module: fleetsafe.container_engine.engine_backup
  - module: fleetsafe.container_engine.engine_rollback
  - module: fleetsafe.container_engine.daemon_restart
"""

EXAMPLES = r"""
- name: Find a run whose controller died
  fleetsafe.container_engine.upgrade_journal:
    event: find
  register: unfinished
  become: true

- name: Roll the host back to that run's backup
  fleetsafe.container_engine.upgrade_journal:
    event: recover
    mode: rollback
    packages: [docker.io, docker-cli, containerd, runc]
  when: unfinished.unfinished
  become: true

- name: Or complete that run's plan (its target must be this run's)
  fleetsafe.container_engine.upgrade_journal:
    event: recover
    mode: resume
    target: {engine: 26.1.5, containerd: 1.7.24}
    packages: [docker.io, docker-cli, containerd, runc]
  when: unfinished.unfinished
  become: true

- name: Note that step 2 started
  fleetsafe.container_engine.upgrade_journal:
    event: step
    run: 20261205T051000
    step: {order: 2, action: upgrade_engine, component: engine, to: 26.1.5}
  become: true
"""

RETURN = r"""
dir:
  description: The run's folder (for O(event=find) and O(event=recover), the unfinished run's, or null).
  type: str
  returned: always
unfinished:
  description:
    - The unfinished run found - C(run), C(dir), C(status), C(target), C(backup) (whether its backup was complete),
      C(containers_running_at_start), C(steps_done), C(steps_cut) (started and never ended), C(sections)
      (name -> how each section run on the host ended); null when every run ended.
  type: dict
  returned: O(event=find) or O(event=recover)
recovery:
  description:
    - What O(event=recover) did - C(action) (V(rolled_back), V(resumed), V(nothing_to_undo)), C(dpkg_interrupted)
      (what C(dpkg --audit) named), C(policy_rc_removed), C(rollback) (as M(fleetsafe.container_engine.engine_rollback)
      returns it), C(containers_started), C(holds); null when nothing was unfinished.
  type: dict
  returned: O(event=recover)
backup:
  description:
    - For O(mode=resume), the unfinished run's backup as M(fleetsafe.container_engine.engine_backup) returned it
      (C(dir), C(running), C(packages), C(holds), ...); the resumed run verifies against it and rolls back to it.
  type: dict
  returned: O(event=recover) with O(mode=resume)
containers_kept_running:
  description:
    - The containers that ran when the step started and still run the same process (O(event=step) with
      O(step_status=done) or V(failed)); the journal keeps the running containers and their processes at each
      step's start.
  type: list
  elements: str
  returned: O(event=step) when the step ends
  sample: [keeper]
containers_restarted:
  description: The other containers that ran when the step started (stopped and started again, or stopped).
  type: list
  elements: str
  returned: O(event=step) when the step ends
  sample: []
journal:
  description: The journal as written (null in check mode or when there is none).
  type: dict
  returned: always
next_started:
  description: The order of O(next_step) when it was noted as started.
  type: int
  returned: when O(next_step) was noted
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _apt as A
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _backup as B
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _engine_api as E
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _journal as J
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _run as R
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._parse import shown


def main():
    module = AnsibleModule(
        argument_spec=dict(
            event=dict(type='str', required=True, choices=['find', 'recover', 'begin', 'backup', 'step', 'end']),
            root=dict(type='path', default='/var/backups/fleetsafe-container-engine'),
            run=dict(type='str'),
            target=dict(type='dict', default={}),
            plan=dict(type='list', elements='dict', default=[]),
            packages=dict(type='list', elements='str', default=[]),
            step=dict(type='dict'),
            step_status=dict(type='str', default='started', choices=['started', 'done', 'failed']),
            next_step=dict(type='dict'),
            result=dict(type='dict'),
            status=dict(type='str', choices=['upgraded', 'unchanged', 'blocked', 'failed', 'rolled_back',
                                             'rollback_failed']),
            mode=dict(type='str', default='rollback', choices=['rollback', 'resume']),
            hold=dict(type='bool', default=True),
            timeout=dict(type='int', default=90),
        ),
        required_if=[('event', 'begin', ['run']), ('event', 'backup', ['run']), ('event', 'step', ['run', 'step']),
                     ('event', 'end', ['run', 'status'])],
        supports_check_mode=True,
    )
    p = module.params
    ev = p['event']
    if p['run'] is not None and not B.RUN_NAME.match(p['run']):
        module.fail_json(msg='run=%s is not a run name: give its start as YYYYmmddTHHMMSS, e.g. 20261205T051000'
                             % shown(p['run']), dir=None, journal=None)
    if os.path.abspath(p['root']) == '/':
        module.fail_json(msg='root=%s must be an absolute folder other than /' % shown(p['root']), dir=None,
                         journal=None)
    if p['timeout'] < 1:
        module.fail_json(msg='timeout=%s: give a number of seconds, 1 or more' % p['timeout'], dir=None,
                         journal=None)
    if ev == 'recover' and p['mode'] == 'resume' and not p['target']:
        module.fail_json(msg='mode=resume needs target: give the current run\'s target, which must be the unfinished '
                             'run\'s; nothing was changed', dir=None, journal=None)
    for name, needed in (('step', ev == 'step'), ('next_step', p['next_step'] is not None)):
        if needed and not isinstance((p[name] or {}).get('action'), str):
            module.fail_json(msg='%s=%s has no action: give a plan step (order, action, component, to)'
                                 % (name, shown(json.dumps(p[name]))), dir=None, journal=None)
    if p['next_step'] is not None and not (ev == 'backup' or (ev == 'step' and p['step_status'] == 'done')):
        module.fail_json(msg='next_step is noted with event=backup or with event=step and step_status=done, not '
                             'with event=%s step_status=%s' % (ev, p['step_status']), dir=None, journal=None)
    try:
        if ev in ('find', 'recover'):
            found = J.find_unfinished(p['root'], but=p['run'])
            if not found:
                module.exit_json(changed=False, dir=None, unfinished=None, recovery=None, journal=None)
            if ev == 'recover':
                J.check_resume(found, p['mode'], p['target'])
            if ev == 'find' or module.check_mode:
                summary = J.summary(found)
                module.exit_json(changed=ev == 'recover', dir=found, unfinished=summary,
                                 recovery={'action': 'would %s' % p['mode']} if ev == 'recover' else None,
                                 journal=J.Journal(found).load())
            summary = J.summary(found)
            recovery = J.recover(found, p['mode'], p['packages'], p['timeout'], by=p['run'], target=p['target'],
                                 hold=p['hold'])
            out = dict(changed=True, dir=found, unfinished=summary, recovery=recovery,
                       journal=J.Journal(found).load())
            if recovery['action'] == 'resumed':
                out['backup'] = dict(J.read_json(os.path.join(found, B.STATE_FILE)), dir=found, pruned=[])
            module.exit_json(**out)
        dest = os.path.join(p['root'], p['run'])
        journal = J.Journal(dest)
        if ev != 'begin' and journal.load() is None:
            module.fail_json(msg='run=%s has no journal under %s: begin it first' % (shown(p['run']), p['root']),
                             dir=dest, journal=None)
        if module.check_mode:
            module.exit_json(changed=True, dir=dest, journal=None)
        if ev == 'begin':
            rec = J.begin_run(p['root'], p['run'], p['target'], p['plan'], p['packages'])
        elif ev == 'backup':
            rec = J.backup_done(dest, p['next_step'])
            if p['next_step']:
                module.exit_json(changed=True, dir=dest, journal=rec, next_started=p['next_step'].get('order'))
        elif ev == 'step':
            # the holds after a step that ended: a resumed run puts them back (a step cut after lifting one)
            held = A.holds() if p['step_status'] != 'started' else None
            # the running containers and their processes, at the step's start and end: one that kept running
            # across the step keeps its process
            running = E.running_pids()
            rec = journal.step(p['step'], p['step_status'], p['result'], holds=held, running=running)
            if p['step_status'] != 'started':
                ended = [s for s in rec['steps'] if s.get('order') == p['step'].get('order')][-1].get('result') or {}
                nxt = {}
                if p['next_step']:
                    rec = journal.step(p['next_step'], 'started', running=running)
                    nxt = dict(next_started=p['next_step'].get('order'))
                module.exit_json(changed=True, dir=dest, journal=rec,
                                 containers_kept_running=ended.get('containers_kept_running', []),
                                 containers_restarted=ended.get('containers_restarted', []), **nxt)
        else:
            rec = journal.finish(p['status'], result=p['result'] or {})
    except (R.OpError, OSError, ValueError) as exc:
        module.fail_json(msg='upgrade_journal: %s' % exc, dir=None, journal=None)
    module.exit_json(changed=True, dir=dest, journal=rec)


if __name__ == '__main__':
    main()
