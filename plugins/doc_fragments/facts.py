# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment(object):

    # Options and attributes every fleetsafe.container_engine facts module shares.
    DOCUMENTATION = r"""
options:
  docker_host:
    description:
      - The Docker daemon's socket, as C(unix:///PATH) or an absolute path.
      - Only unix sockets are accepted; a C(tcp://) or C(ssh://) address is refused, because these modules never
        open a network connection. Run the module on the Docker host itself.
      - The path must be absolute and at most 107 bytes long (a unix socket path's limit).
      - When no socket is at this path but a C(dockerd) runs, C(error) names where that daemon listens (its C(-H)
        options, C(hosts) of its C(daemon.json), or the C(ListenStream=) of systemd's C(docker.socket)).
      - If not given, the value of the E(DOCKER_HOST) environment variable on the host is used, else
        C(unix:///var/run/docker.sock).
    type: str
    default: unix:///var/run/docker.sock
    aliases: [docker_url]
  timeout:
    description:
      - Seconds to wait for an answer from a daemon before giving up on it.
    type: int
    default: 10
  fail_on_error:
    description:
      - By default a problem (no Docker installed, daemon stopped, socket not readable) is reported in the
        C(error) key of the affected part and the task succeeds, so a survey of a whole fleet never stops at one
        host.
      - Set to V(true) to fail the task instead; the facts gathered so far are still returned.
    type: bool
    default: false
notes:
  - Nothing on the host changes; the module always returns C(changed=false) and fully supports check mode.
  - Facts are returned as C(ansible_facts.container_engine), one key per part (C(docker), C(containerd),
    C(rootless), C(clients)). Ansible itself would replace the whole C(container_engine) fact at each call; this
    collection's action plugins merge instead, so a call sets the parts it gathered and keeps the other parts the
    host already has (M(fleetsafe.container_engine.docker_facts) then M(fleetsafe.container_engine.containerd_facts)
    leaves both). M(fleetsafe.container_engine.container_engine_facts) with
    O(fleetsafe.container_engine.container_engine_facts#module:gather) collects several parts in one run.
  - The contract of the returned facts is documented in C(docs/facts.md) of the collection.
  - Options are checked before anything is read. A socket option that is not an absolute unix socket path of at
    most 107 bytes fails the task with one sentence naming the value; a long value is shown shortened.
  - Run as root (C(become=true)) for complete facts; an unprivileged user cannot read the environment of a root
    C(dockerd) or, usually, the daemon sockets, and the module says so in C(error) and in warnings.
requirements:
  - Python 3.7 or newer on the host (the module code uses C(from __future__ import annotations)).
  - Nothing else on the host; the Docker Engine API is read over its unix socket with Python's standard library, so
    no Docker SDK (C(python3-docker)) is needed.
seealso:
  - module: fleetsafe.container_engine.container_engine_facts
  - module: fleetsafe.container_engine.docker_facts
  - module: fleetsafe.container_engine.containerd_facts
  - module: fleetsafe.container_engine.rootless_facts
  - module: fleetsafe.container_engine.clients_facts
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - This action does not modify state.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
    details:
      - This action does not modify state.
  facts:
    description: Action returns an C(ansible_facts) dictionary that will update existing host facts.
    support: full
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
  action_group:
    description: Use C(group/fleetsafe.container_engine.facts) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - fleetsafe.container_engine.facts
"""

    # The containerd socket, for the modules that read containerd.
    CONTAINERD = r"""
options:
  containerd_socket:
    description:
      - The socket of the system containerd, whose Version service tells the running version (through C(ctr)).
      - An absolute path of at most 107 bytes (a unix socket path's limit), optionally written C(unix:///PATH);
        anything else, such as a relative path or a C(tcp://) address, fails the task.
    type: path
    default: /run/containerd/containerd.sock
"""

    # Client declarations, for the modules that report API clients.
    DECLARED = r"""
options:
  declared:
    description:
      - API clients of the engine that cannot be discovered from the host (agents that talk over TCP, tools run
        from cron, another host's CI), declared from the inventory. Returned as they are, with the image split.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: A name for the client (for example V(ecs-agent) or V(captain)).
        type: str
        required: true
      api_version:
        description:
          - The Engine API version the client pins, if any (for example V("1.21"), or V("v1.21")).
          - Anything that is not a version of that form fails the task. Quote it in YAML; unquoted, V(1.40) would
            reach the module as the number 1.4.
        type: str
      image:
        description: The image the client runs, if it is a container (for example V(caprover/caprover:1.12.0)).
        type: str
      program:
        description:
          - For a client that is a program or a library rather than an image, its name in the knowledge base's clients
            table (for example V(docker-py), V(docker-compose), V(testcontainers-java)); defaults to O(declared[].name).
          - Needs O(declared[].version).
        type: str
      version:
        description:
          - The release of the program or library the client runs (for example V("6.1.3") for docker-py 6.1.3). With
            it, the collection's filters look up which API version that release speaks.
        type: str
  host_processes:
    description:
      - Also list the programs on the host itself (not in containers) that hold a connection to a Docker socket right
        now, and the systemd services whose unit points a program at one (E(DOCKER_HOST) or a path to C(docker.sock)),
        read from C(/proc), the kernel's socket diagnostics (what C(ss -xp) shows) and the unit files. Nothing is
        connected to; the only program run is the C(docker) CLI's C(--version), when no package owns it.
      - Needs C(become) to see processes of other users.
      - V(false) skips this; the facts C(host_processes) and C(declared_by_unit) are then V(null).
    type: bool
    default: true
  registries:
    description:
      - Container registries to ask which release a client container runs when its image tag does not say
        (V(latest), no tag, a digest, V(3.6)) and no version label of its image does. The module reads the image's
        C(RepoDigests), lists the tags of that repository in the registry whose name matches, and asks the release
        tags (V(1.12.0), newest first, at most 100) for their digest until one matches; the fact
        C(socket_mounts[].version_learned) then names it.
      - Nothing is asked of any registry unless it is listed here. A registry that cannot be asked becomes a
        warning; the fact stays V(null).
      - Credentials go only to the registry's own scheme, host and port, and to the token service it names over
        https, as with M(fleetsafe.container_engine.registry_tag_info); they never appear in the facts or messages.
    type: list
    elements: dict
    default: []
    suboptions:
      url:
        description:
          - Base URL of the registry (V(https://registry-1.docker.io), V(http://127.0.0.1:5000)), without user
            information.
        type: str
        required: true
      name:
        description:
          - How image names spell this registry (V(registry.example.com:5000)); defaults to the host and port of
            O(registries[].url), V(docker.io) for Docker Hub's.
        type: str
      username:
        description: User name for basic authentication or the token service.
        type: str
      password:
        description: Password or access token for O(registries[].username).
        type: str
      validate_certs:
        description: Verify the registry's TLS certificate.
        type: bool
        default: true
"""
