# Copyright: fleetsafe developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._filters import named_filter
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._compat_findings import (
    compat_findings as _compat_findings,
)

DOCUMENTATION = r'''
name: compat_findings
short_description: Predict what an engine, containerd or client change would break on a host
version_added: 0.1.0
author: fleetsafe developers
description:
  - Compares a host's container engine facts with a target (engine, containerd and client versions)
    using the collection's sourced knowledge base, and returns one finding per problem.
  - Findings cover API clients the target engine would reject (too new, too old, and whether a
    minimum-API override could help), minimum-API overrides the target dockerd would refuse to start
    with, a containerd daemon older than its installed shim, skipped containerd minors, a running
    engine older than its package, releases known to break this host's configuration (rootless port
    driver), storage drivers the target removed, live-restore not covering a minor or major upgrade,
    and image tags the change needs that their registry does not have (docs/incidents.md#unpublished-image-tag).
  - Every finding is declared once in the collection's findings registry; docs/findings.md lists each id
    with its severity, the knowledge-base rows it relies on (as C(SECTION:KEY)), its check and its tests.
  - With an empty target the host's current state is checked.
  - A gate never passes on malformed input. Sections of the facts that were not gathered (absent or null)
    are skipped, but facts with no section at all (unless the target only lists images), a dict of another
    shape (a whole C(hostvars[host])), a misspelt section (C(dockr)) whether the facts are wrapped in
    C(ansible_facts) or not, a null or unset target, keys missing inside a gathered section, a target key set to null,
    versions with anything but a packaging suffix after the release (C(26.1.5garbage)), image tags longer
    than the 128 characters registries allow, target clients the facts do not show, and engine or containerd
    lines the knowledge base does not know are errors whose message starts with C(compat_findings) and shows
    the bad value as written.
  - Any other failure is a bug in the collection; it says so ("internal error ... please report it") and is
    never presented as bad input.
options:
  _input:
    description:
      - C(ansible_facts.container_engine) as the fleetsafe.container_engine facts modules return it
        (the whole C(ansible_facts) is accepted too; C(hostvars[host]) is not). See docs/facts.md.
      - Its keys are the sections C(docker), C(containerd), C(rootless) and C(clients); any other key is an error.
    type: dict
    required: true
  target:
    description:
      - What the host should run after the change. Every key may be left out (that part does not change);
        a key that is present must hold a value (C(engine=null) is an error).
      - Leave the argument out, or pass C({}), to judge the host as it is. A target that is null, an empty string or
        an unset variable (C(upgrade_target | default(none))) is an error, never "no change".
      - C(engine) is an Engine version (V(26.1.5)) or line (V(26.1)); C(containerd) a containerd version;
        C(clients) maps a client name (as in the clients facts) to the version it will run.
      - C(images) lists images the change needs, each C({image, tag, available, allow_fallback}) with
        C(available) the tags M(fleetsafe.container_engine.registry_tag_info) listed; a missing tag is a
        warning when an older tag of the same form can stand in (C(allow_fallback), default true), else a blocker.
    type: dict
    default: {}
  knowledge:
    description:
      - Extra or changed knowledge-base rows, in the shape of the files under data/knowledge_base
        (sections C(engines), C(containerd), C(known_bad), C(storage_drivers), C(clients), C(upgrade_rules)).
      - A row whose key (C(line), C(id) or C(driver)) matches a built-in row updates its fields; other rows are
        added and must be complete, including C(source).
      - C(enabled=false) switches a row off (the one way, in the data files and from inventory). An
        C(upgrade_rules) row that a finding relies on cannot be switched off; switch the finding off with
        O(findings) instead.
    type: dict
    default: {}
  findings:
    description:
      - "Operator switches by finding id (docs/findings.md lists the ids): a dict C(ID: {enabled, severity})."
      - C(enabled=false) drops every finding with that id; C(severity) (V(blocker), V(warning), V(info)) replaces
        its severity (for V(known_bad_release), every known-bad row's own severity).
      - An id the collection does not know is an error, so a typo never silences anything.
    type: dict
    default: {}
  preflight:
    description:
      - What only the host can tell before the change, beyond its facts (the upgrade role asks and passes it).
        Without it the findings below are not judged.
      - C(apt) is what the apt source offers, C({source, packages, offered, extra, cannot_make}) - C(packages) names
        the package family's packages (C(engine), C(containerd), optionally C(cli) and C(rootless)), C(offered) maps
        a package to the versions the source offers, newest first (as C(apt-cache madison) lists them), C(extra) maps
        further packages the
        engine step installs to a version (V('') is the newest offered), C(source) is the source line (for
        messages), C(cannot_make) is null or the first step C(apt-get --simulate) refused (C(action), C(component),
        C(from), C(to), C(moves), C(problems), C(in_the_way), C(output)). It is the C(apt) result of
        M(fleetsafe.container_engine.apt_resolve). Findings C(apt_source_lacks_containerd_line),
        C(apt_source_lacks_containerd), C(apt_source_lacks_engine), C(apt_source_lacks_package),
        C(apt_cannot_make_step).
      - C(smoke_image) is C({image, present}), whether the image of the smoke container the change's verification
        runs is on the host. Finding C(smoke_image_missing).
    type: dict
    default: {}
  plan:
    description:
      - The steps of P(fleetsafe.container_engine.upgrade_plan#filter) that will run (same arguments). Findings a
        step names in its C(resolves) on its component are left out, so what is returned is what the plan leaves.
    type: list
    elements: dict
'''

EXAMPLES = r'''
- name: Stop before an engine upgrade that would break something
  vars:
    findings: >-
      {{ ansible_facts.container_engine | fleetsafe.container_engine.compat_findings({'engine': '26.1.5'}) }}
  ansible.builtin.assert:
    that: findings | selectattr('severity', 'equalto', 'blocker') | list | length == 0
    fail_msg: "{{ findings | selectattr('severity', 'equalto', 'blocker') | map(attribute='message') | list }}"

- name: Our own agent and a release we know is bad for us
  ansible.builtin.debug:
    msg: >-
      {{ ansible_facts.container_engine | fleetsafe.container_engine.compat_findings(
           {'engine': '28.0.0'},
           knowledge={'clients': [{'id': 'acme-agent', 'name': 'acme-agent', 'images': ['acme/agent'],
                                   'versions': '<3.0.0', 'api_version': '1.25', 'negotiates': false,
                                   'source': 'ACME ticket OPS-1234'}]}) }}

- name: Our fleet declares every client and treats a stale dockerd as a blocker
  ansible.builtin.debug:
    msg: >-
      {{ ansible_facts.container_engine | fleetsafe.container_engine.compat_findings(
           {'engine': '28.5.2'},
           findings={'client_api_unknown': {'enabled': false}, 'engine_stale': {'severity': 'blocker'}}) }}
'''

RETURN = r'''
_value:
  description:
    - The findings, blockers first, then warnings, then information.
  type: list
  elements: dict
  contains:
    id:
      description: What kind of finding (V(client_api_too_new), V(client_api_too_old), V(min_api_override_invalid),
        V(containerd_shim_protocol_mismatch), V(engine_stale), V(known_bad_release), ...); docs/findings.md lists
        every id.
      type: str
    severity:
      description: V(blocker) (the change breaks something), V(warning) or V(info).
      type: str
    component:
      description: V(engine), V(containerd), V(runc), V(client:NAME), V(rootless:USER) or V(image).
      type: str
    message:
      description: What would break and why, quoting the daemon's own error where there is one.
      type: str
    remedy:
      description: What to do about it.
      type: str
    source:
      description: Where the knowledge comes from (upstream file at a tag, issue, release note, lab).
      type: str
'''


compat_findings = named_filter('compat_findings', _compat_findings)


class FilterModule:
    def filters(self):
        return {'compat_findings': compat_findings}
