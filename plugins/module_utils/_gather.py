# Private to fleetsafe.container_engine: imported only by this collection's modules, no public API.
#
# Gathers the four parts of ansible_facts.container_engine (docs/facts.md is the contract): docker,
# containerd, rootless, clients. Every function takes a Context (module_utils/_probe.py) over a Host
# (module_utils/_host.py) and returns plain data with every key present; problems become one sentence in
# `error` (naming the fix) and short notes the module turns into warnings. Nothing here changes the host.
# One file per part: _gather_docker.py (with _gather_host.py), _gather_containerd.py, _gather_rootless.py,
# _gather_clients.py; what they share is in _probe.py.
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.fleetsafe.container_engine.plugins.module_utils._gather_clients import gather_clients
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._gather_containerd import (
    empty_containerd, gather_containerd)
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._gather_docker import (
    empty_docker, gather_docker)
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._gather_host import KERNEL_MODULES, gather_host
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._gather_rootless import gather_rootless
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._probe import (
    DEFAULT_CONTAINERD_SOCKET, DEFAULT_DOCKER_SOCKET, Context)

__all__ = ['Context', 'DEFAULT_CONTAINERD_SOCKET', 'DEFAULT_DOCKER_SOCKET', 'KERNEL_MODULES', 'empty_containerd',
           'empty_docker', 'gather_clients', 'gather_containerd', 'gather_docker', 'gather_host', 'gather_rootless']
