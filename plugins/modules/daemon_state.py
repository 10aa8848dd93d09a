#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: daemon_state
short_description: A system daemon as it runs (containerd or dockerd) against its installed package
version_added: 0.3.0
description:
  - Reads, in one module run, whether C(containerd.service) or C(docker.service) is active, the version its API
    answers with, whether its executable was replaced on disk since it started (a package changed under it), and
    the installed version of its package.
  - In the same run, what systemd records of C(containerd.service) and C(docker.service) (active, enabled at boot)
    and of the unit itself (how long its last stop and start took), and whether the Docker engine answers - so
    that a role reads the daemons' state in one round trip.
  - RV(stale) says whether the running daemon is older than its binary (the same rule the facts and the findings
    use); the versions are also given as upstream releases, so that no caller converts a package version itself.
  - Changes nothing; runs in check mode too.
author:
  - fleetsafe developers (@fleetsafe)
options:
  unit:
    description: The daemon.
    type: str
    choices: [containerd, docker]
    required: true
  package:
    description: The package whose installed version the daemon is compared with; none compares nothing.
    type: str
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Reads only.
notes:
  - Reads C(systemctl), C(/proc/PID/exe), C(ctr version) or the Engine API, and C(dpkg-query).
  - The Engine API is read on its unix socket C(/var/run/docker.sock) only.
"""

EXAMPLES = r"""
- name: Look at the running containerd and its package
  fleetsafe.container_engine.daemon_state:
    unit: containerd
    package: containerd
  register: containerd_now
"""

RETURN = r"""
active:
  description: Whether the unit is active.
  type: bool
  returned: always
version:
  description: The version the daemon answers with as it prints it (V(26.1.5+dfsg1)); V('') when it does not answer.
  type: str
  returned: always
upstream:
  description: That version as an upstream release (V(26.1.5)); V('') when it does not answer.
  type: str
  returned: always
binary_replaced:
  description: Whether the running process's executable was replaced on disk since it started.
  type: bool
  returned: always
installed:
  description: The installed version of O(package) (V('') when it is not installed or no package is given).
  type: str
  returned: always
installed_upstream:
  description: That version as an upstream release (V(1.7.24) for V(1.7.24~ds1-6+deb13u1)); V('') when none.
  type: str
  returned: always
held:
  description: Whether O(package) is installed and held (C(apt-mark hold)); false when no package is given.
  type: bool
  returned: always
api_version:
  description:
    - The Docker API version dockerd serves by default (V(1.45)); V('') for containerd or when it does not answer.
  type: str
  returned: always
min_api_version:
  description:
    - The lowest Docker API version dockerd accepts (V(1.24)); V('') for containerd or when it does not answer.
  type: str
  returned: always
services:
  description:
    - C(containerd) and C(docker) (their C(.service) units) - C(active) (bool) and C(enabled) (systemd's unit file
      state, V(enabled), V(disabled), V('') when the unit does not exist).
  type: dict
  returned: always
  sample: {containerd: {active: true, enabled: enabled}, docker: {active: true, enabled: enabled}}
last_restart_seconds:
  description:
    - How long the unit's last stop and start took, by systemd's own clock (a maintainer script's restart inside
      apt, for example); V(0.0) when it never stopped since boot or is not active again yet.
  type: float
  returned: always
docker_answers:
  description: Whether the Docker engine answers on its socket (for O(unit=docker), whether it answered above).
  type: bool
  returned: always
stale:
  description:
    - Whether the running daemon differs from its installed binary (another version answers, or its executable
      was replaced); false when the daemon is not active or the package is not installed.
  type: bool
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _daemon as D


def main():
    module = AnsibleModule(
        argument_spec=dict(
            unit=dict(type='str', required=True, choices=['containerd', 'docker']),
            package=dict(type='str'),
        ),
        supports_check_mode=True,
    )
    module.exit_json(changed=False, **D.daemon_state(module.params['unit'], module.params['package']))


if __name__ == '__main__':
    main()
