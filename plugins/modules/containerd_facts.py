#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: containerd_facts
short_description: Facts about containerd on a host - installed and running versions, shims
version_added: 0.1.0
description:
  - Reports the installed C(containerd) binary version (C(containerd --version)), the running daemon version (its
    Version service, through C(ctr version)), whether a restart is required (versions differ, or the binary was
    replaced under the running daemon), the shim binaries and the versions they print, and the configuration
    version.
  - It reports what it observes and judges nothing. A containerd 2.x package installed under a running 1.7 daemon
    shows here as C(restart_required=true) with C(running_version) 1.7 and a 2.x runc shim; that new containers
    then fail with "unsupported shim version (3)" is the knowledge base's judgement, reported by the
    P(fleetsafe.container_engine.compat_findings#filter) filter (see C(docs/incidents.md#containerd-shim-v3) of
    the collection).
  - Returns C(ansible_facts.container_engine.containerd).
author:
  - fleetsafe developers (@fleetsafe)
extends_documentation_fragment:
  - fleetsafe.container_engine.facts
  - fleetsafe.container_engine.facts.containerd
"""

EXAMPLES = r"""
- name: Gather containerd facts
  fleetsafe.container_engine.containerd_facts:
  become: true

- name: Restart containerd when the installed one is not the one running
  ansible.builtin.service:
    name: containerd
    state: restarted
  become: true
  when: ansible_facts.container_engine.containerd.restart_required
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
        containerd:
          description:
            - The system containerd - installed binary, running daemon, shim binaries and their versions, as observed.
            - Which shim bootstrap protocol each version speaks is not a fact but a judgement - the knowledge base's
              C(data/knowledge_base/containerd.yml) holds it and C(compat_findings) applies it to these versions.
          returned: always
          type: dict
          contains:
            installed:
              description: Whether a C(containerd) binary is on the host.
              returned: always
              type: bool
              sample: true
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
              sample: true
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
              description: PID of the running containerd, V(null) when none runs.
              returned: always
              type: int
              sample: 1234
            exe_deleted:
              description:
                - Whether C(/proc/PID/exe) of the daemon ends in " (deleted)" (binary replaced); V(null) when unknown.
              returned: always
              type: bool
              sample: false
            restart_required:
              description:
                - V(true) when the running version differs from the installed one or the binary was replaced; V(null)
                  when a daemon runs but neither can be told (see C(error)); V(false) otherwise.
                - An observation, not a verdict on compatibility - the running daemon is not the installed one.
              returned: always
              type: bool
              sample: true
            restart_reasons:
              description: Why a restart is required.
              returned: always
              type: list
              elements: str
              sample:
                - running 1.7.24 != installed 2.1.9
                - binary replaced (/proc/1234/exe is deleted)
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
              description:
                - C(containerd-shim*) binaries on the host; C(-v) is asked of the runc shims only.
                - A containerd 2.x runc shim installed under a running 1.7 daemon makes new containers fail with
                  "unsupported shim version (3)" - C(compat_findings) reports it as
                  C(containerd_shim_protocol_mismatch) from C(running_version) and the runc shim's C(version).
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
                  sample: /usr/bin/containerd-shim-runc-v2
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
            package:
              description: The installed package that ships containerd - Debian's C(containerd) or Docker's
                C(containerd.io) (which also ships runc) - or V(null) without one.
              returned: always
              type: str
              sample: containerd
            package_version:
              description:
                - That package's version as dpkg has it, with Docker's revision (C(1.7.24-1),
                  C(2.1.9-1~debian.12~bookworm)) or Debian's (C(1.7.24~ds1-6+deb13u1)).
              returned: always
              type: str
              sample: 1.6.20~ds1-1+deb12u3
            package_family:
              description: V(debian) (C(containerd)), V(docker-ce) (C(containerd.io)) or V(null) when neither is
                installed.
              returned: always
              type: str
              sample: debian
            error:
              description: One sentence naming the problem and its fix, or V(null).
              returned: always
              type: str
"""

from ansible_collections.fleetsafe.container_engine.plugins.module_utils._common import (  # noqa: E402
    CONTAINERD_ARGUMENT_SPEC,
    run_facts_module,
)


def main():
    run_facts_module(['containerd'], extra_spec=CONTAINERD_ARGUMENT_SPEC)


if __name__ == '__main__':
    main()
