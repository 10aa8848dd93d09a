#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: docker_facts
short_description: Facts about the Docker Engine on a host, for safe upgrades
version_added: 0.1.0
description:
  - Reports the running Docker Engine - version, the API range it really serves (read from the unversioned
    C(/version)), components, storage and cgroup drivers, live-restore, container counts - next to what is installed
    (dpkg packages of the Debian and Docker families), every minimum-API override (running C(dockerd) environment,
    systemd units and drop-ins, C(daemon.json)) and whether the running engine is stale.
  - Returns C(ansible_facts.container_engine.docker).
author:
  - fleetsafe developers (@fleetsafe)
extends_documentation_fragment:
  - fleetsafe.container_engine.facts
options: {}
"""

EXAMPLES = r"""
- name: Gather Docker Engine facts
  fleetsafe.container_engine.docker_facts:
  become: true

- name: Show the API range the engine serves
  ansible.builtin.debug:
    msg: >-
      {{ ansible_facts.container_engine.docker.min_api_version }} -
      {{ ansible_facts.container_engine.docker.api_version }}

- name: Stop when the engine cannot be asked
  fleetsafe.container_engine.docker_facts:
    fail_on_error: true
  become: true
"""

RETURN = r"""
# Generated from docs/facts.yml (the facts contract) by tests/unit/modules/facts_contract.py --write;
# edit that file, not this block.
can_talk_to_docker:
  description:
    - Whether the Docker daemon answered on O(docker_host) (same as
      C(ansible_facts.container_engine.docker.can_talk_to_docker)).
  returned: both on success and on error
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
          returned: always
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
              sample: 'The Docker daemon is not running (no socket at /var/run/docker.sock): start it with ...'
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
                - Whether C(/proc/PID/exe) of the running C(dockerd) ends in " (deleted)", that is its binary was
                  replaced on disk (a package upgrade) since it started. V(null) when unknown (not running, not
                  readable).
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
              sample: '1.41'
            min_api_version:
              description: The lowest Engine API version the daemon accepts (C(MinAPIVersion)), after any override.
              returned: always
              type: str
              sample: '1.12'
            components:
              description:
                - C(Server.Components) of C(/version) by lower-case name (C(engine), C(containerd), C(runc),
                  C(docker-init), C(rootlesskit)), each with C(version) and C(details) as the daemon reports them.
              returned: always
              type: dict
              sample:
                containerd:
                  version: 1.6.20~ds1
                  details:
                    GitCommit: 1.6.20~ds1-1+deb12u3
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
              sample: '2'
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
              sample:
                - name=seccomp,profile=default
                - name=cgroupns
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
              sample:
                live-restore: true
            min_api_overrides:
              description:
                - Every minimum-API override found, in effect or not, in this order - E(DOCKER_MIN_API_VERSION) in the
                  environment of the running C(dockerd), C(min-api-version) in C(daemon.json), C(Environment=) in the
                  C(docker.service) unit and its drop-ins, and the environment files the unit names (Debian's unit
                  names C(/etc/default/docker)).
              returned: always
              type: list
              elements: dict
              contains:
                source:
                  description:
                    - V(environment), V(daemon_json), V(systemd_unit), V(systemd_dropin) or V(environment_file). The
                      last three are judged as the E(DOCKER_MIN_API_VERSION) of the next start; the live
                      V(environment) only when no file sets one.
                  returned: always
                  type: str
                value:
                  description: The version set, as written.
                  returned: always
                  type: str
                  sample: '1.17'
                where:
                  description: The file it was found in.
                  returned: always
                  type: str
                  sample: /etc/systemd/system/docker.service.d/min-api.conf
            daemon_environment:
              description:
                - Every E(DOCKER_*) and E(DOCKERD_*) variable of C(dockerd)'s environment, in effect or not, in this
                  order - the environment of the running C(dockerd) (sorted by name), C(Environment=) in the
                  C(docker.service) unit and its drop-ins, and the environment files the unit names (and
                  C(/etc/default/docker)).
              returned: always
              type: list
              elements: dict
              contains:
                name:
                  description: The variable's name.
                  returned: always
                  type: str
                  sample: DOCKER_ENABLE_DEPRECATED_PULL_SCHEMA_1_IMAGE
                value:
                  description: Its value, as written.
                  returned: always
                  type: str
                  sample: '1'
                source:
                  description:
                    - V(environment), V(systemd_unit), V(systemd_dropin) or V(environment_file).
                  returned: always
                  type: str
                where:
                  description: C(/proc/PID/environ), or the file it was found in.
                  returned: always
                  type: str
                  sample: /etc/systemd/system/docker.service.d/schema1.conf
            daemon_flags:
              description:
                - Every flag C(dockerd) runs with or will start with, in this order - the command line of the running
                  C(dockerd) (C(/proc/PID/cmdline)), then the C(ExecStart=) of C(docker.service) in effect (the unit
                  file, or the last drop-in that sets it; an empty C(ExecStart=) clears the ones before it).
                  One-letter flags are given their long names (C(-H) is C(--host), C(-g) C(--graph)). V([]) when no
                  C(dockerd) runs and no unit starts one.
              returned: always
              type: list
              elements: dict
              contains:
                flag:
                  description: The flag's long name.
                  returned: always
                  type: str
                  sample: --host
                value:
                  description: Its value as written (C(--iptables=false) gives V(false)), V(null) for a flag without
                    one.
                  returned: always
                  type: str
                  sample: fd://
                source:
                  description: V(cmdline) (the running C(dockerd)), V(systemd_unit) or V(systemd_dropin).
                  returned: always
                  type: str
                  sample: systemd_dropin
                where:
                  description:
                    - C(/proc/PID/cmdline), or the unit file or drop-in the C(ExecStart=) is in, or the file that sets
                      the variable a flag came from (C($DOCKER_OPTS) in C(ExecStart=), set by
                      C(EnvironmentFile=/etc/default/docker)).
                  returned: always
                  type: str
                  sample: /etc/systemd/system/docker.service.d/override.conf
            host:
              description:
                - The host the engine runs on, read without changing anything. Every value is V(null) when it cannot
                  be told (never guessed).
              returned: always
              type: dict
              contains:
                container:
                  description:
                    - The container environment the host itself runs in (C(systemd-detect-virt --container), else
                      C(/run/systemd/container), else C(container=) in the environment of PID 1) - V(lxc),
                      V(lxc-libvirt), V(docker), V(podman), V(systemd-nspawn), V(wsl) ...; V(none) when
                      C(systemd-detect-virt) says the host is not in a container.
                  returned: always
                  type: str
                  sample: lxc
                virtualization:
                  description: The hypervisor (C(systemd-detect-virt --vm)) - V(kvm), V(vmware), V(microsoft) ... or
                    V(none).
                  returned: always
                  type: str
                  sample: kvm
                kernel_release:
                  description: The running kernel's release (C(/proc/sys/kernel/osrelease)).
                  returned: always
                  type: str
                  sample: 6.1.0-28-amd64
                kernel_modules:
                  description:
                    - The kernel modules Docker's networking and storage use, each V(loaded) (C(/proc/modules)),
                      V(builtin) (C(modules.builtin) of the running kernel), V(available) (in its C(modules.dep),
                      loaded on demand), V(missing) (in neither list) or V(null) (not loaded and the kernel's module
                      lists cannot be read, as in most containers). Modules - C(bridge), C(br_netfilter), C(veth),
                      C(overlay), C(ip_tables), C(ip6_tables), C(iptable_filter), C(iptable_nat), C(iptable_raw),
                      C(ip6table_raw), C(nf_nat), C(nf_conntrack), C(nf_tables), C(nft_compat), C(xt_conntrack),
                      C(xt_MASQUERADE), C(xt_addrtype), C(ip_set), C(ip_set_hash_net), C(xt_set).
                  returned: always
                  type: dict
                  sample:
                    overlay: loaded
                    ip_set: available
                    xt_set: missing
                iptables_version:
                  description: The version C(iptables -V) reports, V(null) without C(iptables).
                  returned: always
                  type: str
                  sample: 1.8.9
                iptables_backend:
                  description:
                    - V(nf_tables) or V(legacy), as C(iptables -V) names it (iptables 1.8+); V(null) when it names
                      none.
                  returned: always
                  type: str
                  sample: nf_tables
                firewalld_active:
                  description:
                    - Whether firewalld runs (a C(firewalld) process, else C(systemctl is-active firewalld)); V(null)
                      when neither can be asked.
                  returned: always
                  type: bool
                  sample: false
            packages:
              description:
                - Installed dpkg packages of both families (Debian C(docker.io), C(docker-cli), C(containerd),
                  C(runc), C(tini); Docker's C(docker-ce), C(docker-ce-cli), C(containerd.io),
                  C(docker-ce-rootless-extras), plugins) and the rootless helpers, name to version. V({}) without
                  dpkg.
              returned: always
              type: dict
              sample:
                docker.io: 20.10.24+dfsg1-1+deb12u1+b6
                containerd: 1.6.20~ds1-1+deb12u3
            package_family:
              description: V(debian) (C(docker.io)), V(docker-ce) or V(null) when no engine package is installed.
              returned: always
              type: str
              sample: debian
            package_version:
              description:
                - The installed engine package's version as dpkg has it, with its epoch and revision (Docker's
                  C(5:26.1.5-1~debian.12~bookworm), Debian's C(26.1.5+dfsg1-9+deb13u1)); V(null) when none is
                  installed.
              returned: always
              type: str
              sample: 20.10.24+dfsg1-1+deb12u1+b6
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
                  package was upgraded and C(dockerd) not restarted). V(null) when either is unknown.
              returned: always
              type: bool
              sample: false
            restarts_with_containerd:
              description:
                - Whether restarting C(containerd.service) restarts C(docker.service) too, as systemd has the engine's
                  unit loaded (its unit file and drop-ins, C(systemctl show docker.service -p Requires -p BindsTo -p
                  PartOf -p Wants)) - V(true) when one of C(Requires=), C(BindsTo=) or C(PartOf=) names
                  C(containerd.service) (Docker's 20.10 unit), V(false) for C(Wants=) or nothing (Docker's 23.0 and
                  later, Debian's). A containerd package upgrade then restarts dockerd, which stops the running
                  containers; the containerd step stops them first and starts them again (docs/package-families.md).
                  V(null) when systemd cannot say (no systemctl, no unit).
              returned: always
              type: bool
              sample: true
            containerd_dependency:
              description:
                - The engine unit's dependency on C(containerd.service), as systemd shows it
                  (V(Requires=containerd.service), V(Wants=containerd.service)); V(null) when it has none or systemd
                  cannot say.
              returned: always
              type: str
              sample: Requires=containerd.service
"""

from ansible_collections.fleetsafe.container_engine.plugins.module_utils._common import (  # noqa: E402
    run_facts_module,
)


def main():
    run_facts_module(['docker'])


if __name__ == '__main__':
    main()
