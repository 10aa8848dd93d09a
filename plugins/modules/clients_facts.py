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
  - Also lists the programs on the host itself connected to a Docker socket (the docker CLI, a Python program
    using docker-py, gitlab-runner, ...) with their executable, systemd unit and release, and the systemd services
    whose unit points a program at the socket (see O(host_processes)).
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
            - Engine API clients - containers that mount a Docker socket, programs and services on the host that use
              one, and clients declared with O(declared). Raw facts only.
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
                version_learned:
                  description:
                    - When C(image_tag) names no release (V(latest), no tag, a digest, a partial release such as V(3)
                      or V(3.6)), the release the host tells it runs, else V(null). Read, in this order, from the
                      image's labels as the container carries them - C(org.opencontainers.image.version), then
                      C(org.label-schema.version) (not C(version), which base images such as Red Hat's set to their
                      own release) - and, only when O(registries) names the image's registry, from the registry - the
                      tag whose manifest digest is one of the image's C(RepoDigests). A value that is not a release of
                      three parts, or that a partial tag cannot stand for (tag V(3), label V(2.11.5)), is not used.
                    - E(DOCKER_API_VERSION) in the container's environment (C(api_version_env)) tells the API version
                      without a release; the filters use it before any release.
                    - The filters judge a client on a floating tag whose release is still unknown across every release
                      the knowledge base holds for its image (docs/findings.md).
                  returned: always
                  type: dict
                  contains:
                    version:
                      description: The release, as the label or tag writes it.
                      returned: always
                      type: str
                      sample: 1.12.0
                    source:
                      description:
                        - Where it was read - V(label:<label name>), or V(registry:<registry>/<repository>:<tag>) (the
                          tag whose manifest has the image's digest).
                      returned: always
                      type: str
                      sample: label:org.opencontainers.image.version
                managed_by:
                  description:
                    - What owns the container and recreates it from its own definition - V(compose) (a service of a
                      Docker Compose project, from its C(com.docker.compose.*) labels), V(swarm) (a task of a swarm
                      service, from its C(com.docker.swarm.*) labels), or V(null) (nothing does - C(docker run), or a
                      tool that leaves no label).
                    - A client that something else manages is moved through that manager, or the move would last only
                      until it next recreates the container (docs/managed_clients.md).
                  returned: always
                  type: str
                  sample: compose
                manager:
                  description:
                    - What C(managed_by) says about the container, V(null) when C(managed_by) is V(null).
                    - For V(compose) - C(project), C(service), C(working_dir), C(config_files) (the files the project
                      was brought up with, as its labels name them on this host), C(compose_version), and, read from
                      those files on this host, C(image_file) (the file whose C(image:) line sets the service's image;
                      the last one that does), C(image_in_file) (the image as written there) and C(problem) (why the
                      service's image cannot be changed in its files here - a file missing or unreadable, the service
                      or its C(image:) line not found, the image set through a variable - else V(null)).
                    - For V(swarm) - C(service_name), C(service_id), C(task_name), C(stack) (the C(docker stack) it
                      was deployed with, else V(null)).
                  returned: always
                  type: dict
                  sample:
                    project: monitoring
                    service: agent
                    working_dir: /srv/monitoring
                    config_files:
                      - /srv/monitoring/compose.yaml
                    compose_version: 2.26.1
                    image_file: /srv/monitoring/compose.yaml
                    image_in_file: fleetsafe-lab/agent:1.0.0
                    problem: null
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
            host_processes:
              description:
                - Programs on the host itself (not in containers; processes of other PID namespaces are left out)
                  connected to the engine's socket right now - O(docker_host), C(/var/run/docker.sock) and each
                  rootless daemon's socket - found through the kernel's socket diagnostics (sock_diag, what C(ss -xp)
                  shows) and C(/proc/PID/fd). The facts module's own connection is left out.
                - V(null) when O(host_processes=false).
              returned: always
              type: list
              elements: dict
              contains:
                name:
                  description:
                    - How the findings name the client - its systemd service (V(ci-events.service)) when it is the
                      only client process in it, else the executable's name and pid (V(docker[4242])).
                  returned: always
                  type: str
                  sample: ci-events.service
                pid:
                  description: Process ID.
                  returned: always
                  type: int
                  sample: 4242
                exe:
                  description: The executable (C(/proc/PID/exe)), with V( (deleted)) when it was replaced on disk
                    since.
                  returned: always
                  type: str
                  sample: /usr/bin/docker
                exe_deleted:
                  description: Whether the executable was replaced or removed on disk since the process started.
                  returned: always
                  type: bool
                cmdline:
                  description: The command line.
                  returned: always
                  type: list
                  elements: str
                  sample:
                    - docker
                    - events
                uid:
                  description: The real user ID it runs as.
                  returned: always
                  type: int
                  sample: 0
                user:
                  description: That user's name, V(null) when it has none.
                  returned: always
                  type: str
                  sample: root
                systemd_unit:
                  description:
                    - The innermost systemd service or scope it runs in (from C(/proc/PID/cgroup)), V(null) when none.
                  returned: always
                  type: str
                  sample: ci-events.service
                systemd_scope:
                  description: V(system) or V(user) (a unit of a user's systemd manager), V(null) without a unit.
                  returned: always
                  type: str
                  sample: system
                socket_path:
                  description: The Docker socket it is connected to.
                  returned: always
                  type: str
                  sample: /run/docker.sock
                program:
                  description:
                    - The knowledge base's name for it - V(docker) (the CLI, by its executable), V(docker-compose)
                      (compose v1), V(gitlab-runner), V(docker-py) (a Python interpreter that would import the PyPI
                      package C(docker)) - or V(null) for a program it cannot name.
                  returned: always
                  type: str
                  sample: docker
                version:
                  description: The release it runs, V(null) when it could not be read.
                  returned: always
                  type: str
                  sample: 28.5.2
                version_source:
                  description:
                    - Where C(version) was read - V(package docker-cli) (the package that owns the executable, from
                      dpkg), a Python package's C(*.dist-info) folder (the first on the process's import path), or the
                      docker CLI's C(--version) when no package owns it; V(null) with no version.
                  returned: always
                  type: str
                  sample: package docker-cli
                api_version_env:
                  description:
                    - The API version the program is pinned to by its environment - E(DOCKER_API_VERSION) (the docker
                      CLI, Compose v2, gitlab-runner, and programs the knowledge base does not know),
                      E(COMPOSE_API_VERSION) (docker-compose v1, a Python process); V(null) for docker-py, which reads
                      none, or when unset or unreadable.
                  returned: always
                  type: str
                  sample: '1.24'
                docker_host_env:
                  description: E(DOCKER_HOST) in its environment, else V(null).
                  returned: always
                  type: str
            declared_by_unit:
              description:
                - systemd services that point a program at a Docker engine whether or not it runs now - E(DOCKER_HOST)
                  in C(Environment=) or an C(EnvironmentFile=), or C(-H), C(--host) or a path to C(docker.sock) on
                  C(ExecStart=). Units under C(/etc/systemd/system), C(/run/systemd/system) and
                  C(/usr/local/lib/systemd/system) are read, and drop-ins of any unit; units shipped by packages in
                  C(/usr/lib/systemd/system) only through their drop-ins. V(null) when O(host_processes=false).
              returned: always
              type: list
              elements: dict
              contains:
                unit:
                  description: The service.
                  returned: always
                  type: str
                  sample: ci-events.service
                where:
                  description: The file the setting was read from.
                  returned: always
                  type: str
                  sample: /etc/systemd/system/ci-events.service
                docker_host:
                  description: The engine address as written (V(unix:///run/docker.sock), a path, V(tcp://...)).
                  returned: always
                  type: str
                  sample: unix:///run/docker.sock
                socket_path:
                  description:
                    - The Docker socket on this host it points at, V(null) for a TCP or SSH address (such a unit is
                      listed, not judged against this host's engine).
                  returned: always
                  type: str
                  sample: /run/docker.sock
                api_version_env:
                  description: E(DOCKER_API_VERSION) the unit sets, else V(null).
                  returned: always
                  type: str
                exec_start:
                  description: The C(ExecStart=) in effect, as an argument list, V(null) when none.
                  returned: always
                  type: list
                  elements: str
                connected:
                  description: Whether a process of this unit is among C(host_processes) now.
                  returned: always
                  type: bool
            host_processes_error:
              description:
                - One sentence when the connections could not be listed (a kernel without unix socket diagnostics,
                  C(CONFIG_UNIX_DIAG)), else V(null). C(host_processes) is then empty.
              returned: always
              type: str
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
