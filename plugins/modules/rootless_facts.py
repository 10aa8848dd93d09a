#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: rootless_facts
short_description: Facts about the rootless Docker daemons on a host
version_added: 0.1.0
description:
  - Finds every rootless Docker daemon on the host (a C(dockerd) process whose uid is not 0 or that runs under
    rootlesskit) and reports its user, socket, engine version and API range (asked on that user's socket),
    rootlesskit version, network and port drivers (as the daemon reports them, else from the rootlesskit command
    line or environment), slirp4netns version, systemd user unit and lingering.
  - Returns C(ansible_facts.container_engine.rootless).
author:
  - fleetsafe developers (@fleetsafe)
extends_documentation_fragment:
  - fleetsafe.container_engine.facts
options: {}
"""

EXAMPLES = r"""
- name: Gather rootless Docker facts
  fleetsafe.container_engine.rootless_facts:
  become: true

- name: List the port drivers in use
  ansible.builtin.debug:
    msg: "{{ ansible_facts.container_engine.rootless.daemons | map(attribute='port_driver') | list }}"
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
        rootless:
          description:
            - Every rootless Docker daemon on the host (a C(dockerd) whose uid is not 0 or that runs under
              rootlesskit).
          returned: always
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
                  sample: '1.51'
                min_api_version:
                  description: The lowest API version this daemon accepts.
                  returned: always
                  type: str
                  sample: '1.24'
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
                      rootlesskit itself tells the daemon), V(rootlesskit_cmdline) or V(environment)
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
                script:
                  description:
                    - The C(dockerd-rootless.sh) the daemon was started from (the script rootlesskit runs, from
                      rootlesskit's command line), V(null) when it was not started by that script.
                  returned: always
                  type: str
                  sample: /usr/bin/dockerd-rootless.sh
                script_family:
                  description:
                    - The package family whose package puts that script there - V(debian) (docker.io's
                      C(/usr/share/docker.io/contrib)) or V(docker-ce) (docker-ce-rootless-extras' C(/usr/bin)) -
                      V(null) for a copy neither family ships (a static install in the user's home). A family switch
                      removes the other family's copy, which the user's unit then no longer finds (the blocker
                      C(package_family_switch_breaks_rootless)).
                  returned: always
                  type: str
                  sample: docker-ce
                linger:
                  description: Whether lingering is enabled for the user (C(/var/lib/systemd/linger/USER) exists).
                  returned: always
                  type: bool
                min_api_overrides:
                  description:
                    - Every minimum-API override of this daemon, in effect or not, in this order -
                      E(DOCKER_MIN_API_VERSION) in the environment of the running C(dockerd), C(min-api-version) in
                      the user's C(daemon.json) (C($XDG_CONFIG_HOME/docker/daemon.json), else the C(--config-file) it
                      runs with), C(Environment=) in the user unit and its drop-ins (systemd's user unit path -
                      C(~/.config/systemd/user), C($XDG_RUNTIME_DIR/systemd/transient), C(/etc/systemd/user), ...) and
                      the environment files they name (C(%h) is the user's home). Same entries as
                      C(docker.min_api_overrides).
                  returned: always
                  type: list
                  elements: dict
                  contains:
                    source:
                      description:
                        - V(environment), V(daemon_json), V(systemd_unit), V(systemd_dropin) or V(environment_file).
                          The last three are judged as the E(DOCKER_MIN_API_VERSION) of the next start; the live
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
                error:
                  description: One sentence naming the problem with this daemon and its fix, or V(null).
                  returned: always
                  type: str
            error:
              description: The daemons' errors joined, or V(null).
              returned: always
              type: str
"""

from ansible_collections.fleetsafe.container_engine.plugins.module_utils._common import (  # noqa: E402
    run_facts_module,
)


def main():
    run_facts_module(['rootless'])


if __name__ == '__main__':
    main()
