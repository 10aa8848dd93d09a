#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: engine_rollback
short_description: Put a Docker host back as an engine_backup kept it
version_added: 0.2.0
description:
  - Rolls a host back to a backup made by M(fleetsafe.container_engine.engine_backup) - the engine and
    containerd stopped, the kept .deb files reinstalled with no apt source at all (packages installed since that
    are in O(packages) removed, the holds as they were), the shims the downgrade orphaned cleared (the rule of
    M(fleetsafe.container_engine.shims_clear)), the daemons' configuration files put back byte for byte with
    their mode and owner (files that did not exist removed), C(systemctl daemon-reload), containerd then dockerd
    started and waited for with the same restart-and-wait as M(fleetsafe.container_engine.daemon_restart), the
    containers that ran before started again.
  - The rootless daemons an upgrade restarted (noted as C(rootless-USER.json) in the backup folder) that do not
    run the reinstalled dockerd are restarted on it, with the containers that ran in them.
  - Fails naming what could not be put back; RV(config), RV(packages) and RV(rootless) say what was done.
author:
  - fleetsafe developers (@fleetsafe)
options:
  dir:
    description: The run's backup folder (RV(fleetsafe.container_engine.engine_backup#module:dir)).
    type: path
    required: true
  packages:
    description: Every package the upgrade may have installed; those the backup did not hold are removed.
    type: list
    elements: str
    default: []
  timeout:
    description: Seconds to wait for each daemon, and for the containers, to be ready.
    type: int
    default: 90
  journal:
    description:
      - When true, the rollback runs on the host as a transient systemd unit (C(systemd-run --collect)) that
        executes this module's own code, recorded as a section of the run in O(dir) (C(sections/rollback.json));
        the module waits for it. A controller that dies or a connection that drops does not cut the rollback in
        half, and the next run of M(fleetsafe.container_engine.upgrade_journal) finds how it ended.
    type: bool
    default: false
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: none
    details: A rollback is only ever run to repair a failed change; check mode fails the task.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in diff_mode).
    support: none
seealso:
  - module: fleetsafe.container_engine.engine_backup
  - module: fleetsafe.container_engine.daemon_restart
"""

EXAMPLES = r"""
- name: Roll back to the backup made before the upgrade
  fleetsafe.container_engine.engine_rollback:
    dir: "{{ backup.dir }}"
    packages: [docker.io, docker-cli, containerd, runc, tini, tini-static]
  become: true
"""

RETURN = r"""
dir:
  description: The backup folder.
  type: str
  returned: always
engine:
  description: The version dockerd answers with after the rollback.
  type: str
  returned: success
containerd:
  description: The version containerd answers with after the rollback.
  type: str
  returned: success
packages:
  description: The packages installed after the rollback, name -> version.
  type: dict
  returned: success
packages_restored:
  description: The packages reinstalled from the kept .deb files.
  type: list
  elements: str
  returned: success
packages_removed:
  description: The packages removed (installed since the backup).
  type: list
  elements: str
  returned: success
shims_killed:
  description: The orphaned shim processes ended.
  type: list
  elements: int
  returned: success
task_dirs_removed:
  description: The orphaned shims' task folders removed.
  type: list
  elements: str
  returned: success
config:
  description: C(restored) and C(removed), the configuration files that differed; null for a backup without them.
  type: dict
  returned: success
containers:
  description: C(started) and C(missing), the containers that ran before.
  type: dict
  returned: success
rootless:
  description: User -> what was done for their rootless daemon.
  type: dict
  returned: success
seconds:
  description: How long the rollback took.
  type: float
  returned: success
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _backup as B
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _journal as J
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _run as R
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._parse import shown


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dir=dict(type='path', required=True),
            packages=dict(type='list', elements='str', default=[]),
            timeout=dict(type='int', default=90),
            journal=dict(type='bool', default=False),
        ),
        supports_check_mode=False,
    )
    p = module.params
    if not os.path.isfile(os.path.join(p['dir'], B.STATE_FILE)):
        module.fail_json(msg='dir=%s holds no backup (%s missing): nothing was changed' % (
            shown(p['dir']), B.STATE_FILE), dir=p['dir'])
    try:
        if p['journal']:
            result = J.run_section(p['dir'], 'rollback', 'rollback', dict(
                dest=p['dir'], managed=p['packages'], timeout=p['timeout']), p['timeout'] * 6 + 120)
        else:
            result = B.rollback(p['dir'], p['packages'], p['timeout'])
    except (R.OpError, OSError, ValueError) as exc:
        module.fail_json(msg='engine_rollback: %s' % exc, dir=p['dir'])
    if result.get('error'):
        module.fail_json(msg='engine_rollback: %s' % result['error'], **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
