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
    engines), then daemon.json settings the target dockerd would refuse to start with, then containerd
    (one upgrade per minor line, never skipping a minor the apt source serves; containerd restarts within each),
    then the engine and its rootless daemons, then clients that only work with the new engine.
  - The plan lists only steps that change the host. What only an operator can do (remove a minimum-API override
    a client needed, move a program no step can move) is a blocker of
    P(fleetsafe.container_engine.compat_findings#filter) with its remedy, not a step.
  - Each step names in C(resolves) the ids of the findings it removes on its component;
    P(fleetsafe.container_engine.compat_findings#filter) with the plan as its O(compat_findings#filter:plan) argument
    leaves them out.
  - A containerd daemon older than its package, or a dockerd older than its package, gets a restart step
    even without a target; so does a rootless daemon (V(restart_rootless_engine)) that runs another release than
    the installed engine package.
  - The plan does not decide whether the change is safe; run P(fleetsafe.container_engine.compat_findings#filter)
    with the same arguments and stop on blockers no step resolves (known-bad release, removed storage driver).
  - With C(package_family) and C(package_family_switch=true) in the target, a host that runs the other package family
    gets one V(switch_family) step instead of the containerd and engine steps (from and to are the families; it keeps
    the releases, and a target that moves one is the blocker C(package_family_switch_moves_release)).
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
  preflight:
    description:
      - Same as for compat_findings. With C(apt), V(upgrade_containerd) and V(upgrade_engine) steps carry the
        package versions to install (C(packages)), and a containerd line the source does not serve is left out of
        the path (finding C(apt_source_lacks_containerd_line)).
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
      description: V(upgrade_client), V(edit_daemon_config) (from is the daemon.json setting as written, to its
        replacement or null to remove it), V(upgrade_containerd) (installs and restarts containerd),
        V(restart_containerd) (a daemon older than its package), V(upgrade_engine), V(restart_engine),
        V(restart_rootless_engine) or V(switch_family) (from one package family to the other, one apt transaction).
      type: str
    component:
      description: V(engine), V(containerd), V(client:NAME) or V(rootless:USER).
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
      description:
        - The ids of the findings of P(fleetsafe.container_engine.compat_findings#filter) on the step's component
          that the step removes (V(client_api_too_old) for a client it moves, V(containerd_shim_protocol_mismatch)
          for a restart, V(engine_stale), ...); an V(edit_daemon_config) step resolves the C(daemon_option_refused)
          finding of its own setting, and nothing when C(edit) is null.
        - compat_findings with the steps that will run as its C(plan) argument leaves these findings out.
      type: list
      elements: str
    packages:
      description: For V(upgrade_containerd), V(upgrade_engine) and V(switch_family) with C(preflight.apt) - package
        name to the version to install, as the apt source offers it; a package the source lacks is missing (its
        C(apt_source_lacks_*) finding is a blocker).
      type: dict
      returned: for upgrade_containerd, upgrade_engine and switch_family steps when preflight.apt is given
    engine:
      description: For V(switch_family) only - the engine release the switch installs (the host's).
      type: str
      returned: for switch_family steps
    containerd:
      description: For V(switch_family) only - the containerd release the switch installs (the host's).
      type: str
      returned: for switch_family steps
    remove:
      description: For V(switch_family) with C(preflight.apt.switch) - the old family's installed packages the switch
        removes (never purged).
      type: list
      elements: str
      returned: for switch_family steps when preflight.apt is given
    apt_plan:
      description: For V(switch_family) with C(preflight.apt.switch) - apt's own plan of the switch's transaction, one
        line per package (V(docker.io 26.1.5+dfsg1-9+deb13u1+b1 removed), or
        V(docker-ce (new\) 5:26.1.5-1~debian.12~bookworm)).
      type: list
      elements: str
      returned: for switch_family steps when preflight.apt is given
'''


upgrade_plan = named_filter('upgrade_plan', _upgrade_plan)


class FilterModule:
    def filters(self):
        return {'upgrade_plan': upgrade_plan}
