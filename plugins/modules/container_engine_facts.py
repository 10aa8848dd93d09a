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
              host's
              packages, the running C(dockerd) process, its C(daemon.json) and systemd units.
          returned: when gathered (O(gather))
          type: dict
          contains:
            can_talk_to_docker:
              description: Whether the daemon answered on the socket.
              returned: always
              type: bool
              sample: true
            error:
              description: One sentence naming the problem and its fix, or V(null) when all went well.
              returned: always
              type: str
              sample: "The Docker daemon is not running (no socket at /var/run/docker.sock): start it with ..."
            socket:
              description: The socket asked.
              returned: always
              type: str
              sample: /var/run/docker.sock
            pid:
              description: PID of the running rootful C(dockerd), V(null) when none runs.
              returned: always
              type: int
              sample: 372
            exe_deleted:
              description:
                - Whether C(/proc/PID/exe) of the running C(dockerd) ends in C( (deleted)), that is its binary was
                  replaced
                  on disk (a package upgrade) since it started. V(null) when unknown (not running, not readable).
              returned: always
              type: bool
              sample: false
            version:
              description: C(Version) of the running engine, exactly as it reports it (unversioned C(/version)).
              returned: always
              type: str
              sample: 20.10.24+dfsg1
            api_version:
              description:
                - The highest Engine API version the daemon serves (C(ApiVersion) of the unversioned C(/version)).
              returned: always
              type: str
              sample: "1.41"
            min_api_version:
              description: The lowest Engine API version the daemon accepts (C(MinAPIVersion)), after any override.
              returned: always
              type: str
              sample: "1.12"
            components:
              description:
                - C(Server.Components) of C(/version) by lower-case name (C(engine), C(containerd), C(runc),
                  C(docker-init),
                  C(rootlesskit)), each with C(version) and C(details) as the daemon reports them.
              returned: always
              type: dict
              sample: {"containerd": {"version": "1.6.20~ds1", "details": {"GitCommit": "1.6.20~ds1-1+deb12u3"}}}
            storage_driver:
              description: The storage driver (C(Driver) of C(/info)).
              returned: always
              type: str
              sample: overlay2
            cgroup_driver:
              description: The cgroup driver (C(CgroupDriver) of C(/info)).
              returned: always
              type: str
              sample: cgroupfs
            cgroup_version:
              description: The cgroup version (C(CgroupVersion) of C(/info)), as a string.
              returned: always
              type: str
              sample: "2"
            live_restore:
              description: Whether live-restore is enabled (C(LiveRestoreEnabled)).
              returned: always
              type: bool
              sample: false
            security_options:
              description: C(SecurityOptions) of C(/info).
              returned: always
              type: list
              elements: str
              sample: ["name=seccomp,profile=default", "name=cgroupns"]
            containers:
              description: Container counts from C(/info).
              returned: always
              type: dict
              contains:
                total:
                  description: All containers.
                  returned: always
                  type: int
                running:
                  description: Running containers.
                  returned: always
                  type: int
                paused:
                  description: Paused containers.
                  returned: always
                  type: int
                stopped:
                  description: Stopped containers.
                  returned: always
                  type: int
            daemon_json_path:
              description:
                - The daemon configuration file read (C(--config-file) of the running C(dockerd), else the default).
              returned: always
              type: str
              sample: /etc/docker/daemon.json
            daemon_json:
              description:
                - The parsed daemon configuration; V({}) when the file is absent or unparsable (then C(error) says
                  so).
              returned: always
              type: dict
              sample: {"live-restore": true}
            min_api_overrides:
              description:
                - Every minimum-API override found, in effect or not, in this order - E(DOCKER_MIN_API_VERSION) in the
                  environment of the running C(dockerd), C(min-api-version) in C(daemon.json), C(Environment=) in the
                  C(docker.service) unit and its drop-ins, and the environment files the unit names (and
                  C(/etc/default/docker)).
              returned: always
              type: list
              elements: dict
              contains:
                source:
                  description:
                    - V(environment), V(daemon_json), V(systemd_unit), V(systemd_dropin) or V(environment_file).
                  returned: always
                  type: str
                value:
                  description: The version set, as written.
                  returned: always
                  type: str
                  sample: "1.17"
                where:
                  description: The file it was found in.
                  returned: always
                  type: str
                  sample: /etc/systemd/system/docker.service.d/min-api.conf
            packages:
              description:
                - Installed dpkg packages of both families (Debian C(docker.io), C(docker-cli), C(containerd),
                  C(runc), C(tini);
                  Docker's C(docker-ce), C(docker-ce-cli), C(containerd.io), C(docker-ce-rootless-extras), plugins)
                  and the
                  rootless helpers, name to version. V({}) without dpkg.
              returned: always
              type: dict
              sample: {"docker.io": "20.10.24+dfsg1-1+deb12u1+b6", "containerd": "1.6.20~ds1-1+deb12u3"}
            package_family:
              description: V(debian) (C(docker.io)), V(docker-ce) or V(null) when no engine package is installed.
              returned: always
              type: str
              sample: debian
            installed_version:
              description:
                - Upstream engine version of the installed engine package (C(5:28.0.1-1~debian.12~bookworm) gives
                  V(28.0.1)).
              returned: always
              type: str
              sample: 20.10.24
            stale:
              description:
                - Whether the running engine's version differs from the installed package's (normally older - the
                  package was
                  upgraded and C(dockerd) not restarted). V(null) when either is unknown.
              returned: always
              type: bool
              sample: false
        containerd:
          description:
            - The system containerd - installed binary, running daemon, shims and the shim bootstrap protocol.
          returned: when gathered (O(gather))
          type: dict
          contains:
            installed:
              description: Whether a C(containerd) binary is on the host.
              returned: always
              type: bool
            path:
              description: Path of the C(containerd) binary.
              returned: always
              type: str
              sample: /usr/bin/containerd
            installed_version:
              description: The installed binary's version (C(containerd --version)), normalised to C(X.Y.Z).
              returned: always
              type: str
              sample: 2.1.9
            installed_version_raw:
              description: The installed binary's version as printed.
              returned: always
              type: str
              sample: 2.1.9+unknown
            running:
              description:
                - Whether a containerd daemon runs (a root C(containerd) process, or an answer on
                  O(containerd_socket)).
              returned: always
              type: bool
            running_version:
              description: The running daemon's version (its Version service, C(ctr version) Server part), normalised.
              returned: always
              type: str
              sample: 1.7.24
            running_version_raw:
              description: The running daemon's version as it reports it.
              returned: always
              type: str
              sample: 1.7.24~ds1
            pid:
              description: PID of the running containerd.
              returned: always
              type: int
            exe_deleted:
              description:
                - Whether C(/proc/PID/exe) of the daemon ends in C( (deleted)) (binary replaced); V(null) when
                  unknown.
              returned: always
              type: bool
            restart_required:
              description:
                - V(true) when the running version differs from the installed one or the binary was replaced; V(null)
                  when a
                  daemon runs but neither can be told (see C(error)); V(false) otherwise.
              returned: always
              type: bool
            restart_reasons:
              description: Why a restart is required.
              returned: always
              type: list
              elements: str
              sample: ["running 1.7.24 != installed 2.1.9", "binary replaced (/proc/1234/exe is deleted)"]
            socket:
              description: The containerd socket asked.
              returned: always
              type: str
              sample: /run/containerd/containerd.sock
            config_path:
              description: The configuration file (C(--config) of the running daemon, else the default).
              returned: always
              type: str
              sample: /etc/containerd/config.toml
            config_version:
              description: C(version = N) of the configuration file, V(null) when absent.
              returned: always
              type: int
              sample: 2
            shims:
              description: C(containerd-shim*) binaries on the host; C(-v) is asked of the runc shims only.
              returned: always
              type: list
              elements: dict
              contains:
                name:
                  description: Binary name.
                  returned: always
                  type: str
                  sample: containerd-shim-runc-v2
                path:
                  description: Binary path.
                  returned: always
                  type: str
                version:
                  description: Version as printed by C(-v), V(null) for shims not asked.
                  returned: always
                  type: str
                  sample: 2.1.9+unknown
                version_normalized:
                  description: The version normalised to C(X.Y.Z).
                  returned: always
                  type: str
                  sample: 2.1.9
            shim_protocol_accepted:
              description:
                - Shim bootstrap protocol versions the RUNNING daemon accepts, by its containerd line; V([]) when
                  unknown.
                - C(1) is a plain socket address, C(2) and C(3) JSON bootstrap parameters with that C(version).
                  containerd 1.6 accepts C([1]); 1.7 C([1, 2]); 2.0-2.2 C([1, 2, 3]).
                - "Source: containerd C(runtime/v2/shim.go) at v1.6.0 and v1.7.0 (C(parseStartResponse): version above
                  2
                  gives C(unsupported shim version)), C(core/runtime/v2/shim.go) at v2.0.0 (C(CurrentShimVersion) 3),
                  containerd#10984."
              returned: always
              type: list
              elements: int
              sample: [1, 2]
            shim_protocol_produced:
              description:
                - The protocol the installed runc v2 shim answers with (by its version line) - C(1) for containerd 1.x
                  shims,
                  C(3) for 2.x. A value missing from the running daemon's C(shim_protocol_accepted) means new
                  containers fail
                  with C(unsupported shim version (3)) until containerd is restarted.
              returned: always
              type: int
              sample: 3
            error:
              description: One sentence naming the problem and its fix, or V(null).
              returned: always
              type: str
        rootless:
          description:
            - Every rootless Docker daemon on the host (a C(dockerd) whose uid is not 0 or that runs under
              rootlesskit).
          returned: when gathered (O(gather))
          type: dict
          contains:
            daemons:
              description: One entry per rootless C(dockerd); V([]) when there is none.
              returned: always
              type: list
              elements: dict
              contains:
                user:
                  description: Owner of the daemon.
                  returned: always
                  type: str
                  sample: alice
                uid:
                  description: Its uid.
                  returned: always
                  type: int
                  sample: 1000
                pid:
                  description: PID of the rootless C(dockerd).
                  returned: always
                  type: int
                rootlesskit_pid:
                  description: PID of the C(rootlesskit) parent, V(null) when none.
                  returned: always
                  type: int
                socket:
                  description: The daemon's socket (its C(-H unix://...), else C($XDG_RUNTIME_DIR/docker.sock)).
                  returned: always
                  type: str
                  sample: /run/user/1000/docker.sock
                engine_version:
                  description: C(Version) from the daemon's unversioned C(/version).
                  returned: always
                  type: str
                  sample: 28.5.2+dfsg4
                api_version:
                  description: The highest API version this daemon serves.
                  returned: always
                  type: str
                  sample: "1.51"
                min_api_version:
                  description: The lowest API version this daemon accepts.
                  returned: always
                  type: str
                  sample: "1.24"
                rootlesskit_version:
                  description: rootlesskit version (as the daemon reports it, else C(rootlesskit --version)).
                  returned: always
                  type: str
                  sample: 2.0.2
                net_driver:
                  description: RootlessKit network driver (V(slirp4netns), V(vpnkit), V(pasta), V(lxc-user-nic)).
                  returned: always
                  type: str
                  sample: slirp4netns
                port_driver:
                  description: RootlessKit port driver (V(builtin), V(slirp4netns), V(implicit)).
                  returned: always
                  type: str
                  sample: builtin
                driver_source:
                  description:
                    - Where the drivers were read - V(engine) (C(/version) component C(rootlesskit) details, what
                      rootlesskit
                      itself tells the daemon), V(rootlesskit_cmdline) or V(environment)
                      (C(DOCKERD_ROOTLESS_ROOTLESSKIT_*)).
                  returned: always
                  type: str
                  sample: engine
                slirp4netns_version:
                  description:
                    - slirp4netns version (as the daemon reports it, else C(slirp4netns --version)), V(null) when not
                      installed.
                  returned: always
                  type: str
                  sample: 1.2.0
                systemd_unit:
                  description:
                    - The systemd user unit the daemon runs in (from its cgroup), V(null) when started by hand.
                  returned: always
                  type: str
                  sample: docker.service
                linger:
                  description: Whether lingering is enabled for the user (C(/var/lib/systemd/linger/USER) exists).
                  returned: always
                  type: bool
                error:
                  description: One sentence naming the problem with this daemon and its fix, or V(null).
                  returned: always
                  type: str
            error:
              description: The daemons' errors joined, or V(null).
              returned: always
              type: str
        clients:
          description:
            - Engine API clients - containers that mount a Docker socket, and clients declared with O(declared). Raw
              facts only.
          returned: when gathered (O(gather))
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
                  sample: "1.23"
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
                  (V(null) when not given).
              returned: always
              type: list
              elements: dict
              sample:
                - {"name": "ecs-agent", "api_version": "1.21", "image": null, "image_name": null, "image_tag": null}
            error:
              description: One sentence naming the problem and its fix, or V(null).
              returned: always
              type: str
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
