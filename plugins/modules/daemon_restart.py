#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: daemon_restart
short_description: Restart containerd or a Docker engine (system or rootless) and wait until it answers
version_added: 0.2.0
description:
  - Restarts a daemon's systemd unit - C(containerd.service) or C(docker.service) under the system manager, or a
    user's rootless C(docker.service) under their systemd --user manager (O(scope=rootless), run as that user with
    C(runuser); it needs the manager running, which linger gives, not a login session) - and waits until its API
    answers as O(version).
  - When the daemon fails to start, restarts by itself again (a crash under C(Restart=always)) or does not answer
    in time, the task fails with the daemon's own reason read from its journal (the plain line a daemon prints
    when it refuses a setting, such as C(invalid DOCKER_MIN_API_VERSION ...)), not systemd's lines about the unit.
  - Containers of a Docker engine can be stopped cleanly just before the restart, while the API still answers,
    and started again as soon as it answers, in the same module run so that no round trip adds to their downtime -
    those named in O(containers), or with O(running_containers) every running one, unless live-restore keeps them
    across this change (dockerd promises that across a patch release of the same line only). Each container's
    downtime is measured from its own stop and start times.
  - When the unit is C(containerd.service) and there are containers to start (or O(wait_engine)), the module waits
    for the Docker engine too before starting them - systemd restarts C(docker.service) with containerd when the
    engine's unit requires it (Docker's 20.10 unit, C(Requires=containerd.service)); dockerd is restarted once here
    only when it does not answer and systemd is not starting it (RV(engine_restarted), RV(engine_restarted_by_role)).
  - The same code does the upgrade's restarts and the rollback's (M(fleetsafe.container_engine.engine_rollback)).
author:
  - fleetsafe developers (@fleetsafe)
options:
  unit:
    description: The daemon's systemd unit.
    type: str
    default: docker.service
  scope:
    description: V(system) for a unit of the system manager, V(rootless) for a user's unit (needs O(user)).
    type: str
    choices: [system, rootless]
    default: system
  user:
    description: The user whose rootless daemon it is (O(scope=rootless)).
    type: str
  socket:
    description:
      - The daemon's socket; by default the system's (C(/var/run/docker.sock), containerd's own), or
        C(/run/user/UID/docker.sock) for a rootless daemon.
    type: path
  version:
    description:
      - The version the daemon must answer with, an upstream release (V(26.1.5)) or a line (V(26.1)); V('')
        takes any answer.
    type: str
    default: ''
  restart:
    description:
      - V(stale) restarts only when the daemon does not answer as O(version) (a daemon older than its binary),
        V(always) restarts anyway, V(never) only waits until it answers (a package restarted it).
    type: str
    choices: [stale, always, never]
    default: stale
  containers:
    description:
      - Containers (names or IDs) to stop just before the restart and start again as soon as it answers. They are
        the Docker engine's - also when the unit restarted is the containerd under it (the engine on the system
        socket), or its own for a rootless engine.
    type: list
    elements: str
    default: []
  running_containers:
    description:
      - Stop every running container of the engine before the restart and start them again after it, unless
        live-restore keeps them running across this change. Not with O(containers).
    type: bool
    default: false
  wait_running:
    description:
      - After starting the containers, wait until each runs (and is healthy where it has a healthcheck). V(false)
        only starts them - for a step after which a client the new engine refuses may exit until a later step
        moves it; the caller checks them itself.
    type: bool
    default: true
  wait_engine:
    description:
      - With O(unit=containerd.service), wait until the Docker engine answers too (restarted once here only when it
        does not answer and systemd is not starting it) - for a C(docker.service) that restarts with containerd.
    type: bool
    default: false
  note:
    description:
      - A file to write, before anything stops, with the containers that ran and the daemon (JSON), so that a
        rollback can bring them back (M(fleetsafe.container_engine.engine_rollback) reads C(rootless-USER.json)
        in its backup folder).
    type: path
  timeout:
    description: Seconds to wait for the daemon, and then for the containers, to be ready.
    type: int
    default: 90
  journal:
    description:
      - An upgrade run's folder (RV(fleetsafe.container_engine.upgrade_journal#module:dir)). When given, the
        containers' stop, the restart and their start again run on the host as one transient systemd unit
        (C(systemd-run --collect)) that executes this module's own code; the module waits for it. A controller
        that dies or a connection that drops (the module hung up) leaves the section running to its end, and the
        run's journal says how it ended (C(sections/restart-UNIT.json)) for the next run. Without systemd the
        section runs in the module itself.
    type: path
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Says whether it would restart; stops, restarts and starts nothing.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in diff_mode).
    support: none
seealso:
  - module: fleetsafe.container_engine.engine_rollback
  - module: fleetsafe.container_engine.shims_clear
"""

EXAMPLES = r"""
- name: Restart dockerd on the installed 26.1.5, its running containers stopped first and started again
  fleetsafe.container_engine.daemon_restart:
    unit: docker.service
    version: 26.1.5
    restart: always
    running_containers: true
  become: true

- name: Wait until containerd (restarted by its package) answers as 1.7.24
  fleetsafe.container_engine.daemon_restart:
    unit: containerd.service
    version: 1.7.24
    restart: never

- name: Restart alice's rootless dockerd on the new binary
  fleetsafe.container_engine.daemon_restart:
    scope: rootless
    user: alice
    version: 28.5.2
    running_containers: true
  become: true
"""

RETURN = r"""
restarted:
  description: Whether the unit was (in check mode, would be) restarted.
  type: bool
  returned: always
version_before:
  description: What the daemon answered with before, or null.
  type: str
  returned: always
version:
  description: What it answers with now.
  type: str
  returned: success
seconds:
  description: From the restart (or the start of the wait) until the daemon answered.
  type: float
  returned: success
started_at:
  description: When the restart began (epoch seconds).
  type: float
  returned: success
answered_at:
  description: When the daemon answered (epoch seconds).
  type: float
  returned: success
live_restore:
  description: Whether the engine's live-restore was on (with O(running_containers)), else null.
  type: bool
  returned: success
live_restore_kept_containers:
  description: Whether live-restore kept the running containers across this change (nothing was stopped).
  type: bool
  returned: success
containers_gone:
  description: Containers to start again that no longer exist (run with C(--rm), say).
  type: list
  elements: str
  returned: success
stop_seconds:
  description: How long stopping the containers took.
  type: float
  returned: success
containers_stopped:
  description: The containers stopped for the restart.
  type: list
  elements: str
  returned: success
containers_started:
  description: The containers started again (or started because they did not run).
  type: list
  elements: str
  returned: success
containers_down_seconds:
  description: Name -> seconds each container was down (0 when the same process kept running).
  type: dict
  returned: success
  sample: {keeper: 0.81}
engine_restarted:
  description: For O(unit=containerd.service) with containers - whether dockerd's main process changed across the
    restart (systemd restarted it with containerd).
  type: bool
  returned: when the unit is containerd's and containers were named or stopped, or with O(wait_engine)
engine_restarted_by_role:
  description: For O(unit=containerd.service) with containers - whether dockerd did not come back by itself and was
    restarted here once.
  type: bool
  returned: when the unit is containerd's and containers were named or stopped, or with O(wait_engine)
"""

import pwd

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _daemon as D
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _journal as J
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _run as R
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._parse import RELEASE_RE
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._parse import shown


def main():
    module = AnsibleModule(
        argument_spec=dict(
            unit=dict(type='str', default='docker.service'),
            scope=dict(type='str', default='system', choices=['system', 'rootless']),
            user=dict(type='str'),
            socket=dict(type='path'),
            version=dict(type='str', default=''),
            restart=dict(type='str', default='stale', choices=['stale', 'always', 'never']),
            containers=dict(type='list', elements='str', default=[]),
            running_containers=dict(type='bool', default=False),
            note=dict(type='path'),
            wait_running=dict(type='bool', default=True),
            wait_engine=dict(type='bool', default=False),
            timeout=dict(type='int', default=90),
            journal=dict(type='path'),
        ),
        required_if=[('scope', 'rootless', ['user'])],
        mutually_exclusive=[('containers', 'running_containers')],
        supports_check_mode=True,
    )
    p = module.params
    if p['version'] and not RELEASE_RE.match(p['version']):
        module.fail_json(msg='version=%s is not a release: give an upstream version such as 26.1.5 or a line such '
                             'as 26.1' % shown(p['version']), restarted=False, version_before=None)
    if p['timeout'] < 1:
        module.fail_json(msg='timeout=%s: give a number of seconds, 1 or more' % p['timeout'],
                         restarted=False, version_before=None)
    uid = None
    if p['scope'] == 'rootless':
        try:
            uid = pwd.getpwnam(p['user']).pw_uid
        except KeyError:
            module.fail_json(msg='user=%s: no such user on the host' % shown(p['user']), restarted=False,
                             version_before=None)
    daemon = D.Daemon(p['unit'], scope=p['scope'], user=p['user'], uid=uid, socket=p['socket'])
    answering = daemon.version()
    if p['restart'] == 'stale':
        restart = not (answering is not None and (not p['version'] or D.answers_as(answering, p['version'])))
    else:
        restart = p['restart'] == 'always'
    if restart and p['scope'] == 'rootless':
        load = daemon.show().get('LoadState')
        if load != 'loaded':
            why = ('%s\'s rootless dockerd is not a systemd --user unit (%s is %s): it cannot be restarted here. Run '
                   'it as %s (dockerd-rootless-setuptool.sh install) or restart it yourself on the new dockerd'
                   % (p['user'], p['unit'], load or 'unknown', p['unit']))
            module.fail_json(msg=why, restarted=False, version_before=answering)
    if module.check_mode:
        try:
            _engine, stop, live, kept = D.containers_to_stop(daemon, answering, p['version'], p['containers'],
                                                             p['running_containers'])
        except R.OpError as exc:
            module.fail_json(msg=str(exc), restarted=False, version_before=answering)
        module.exit_json(changed=restart, restarted=restart, version_before=answering, live_restore=live,
                         live_restore_kept_containers=kept,
                         containers_stopped=[c['name'] for c in stop if c['running']] if restart else [])
    if not restart and p['restart'] == 'stale' and not p['containers'] and not p['wait_engine']:
        # already on the version: nothing to stop, restart or start
        module.exit_json(changed=False, restarted=False, version_before=answering, version=answering, seconds=0.0,
                         containers_stopped=[], containers_started=[], containers_down_seconds={})
    try:
        if p['journal']:
            # the containers' stop, the restart and their start again run on the host as one transient systemd
            # unit: a controller that dies or a connection that drops does not cut them in half
            result = J.run_section(p['journal'], 'restart-%s' % p['unit'].split('.')[0], 'restart', dict(
                unit=p['unit'], scope=p['scope'], user=p['user'], uid=uid, socket=p['socket'], want=p['version'],
                timeout=p['timeout'], restart=restart, containers=p['containers'], running=p['running_containers'],
                note=p['note'], wait=p['wait_running'], wait_engine=p['wait_engine']), p['timeout'] * 4 + 120)
        else:
            result = D.restart_with_containers(daemon, p['version'], p['timeout'], restart=restart,
                                               containers=p['containers'], running=p['running_containers'],
                                               note=p['note'], wait=p['wait_running'], wait_engine=p['wait_engine'])
    except (R.OpError, OSError) as exc:
        module.fail_json(msg=str(exc), restarted=restart, version_before=answering)
    module.exit_json(changed=restart or bool(result['containers_started']), **result)


if __name__ == '__main__':
    main()
