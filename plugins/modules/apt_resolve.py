#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: apt_resolve
short_description: Resolve an upgrade plan's steps to the package versions an apt source offers
version_added: 0.2.0
description:
  - Reads which versions of the engine, its client, containerd and further packages an apt source offers, with a
    private apt state (the host's sources copied beside O(source) in O(state), lists kept apart from the host's),
    so the host's own apt configuration is never edited.
  - Fills each step of O(steps) (the P(fleetsafe.container_engine.upgrade_plan#filter) filter's output) with the
    package versions it installs (C(packages)), or marks it skipped (an intermediate containerd line the source
    lacks, when O(allow_line_skip) is true).
  - A line or package the source lacks is a blocker with its remedy, and so is a step apt cannot make
    (O(simulate)); a blocker never fails the task, the caller decides.
  - The engine step moves with the engine the packages that must move with it in the family - Docker's
    C(docker-ce-cli) always, C(docker-ce-rootless-extras) when installed; Debian's C(docker-cli) when installed -
    and a source that offers the engine without one of them is a blocker (id C(apt-source-lacks-package)).
  - Changes nothing on the host but the private state folder; runs the same in check mode.
author:
  - fleetsafe developers (@fleetsafe)
options:
  steps:
    description: The plan's steps, each with C(order), C(action), C(component), C(from) and C(to).
    type: list
    elements: dict
    required: true
  source:
    description: One or more apt source lines added to the host's sources for the lookup (V('') = the host's only).
    type: str
    default: ''
  state:
    description: The private apt state folder (sources and lists).
    type: path
    default: /var/lib/fleetsafe-container-engine/apt
  package_family:
    description: Debian's packages (V(debian) - docker.io, docker-cli, containerd) or Docker's (V(docker-ce)).
    type: str
    choices: [debian, docker-ce]
    default: debian
  extra_packages:
    description: Further packages installed with the engine, name -> exact version (V('') = the newest offered).
    type: dict
    default: {}
  allow_line_skip:
    description: Skip an intermediate containerd line the source lacks instead of reporting a blocker.
    type: bool
    default: false
  simulate:
    description:
      - Ask apt (C(apt-get --simulate), holds aside, the private state) whether it can make each step's
        transaction on this host, step after step (step k with the packages of the steps before it). The first step
        apt cannot make is a blocker (id C(apt-cannot-make-step)) naming the packages in the way - for example
        going down from Debian's docker.io 28.5.2, which pulls C(tini-static), to 26.1.5, which needs C(tini).
      - Only asked when every step resolved; nothing is installed.
    type: bool
    default: true
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Resolves the same way (it only reads the source).
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in diff_mode).
    support: none
seealso:
  - plugin: fleetsafe.container_engine.upgrade_plan
    plugin_type: filter
  - module: fleetsafe.container_engine.engine_backup
"""

EXAMPLES = r"""
- name: Resolve the plan's steps against an internal mirror
  fleetsafe.container_engine.apt_resolve:
    steps: "{{ ansible_facts.container_engine | fleetsafe.container_engine.upgrade_plan({'engine': '26.1.5'}) }}"
    source: "deb [signed-by=/etc/apt/keyrings/mirror.gpg] https://mirror.internal/debian trixie main"
    extra_packages: {runc: ''}
  become: true
  register: resolved
"""

RETURN = r"""
steps:
  description: The steps with C(packages) (name -> version) and C(skip) (and C(skip_reason) when skipped).
  type: list
  elements: dict
  returned: success
  sample:
    - {order: 1, action: upgrade_containerd, component: containerd, from: 1.6.20, to: 1.7.24, skip: false,
       packages: {containerd: 1.7.24~ds1-6+deb13u1}}
blockers:
  description:
    - What the source lacks or apt cannot make, each with C(id), C(message) and C(remedy); a step apt cannot make
      also has C(step) (its order) and C(packages) (the packages in the way).
  type: list
  elements: dict
  returned: success
offered:
  description: Package -> the versions the source offers, newest first.
  type: dict
  returned: success
names:
  description: The package family's names, C(engine), C(cli) and C(containerd).
  type: dict
  returned: always
  sample: {engine: docker.io, cli: docker-cli, containerd: containerd}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _apt as A
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _run as R
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._parse import PACKAGE_FAMILIES, shown

STEP_KEYS = ('order', 'action', 'component', 'to')


def main():
    module = AnsibleModule(
        argument_spec=dict(
            steps=dict(type='list', elements='dict', required=True),
            source=dict(type='str', default=''),
            state=dict(type='path', default='/var/lib/fleetsafe-container-engine/apt'),
            package_family=dict(type='str', default='debian', choices=sorted(PACKAGE_FAMILIES)),
            extra_packages=dict(type='dict', default={}),
            allow_line_skip=dict(type='bool', default=False),
            simulate=dict(type='bool', default=True),
        ),
        supports_check_mode=True,
    )
    p = module.params
    names = PACKAGE_FAMILIES[p['package_family']]
    for step in p['steps']:
        missing = [k for k in STEP_KEYS if k not in step]
        if missing:
            module.fail_json(msg='steps: %s lacks %s: give the upgrade_plan filter\'s steps' % (
                shown(step), ', '.join(missing)), names=names)
    if not p['steps']:
        module.exit_json(changed=False, steps=[], blockers=[], offered={}, names=names)
    try:
        A.setup(p['source'], p['state'])
        installed = A.installed_packages()
        moving = A.moving_with_engine(p['package_family'], installed)
        wanted = [names['containerd'], names['engine'], names['cli']] + moving + sorted(p['extra_packages'])
        offered = A.madison(p['state'], list(dict.fromkeys(wanted)))
    except R.OpError as exc:
        module.fail_json(msg='apt_resolve: %s' % exc, names=names)
    steps, blockers = A.resolve_steps(p['steps'], names, offered, extra=dict(
        (k, '' if v is None else str(v)) for k, v in p['extra_packages'].items()), allow_skip=p['allow_line_skip'],
        required=moving)
    if p['simulate'] and not blockers:
        blockers = A.simulate_steps(p['state'], steps, installed)
    module.exit_json(changed=False, steps=steps, blockers=blockers, offered=offered, names=names)


if __name__ == '__main__':
    main()
