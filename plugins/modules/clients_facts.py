#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: clients_facts
short_description: Facts about the Docker Engine API clients on a host
version_added: 0.1.0
description:
  - Lists the containers that mount a Docker socket (the usual way agents such as CapRover, Portainer or Traefik
    talk to the engine), with their image and the E(DOCKER_API_VERSION) they pin, and returns the clients declared
    with O(declared). Raw facts only; the collection's filters judge them.
  - Returns C(ansible_facts.container_engine.clients).
author:
  - fleetsafe developers (@fleetsafe)
extends_documentation_fragment:
  - fleetsafe.container_engine.facts
  - fleetsafe.container_engine.facts.declared
"""

EXAMPLES = r"""
- name: Gather API clients, with one declared from the inventory
  fleetsafe.container_engine.clients_facts:
    declared:
      - name: ecs-agent
        api_version: "1.21"
  become: true
"""

RETURN = r"""
# Generated from docs/facts.yml (the facts contract) by tests/unit/modules/facts_contract.py --write;
# edit that file, not this block.
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
        clients:
          description:
            - Engine API clients - containers that mount a Docker socket, and clients declared with O(declared). Raw
              facts only.
          returned: always
          type: dict
          contains:
            socket_mounts:
              description:
                - Containers (any state) that bind-mount a Docker socket (a file named C(docker.sock) or
                  O(docker_host)).
              returned: always
              type: list
              elements: dict
              contains:
                name:
                  description: Container name.
                  returned: always
                  type: str
                  sample: captain
                id:
                  description: Short container ID.
                  returned: always
                  type: str
                  sample: 0123456789ab
                image:
                  description: The image as the container was created with it.
                  returned: always
                  type: str
                  sample: caprover/caprover:1.12.0
                image_name:
                  description: Repository part of C(image), V(null) for an image ID.
                  returned: always
                  type: str
                  sample: caprover/caprover
                image_tag:
                  description: Tag part of C(image), V(null) when none.
                  returned: always
                  type: str
                  sample: 1.12.0
                state:
                  description: Container state (V(running), V(exited), ...).
                  returned: always
                  type: str
                  sample: running
                socket_path:
                  description: The socket mounted (source on the host).
                  returned: always
                  type: str
                  sample: /var/run/docker.sock
                mount_destination:
                  description: Where the socket appears inside the container.
                  returned: always
                  type: str
                  sample: /var/run/docker.sock
                api_version_env:
                  description: E(DOCKER_API_VERSION) in the container's environment, else V(null).
                  returned: always
                  type: str
                  sample: '1.23'
                docker_host_env:
                  description: E(DOCKER_HOST) in the container's environment, else V(null).
                  returned: always
                  type: str
                labels:
                  description: The container's labels.
                  returned: always
                  type: dict
            declared:
              description:
                - The O(declared) clients, each with C(name), C(api_version), C(image), C(image_name), C(image_tag)
                  (V(null) when not given), and C(program) and C(version) for a declared program or library.
              returned: always
              type: list
              elements: dict
              sample:
                - name: ecs-agent
                  api_version: '1.21'
                  image: null
                  image_name: null
                  image_tag: null
            error:
              description: One sentence naming the problem and its fix, or V(null).
              returned: always
              type: str
"""

from ansible_collections.fleetsafe.container_engine.plugins.module_utils._common import (  # noqa: E402
    DECLARED_ARGUMENT_SPEC,
    run_facts_module,
)


def main():
    run_facts_module(['clients'], extra_spec=DECLARED_ARGUMENT_SPEC)


if __name__ == '__main__':
    main()
