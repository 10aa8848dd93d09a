# Copyright: fleetsafe developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._filters import named_filter
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._plan import upgrade_plan as _upgrade_plan

DOCUMENTATION = r'''
name: upgrade_plan
short_description: Order the steps that take a host to a target engine, containerd and client versions
version_added: 0.1.0
author: fleetsafe developers
description:
  - Returns the ordered steps to reach the target without breaking API clients or containers.
  - Order is clients the target engine would reject (when a release of the client works with both
    engines), then minimum-API overrides the target dockerd would refuse to start with, then containerd
    (one upgrade and restart per minor line, never skipping a minor), then the engine and its rootless
    daemons, then clients that only work with the new engine, then C(verify).
  - A containerd daemon older than its package, or a dockerd older than its package, gets a restart step
    even without a target; so does a rootless daemon (V(restart_rootless_engine)) that runs another release than
    the installed engine package.
  - The plan does not decide whether the change is safe; run P(fleetsafe.container_engine.compat_findings#filter)
    with the same arguments and stop on blockers no step resolves (known-bad release, removed storage driver).
  - An empty list means nothing needs doing.
  - The plan asks the same questions as the findings (one shared judgement for "containerd needs a restart",
    "dockerd is stale", "this client must move", "this override stops dockerd"), so the two never disagree.
  - Bad input fails as for compat_findings (docs/findings.md "What the filters accept").
options:
  _input:
    description: C(ansible_facts.container_engine) (see docs/facts.md).
    type: dict
    required: true
  target:
    description: Same as for compat_findings (C(engine), C(containerd), C(clients); C(images) is checked but adds no
      step). Leave it out or pass C({}) to plan for the host as it is; null or an unset variable is an error.
    type: dict
    default: {}
  knowledge:
    description: Same as for compat_findings.
    type: dict
    default: {}
'''

EXAMPLES = r'''
- name: Show the plan
  ansible.builtin.debug:
    msg: "{{ ansible_facts.container_engine | fleetsafe.container_engine.upgrade_plan({'engine': '28.5.2',
             'containerd': '2.1.9', 'clients': {'ecs-agent': '1.81.0'}}) }}"
'''

RETURN = r'''
_value:
  description: The steps in the order they must run; empty when nothing needs doing.
  type: list
  elements: dict
  contains:
    order:
      description: Position of the step, from 1.
      type: int
    action:
      description: V(upgrade_client), V(remove_min_api_override), V(edit_daemon_config) (from is the daemon.json
        setting as written, to its replacement or null to remove it), V(upgrade_containerd), V(restart_containerd),
        V(upgrade_engine), V(restart_engine), V(restart_rootless_engine) or V(verify).
      type: str
    component:
      description: V(engine), V(containerd), V(client:NAME), V(rootless:USER) or V(host).
      type: str
    from:
      description: Version (or override value) before the step, null when not known or not relevant.
      type: str
    to:
      description: Version after the step; a line such as V(2.0) for an intermediate containerd hop.
      type: str
    reason:
      description: Why the step is there and why at this position.
      type: str
    where:
      description: For V(edit_daemon_config) only - where the setting is written (V(daemon_json), V(log_opt),
        V(storage_opt), V(log_driver), ...).
      type: str
      returned: for edit_daemon_config steps
    setting:
      description: For V(edit_daemon_config) only - the key or option name, for example V(graph).
      type: str
      returned: for edit_daemon_config steps
    edit:
      description: For V(edit_daemon_config) only - V(rename) (to C(to), same value), V(remove) (the knowledge
        base marks the setting C(removable)), or null when only an operator can decide (the finding stays a
        blocker). P(fleetsafe.container_engine.daemon_config_edit#module) does the edit.
      type: str
      returned: for edit_daemon_config steps
    resolves:
      description: For V(edit_daemon_config) only - the messages of the C(daemon_option_refused) findings of
        P(fleetsafe.container_engine.compat_findings#filter) that this step's edit removes (the upgrade role's
        preflight does not count them as blockers); V([]) when C(edit) is null.
      type: list
      elements: str
      returned: for edit_daemon_config steps
'''


upgrade_plan = named_filter('upgrade_plan', _upgrade_plan)


class FilterModule:
    def filters(self):
        return {'upgrade_plan': upgrade_plan}
