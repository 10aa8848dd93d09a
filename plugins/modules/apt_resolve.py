#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: apt_resolve
short_description: Ask an apt source what it offers for an upgrade plan, and whether apt can make each step
version_added: 0.2.0
description:
  - Reads which versions of the engine, its client, containerd and further packages an apt source offers, with a
    private apt state (the host's sources copied beside O(source) in O(state), lists kept apart from the host's),
    so the host's own apt configuration is never edited.
  - Asks apt (O(simulate)) whether it can make the transaction of each install step of O(steps), with the package
    versions the plan takes from that offer.
  - Judges nothing itself. Its C(apt) result is the C(apt) key of the C(preflight) argument of the
    P(fleetsafe.container_engine.upgrade_plan#filter) and P(fleetsafe.container_engine.compat_findings#filter)
    filters, which put each step's package versions on the plan and report what the source lacks
    (C(apt_source_lacks_*)) or what apt cannot make (C(apt_cannot_make_step)) as findings (docs/findings.md).
  - Changes nothing on the host but the private state folder; runs the same in check mode.
author:
  - fleetsafe developers (@fleetsafe)
options:
  steps:
    description: The plan's steps (the P(fleetsafe.container_engine.upgrade_plan#filter) filter's output), each
      with C(order), C(action), C(component) and C(to).
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
  simulate:
    description:
      - Ask apt (C(apt-get --simulate), holds aside, the private state) whether it can make each install step's
        transaction on this host, step after step (step k with the packages of the steps before it). The first
        step apt cannot make is returned in C(apt.cannot_make) with the packages in the way - for example going
        down from Debian's docker.io 28.5.2, which pulls C(tini-static), to 26.1.5, which needs C(tini).
      - Only asked when the source offers every package the steps install; nothing is installed.
    type: bool
    default: true
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Asks the same way (it only reads the source and simulates).
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in diff_mode).
    support: none
seealso:
  - plugin: fleetsafe.container_engine.upgrade_plan
    plugin_type: filter
  - plugin: fleetsafe.container_engine.compat_findings
    plugin_type: filter
  - module: fleetsafe.container_engine.engine_backup
"""

EXAMPLES = r"""
- name: Ask an internal mirror about the plan's steps
  fleetsafe.container_engine.apt_resolve:
    steps: "{{ ansible_facts.container_engine | fleetsafe.container_engine.upgrade_plan({'engine': '26.1.5'}) }}"
    source: "deb [signed-by=/etc/apt/keyrings/mirror.gpg] https://mirror.internal/debian trixie main"
    extra_packages: {runc: ''}
  become: true
  register: asked

- name: The plan with package versions, and the blockers it leaves
  ansible.builtin.set_fact:
    plan: "{{ ansible_facts.container_engine | fleetsafe.container_engine.upgrade_plan({'engine': '26.1.5'},
              preflight={'apt': asked.apt}) }}"
    blockers: "{{ ansible_facts.container_engine | fleetsafe.container_engine.compat_findings({'engine': '26.1.5'},
                  preflight={'apt': asked.apt}) | selectattr('severity', 'equalto', 'blocker') | list }}"
"""

RETURN = r"""
apt:
  description:
    - What the source offers and what apt answered, as the filters' C(preflight.apt) argument takes it.
    - C(source) is O(source); C(packages) the package family's names (C(engine), C(cli), C(containerd));
      C(offered) package -> the versions the source offers, newest first; C(extra) is O(extra_packages).
    - C(moving) the packages that move in the engine's step with the engine on this host - Docker's
      C(docker-ce-cli) always, C(docker-ce-rootless-extras) when installed; Debian's C(docker-cli) when installed -
      a source that offers the engine without one of them on the target line is finding
      C(apt_source_lacks_family_package), never half a family installed.
    - C(switch), only when O(steps) has a C(switch_family) step (a host moving from one package family to the
      other), has C(from) and C(to) (the families), C(packages) (the new family's packages and versions the switch
      installs), C(remove) (the old family's installed packages it removes, never purged), C(lacking) (the
      [package, release] pairs the source lacks) and C(plan) (apt's own answer to that transaction, C(apt-get
      --simulate) against the source, one line per package, such as V(docker-ce (new\) 5:26.1.5-1~debian.12~bookworm)
      or V(docker.io 26.1.5+dfsg1-9+deb13u1+b1 removed)).
    - C(cannot_make) is null when apt can make every step (or was not asked), else the first step it cannot make -
      C(action), C(component), C(from), C(to), C(moves) (the package moves asked), C(problems) (apt's lines naming
      what is in the way), C(in_the_way) (those packages) and C(output) (the end of apt's output).
  type: dict
  returned: always
  sample:
    source: deb [trusted=yes] file:/srv/repo ./
    packages: {engine: docker.io, cli: docker-cli, containerd: containerd}
    offered:
      containerd: [2.1.9+ds1-5, 1.7.24~ds1-6+deb13u1]
      docker.io: [28.5.2+dfsg4-5, 26.1.5+dfsg1-9+deb13u1+b1]
      docker-cli: [28.5.2+dfsg4-5, 26.1.5+dfsg1-9+deb13u1+b1]
    extra: {}
    moving: [docker-cli]
    cannot_make:
      action: upgrade_engine
      component: engine
      from: 28.5.2+dfsg4-5
      to: 26.1.5
      moves: [docker-cli=26.1.5+dfsg1-9+deb13u1+b1, docker.io=26.1.5+dfsg1-9+deb13u1+b1]
      problems: ["tini-static: Breaks: tini (< 0.19.0-5) but 0.19.0-1+b3 is to be installed"]
      in_the_way: [tini-static, tini]
      output: "E: Unable to correct problems, you have held broken packages."
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _apt as A
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _run as R
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._parse import (
    PACKAGE_FAMILIES,
    moving_with_engine,
    shown,
)

STEP_KEYS = ('order', 'action', 'component', 'to')


def main():
    module = AnsibleModule(
        argument_spec=dict(
            steps=dict(type='list', elements='dict', required=True),
            source=dict(type='str', default=''),
            state=dict(type='path', default='/var/lib/fleetsafe-container-engine/apt'),
            package_family=dict(type='str', default='debian', choices=sorted(PACKAGE_FAMILIES)),
            extra_packages=dict(type='dict', default={}),
            simulate=dict(type='bool', default=True),
        ),
        supports_check_mode=True,
    )
    p = module.params
    names = PACKAGE_FAMILIES[p['package_family']]
    extra = dict((k, '' if v is None else str(v)) for k, v in p['extra_packages'].items())
    apt = {'source': p['source'], 'packages': names, 'offered': {}, 'extra': extra, 'moving': [],
           'cannot_make': None}
    for step in p['steps']:
        missing = [k for k in STEP_KEYS if k not in step]
        if missing:
            module.fail_json(msg='steps: %s lacks %s: give the upgrade_plan filter\'s steps' % (
                shown(step), ', '.join(missing)), apt=apt)
    if not p['steps']:
        module.exit_json(changed=False, apt=apt)
    switch_step = next((s for s in p['steps'] if s['action'] == 'switch_family'), None)
    if switch_step is not None:
        bad = [k for k in ('from', 'engine', 'containerd') if not switch_step.get(k)]
        if bad or switch_step['to'] != p['package_family'] or switch_step['from'] not in PACKAGE_FAMILIES:
            module.fail_json(msg='steps: the switch_family step %s does not switch from a package family to '
                                 'package_family=%s at the engine and containerd releases' % (
                                     shown(switch_step), p['package_family']), apt=apt)
    try:
        A.setup(p['source'], p['state'])
        installed = A.installed_packages()
        apt['moving'] = moving_with_engine(p['package_family'], installed)
        apt['offered'] = A.madison(p['state'], list(dict.fromkeys(
            [names['containerd'], names['engine'], names['cli']] + apt['moving'] + sorted(extra)
            + ([names['rootless']] if switch_step is not None else []))))
        if switch_step is not None:
            apt['switch'] = A.family_switch(switch_step, apt['offered'], installed, extra)
        steps = A.install_steps(p['steps'], names, apt['offered'], extra, apt['moving'],
                                apt.get('switch')) if p['simulate'] else None
        if steps:
            plans = {}
            apt['cannot_make'] = A.simulate_steps(p['state'], steps, installed, plans=plans)
            if switch_step is not None and apt['cannot_make'] is None:
                apt['switch']['plan'] = plans.get(switch_step['order'], [])
    except R.OpError as exc:
        module.fail_json(msg='apt_resolve: %s' % exc, apt=apt)
    module.exit_json(changed=False, apt=apt)


if __name__ == '__main__':
    main()
