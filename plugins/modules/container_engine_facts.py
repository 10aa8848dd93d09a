#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: container_engine_facts
short_description: All container engine facts of a host in one call
version_added: 0.1.0
description:
  - Gathers the facts of M(fleetsafe.container_engine.docker_facts), M(fleetsafe.container_engine.containerd_facts),
    M(fleetsafe.container_engine.rootless_facts) and M(fleetsafe.container_engine.clients_facts) in one module run
    (one connection, one package query, one process scan), for ad-hoc use and for playbooks that want them all.
  - Returns C(ansible_facts.container_engine) with the parts chosen by O(gather).
author:
  - fleetsafe developers (@fleetsafe)
extends_documentation_fragment:
  - fleetsafe.container_engine.facts
  - fleetsafe.container_engine.facts.containerd
  - fleetsafe.container_engine.facts.declared
options:
  gather:
    description:
      - Which parts to gather. V(all) means every part.
    type: list
    elements: str
    choices: [all, docker, containerd, rootless, clients]
    default: [all]
"""

EXAMPLES = r"""
- name: Gather everything
  fleetsafe.container_engine.container_engine_facts:
  become: true

- name: Only the engine and containerd
  fleetsafe.container_engine.container_engine_facts:
    gather: [docker, containerd]
  become: true

# Ad hoc: ansible all -b -m fleetsafe.container_engine.container_engine_facts
"""

RETURN = r"""
# Generated from docs/facts.yml (the facts contract) by tests/unit/modules/facts_contract.py --write;
# edit that file, not this block.
can_talk_to_docker:
  description:
    - Whether the Docker daemon answered on O(docker_host) (same as
      C(ansible_facts.container_engine.docker.can_talk_to_docker)).
  returned: when O(gather) includes V(docker) or V(all), both on success and on error
  type: bool
  sample: true
ansible_facts:
  description: Facts to add to the host.
  returned: always
  type: dict
  contains:
    container_engine:
      description: The container engine facts (C(docs/facts.md) of the collection is their contract).
      returned: always
      type: dict
      contains:
        docker:
          description:
            - The Docker Engine (rootful daemon on O(docker_host)), from its unversioned C(/version) and C(/info), the
              host's packages, the running C(dockerd) process, its C(daemon.json) and systemd units.
            - The same dict as M(fleetsafe.container_engine.docker_facts) returns; its RETURN documentation lists
              every key.
          returned: when gathered (O(gather))
          type: dict
        containerd:
          description:
            - The system containerd - installed binary, running daemon, shim binaries and their versions, as observed.
            - Which shim bootstrap protocol each version speaks is not a fact but a judgement - the knowledge base's
              C(data/knowledge_base/containerd.yml) holds it and C(compat_findings) applies it to these versions.
            - The same dict as M(fleetsafe.container_engine.containerd_facts) returns; its RETURN documentation lists
              every key.
          returned: when gathered (O(gather))
          type: dict
        rootless:
          description:
            - Every rootless Docker daemon on the host (a C(dockerd) whose uid is not 0 or that runs under
              rootlesskit).
            - The same dict as M(fleetsafe.container_engine.rootless_facts) returns; its RETURN documentation lists
              every key.
          returned: when gathered (O(gather))
          type: dict
        clients:
          description:
            - Engine API clients - containers that mount a Docker socket, programs and services on the host that use
              one, and clients declared with O(declared). Raw facts only.
            - The same dict as M(fleetsafe.container_engine.clients_facts) returns; its RETURN documentation lists
              every key.
          returned: when gathered (O(gather))
          type: dict
"""

from ansible_collections.fleetsafe.container_engine.plugins.module_utils._common import (  # noqa: E402
    CONTAINERD_ARGUMENT_SPEC,
    DECLARED_ARGUMENT_SPEC,
    PARTS,
    run_facts_module,
)

SPEC = dict(
    gather=dict(type='list', elements='str', default=['all'],
                choices=['all'] + list(PARTS)),
)
SPEC.update(CONTAINERD_ARGUMENT_SPEC)
SPEC.update(DECLARED_ARGUMENT_SPEC)


def main():
    run_facts_module(list(PARTS), extra_spec=SPEC, part_option='gather')


if __name__ == '__main__':
    main()
