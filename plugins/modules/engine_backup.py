#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: engine_backup
short_description: Keep a Docker host's engine state before an upgrade, for a rollback
version_added: 0.2.0
description:
  - Keeps, in O(root)/O(run), what a rollback (M(fleetsafe.container_engine.engine_rollback)) needs to put the
    host back as it is - the installed packages' .deb files (C(apt-get download), else C(/var/cache/apt/archives),
    else C(dpkg-repack)), the running containers with their restart policies, the package holds, and the daemons'
    configuration files (C(/etc/docker/daemon.json), C(/etc/containerd/config.toml), the C(*.conf) drop-ins of
    C(docker.service) and C(containerd.service)) with their content, mode and owner. A file that does not exist
    is noted as absent, so a rollback removes it if an upgrade creates it.
  - O(root) is root's alone (mode 0700, owner root), closed again if it exists with another mode. Every kept file
    has its original mode and owner from the moment it is written, so a drop-in readable by root only (a proxy
    password) is never readable by anyone else.
  - Once the backup is complete, older run folders (named C(YYYYmmddTHHMMSS)) are removed so that the newest
    O(keep) remain; RV(pruned) names them. Nothing else under O(root) is touched.
  - Fails, naming the packages, when a .deb cannot be kept; the host is not changed but for the backup folder.
author:
  - fleetsafe developers (@fleetsafe)
options:
  root:
    description: The folder that holds one folder per run.
    type: path
    default: /var/backups/fleetsafe-container-engine
  run:
    description: This run's folder name, its start as C(YYYYmmddTHHMMSS) (UTC).
    type: str
    required: true
  packages:
    description: The packages to keep when installed (the engine's, containerd's, runc, tini ...).
    type: list
    elements: str
    required: true
  state:
    description: A private apt state folder (see M(fleetsafe.container_engine.apt_resolve)) whose sources serve
      the installed versions; V('') uses the host's own sources.
    type: path
    default: ''
  keep:
    description: How many runs' folders stay, this one included (at least 1).
    type: int
    default: 2
  journal:
    description:
      - Begin the upgrade run's journal in the run's folder before the backup, and note after it that the backup is
        complete (and that O(journal.next_step) starts), as M(fleetsafe.container_engine.upgrade_journal) does with
        V(event=begin) and V(event=backup) - one module run instead of three. A run cut by a dead controller in the
        middle of the backup is then found unfinished with no backup, as with those events.
      - When the backup fails after the journal was begun, RV(journal_begun) says so, so that the caller ends the
        journal.
    type: dict
    suboptions:
      target:
        description: The run's target (engine, containerd), as the journal keeps it.
        type: dict
        default: {}
      plan:
        description: The run's plan steps.
        type: list
        elements: dict
        default: []
      next_step:
        description: The plan step that starts once the backup is complete (order, action, component, to).
        type: dict
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Reports the packages it would keep and the folders it would prune; writes nothing.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in diff_mode).
    support: none
seealso:
  - module: fleetsafe.container_engine.engine_rollback
"""

EXAMPLES = r"""
- name: Keep the engine's state before the first change
  fleetsafe.container_engine.engine_backup:
    run: "{{ now(utc=true, fmt='%Y%m%dT%H%M%S') }}"
    packages: [docker.io, docker-cli, containerd, runc, tini]
    keep: 2
  become: true
  register: backup
"""

RETURN = r"""
dir:
  description: This run's backup folder.
  type: str
  returned: success
  sample: /var/backups/fleetsafe-container-engine/20261205T051000
packages:
  description: The kept packages, name -> installed version.
  type: dict
  returned: always
running:
  description: The containers that ran (C(id), C(name), C(image), C(restart_policy), ...).
  type: list
  elements: dict
  returned: success
holds:
  description: The packages held at the time.
  type: list
  elements: str
  returned: success
engine:
  description: The version the Docker engine answered with, or null.
  type: str
  returned: success
debs:
  description: The kept .deb files.
  type: list
  elements: str
  returned: success
how:
  description: Package -> how its .deb was kept (V(apt-get download), V(apt cache), V(dpkg-repack), V(kept)).
  type: dict
  returned: success
config_files:
  description: Path -> C(exists), and for a kept file C(copy), C(mode), C(uid), C(gid) (a link also C(link), C(target)).
  type: dict
  returned: success
daemon_json:
  description: The content of daemon.json, or null.
  type: str
  returned: success
pruned:
  description: Older runs' folders removed (in check mode, that would be removed).
  type: list
  elements: str
  returned: always
journal:
  description: The run's journal as written after the backup (with O(journal)).
  type: dict
  returned: success with O(journal)
next_started:
  description: The order of O(journal.next_step), noted as started.
  type: int
  returned: success with O(journal.next_step)
journal_begun:
  description: Whether this run began the journal (with O(journal)); on a failure, the caller ends it.
  type: bool
  returned: always
"""

import json
import os
import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _apt as A
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _backup as B
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _journal as J
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _run as R
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._parse import shown

NAME_RE = re.compile(r'^[a-z0-9][a-z0-9+.-]+$')


def main():
    module = AnsibleModule(
        argument_spec=dict(
            root=dict(type='path', default='/var/backups/fleetsafe-container-engine'),
            run=dict(type='str', required=True),
            packages=dict(type='list', elements='str', required=True),
            state=dict(type='path', default=''),
            keep=dict(type='int', default=2),
            journal=dict(type='dict', options=dict(
                target=dict(type='dict', default={}),
                plan=dict(type='list', elements='dict', default=[]),
                next_step=dict(type='dict'),
            )),
        ),
        supports_check_mode=True,
    )
    p = module.params
    none = dict(pruned=[], packages={}, journal_begun=False)
    if not B.RUN_NAME.match(p['run']):
        module.fail_json(msg='run=%s is not a run name: give its start as YYYYmmddTHHMMSS, e.g. 20261205T051000'
                         % shown(p['run']), **none)
    if p['keep'] < 1:
        module.fail_json(msg='keep=%s keeps no backup: the current run needs one (give 1 or more)' % p['keep'],
                         **none)
    bad = [n for n in p['packages'] if not NAME_RE.match(n)]
    if bad:
        module.fail_json(msg='packages: %s is not a package name' % shown(bad[0]), **none)
    if not os.path.isabs(p['root']) or os.path.normpath(p['root']) == '/':
        module.fail_json(msg='root=%s must be an absolute folder other than /' % shown(p['root']), **none)
    journal = p['journal']
    nxt = (journal or {}).get('next_step')
    if nxt is not None and not isinstance(nxt.get('action'), str):
        module.fail_json(msg='journal.next_step=%s has no action: give a plan step (order, action, component, to)'
                             % shown(json.dumps(nxt)), **none)
    dest = os.path.join(p['root'], p['run'])
    if module.check_mode:
        module.exit_json(changed=True, dir=dest, packages=A.installed_packages(p['packages']),
                         pruned=B.runs_to_prune(p['root'], p['keep'], dest), journal_begun=False)
    begun = False
    try:
        snap = None
        if journal is not None:
            # one look at what runs, for the journal's intent and the backup both
            snap = B.snapshot(p['packages'])
            J.begin_run(p['root'], p['run'], journal['target'], journal['plan'], p['packages'], snap=snap)
            begun = True
        result = B.backup(p['root'], p['run'], p['packages'], state=p['state'], keep=p['keep'], snap=snap)
        if journal is not None:
            result['journal'] = J.backup_done(dest, nxt)
            if nxt:
                result['next_started'] = nxt.get('order')
    except (R.OpError, OSError) as exc:
        module.fail_json(msg='engine_backup: %s' % exc, dir=dest, pruned=[], packages={}, journal_begun=begun)
    module.exit_json(changed=True, journal_begun=begun, **result)


if __name__ == '__main__':
    main()
