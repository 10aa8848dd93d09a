#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: shims_clear
short_description: End the containerd shims a downgrade orphaned and remove their task folders
version_added: 0.2.0
description:
  - A containerd shim outlives a containerd restart on purpose (its container keeps running), and a newer
    containerd talks to an older shim. After a downgrade, though, the shims the newer containerd started speak a
    protocol the older one cannot, and their task folders under C(/run/containerd/io.containerd.runtime.v2.task)
    make every later start of the same container fail with C(file exists).
  - The rule, the same everywhere the collection clears shims, is that a shim is orphaned when its binary was
    replaced on disk and the version it runs (read from the running binary itself) is newer than the installed
    containerd, or it cannot tell its version at all.
  - Orphaned shims in O(namespaces) are ended (SIGKILL) and their task folders removed, never through a mount; a
    folder with something still mounted under it is kept and named in RV(task_dirs_kept).
  - Shims containerd can still talk to are left alone, so their containers keep running.
author:
  - fleetsafe developers (@fleetsafe)
options:
  namespaces:
    description: The containerd namespaces whose shims to clear (V(moby) is Docker's); an empty list clears all.
    type: list
    elements: str
    default: [moby]
  task_dir:
    description: containerd's runtime v2 task folder.
    type: path
    default: /run/containerd/io.containerd.runtime.v2.task
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Lists the orphaned shims; ends nothing.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in diff_mode).
    support: none
seealso:
  - module: fleetsafe.container_engine.daemon_restart
  - module: fleetsafe.container_engine.engine_rollback
"""

EXAMPLES = r"""
- name: After going down from containerd 2.1 to 1.7, clear the 2.1 shims of Docker's containers
  fleetsafe.container_engine.shims_clear:
  become: true
"""

RETURN = r"""
containerd:
  description: The installed containerd's version the rule compared with.
  type: str
  returned: always
orphaned:
  description: The orphaned shims (C(pid), C(binary), C(namespace), C(id), C(version)).
  type: list
  elements: dict
  returned: always
cleared:
  description: The IDs of the containers whose shim was ended.
  type: list
  elements: str
  returned: always
killed:
  description: The shim processes ended.
  type: list
  elements: int
  returned: always
task_dirs_removed:
  description: The task folders removed.
  type: list
  elements: str
  returned: always
task_dirs_kept:
  description: Task folders kept because something is still mounted under them.
  type: list
  elements: str
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _shims as S
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._backup import containerd_installed


def main():
    module = AnsibleModule(
        argument_spec=dict(
            namespaces=dict(type='list', elements='str', default=['moby']),
            task_dir=dict(type='path', default=S.TASK_DIR),
        ),
        supports_check_mode=True,
    )
    installed = containerd_installed()
    if installed is None:
        module.fail_json(msg='containerd --version does not answer: the rule compares shims with the installed '
                             'containerd, so nothing was cleared', containerd=None, orphaned=[], cleared=[],
                         killed=[], task_dirs_removed=[], task_dirs_kept=[])
    out = S.clear(installed, namespaces=module.params['namespaces'] or None, task_dir=module.params['task_dir'],
                  check_mode=module.check_mode)
    module.exit_json(changed=bool(out['orphaned']), containerd=installed,
                     cleared=[s['id'] for s in out['orphaned'] if s['id']], **out)


if __name__ == '__main__':
    main()
