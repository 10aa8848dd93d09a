# Private to fleetsafe.container_engine: imported only by this collection's modules, no public API.
#
# Gathers the four parts of ansible_facts.container_engine (docs/facts.md is the contract): docker,
# containerd, rootless, clients. Every function takes a Context over a Host (module_utils/_host.py) and
# returns plain data with every key present; problems become one sentence in `error` (naming the fix) and
# short notes the module turns into warnings. Nothing here changes the host.
# One file per concern, named here:
#   _gather_context.py     the gathering run (Context), default sockets and paths, the Engine API GET
#   _gather_daemons.py     which dockerd processes run, where they listen, why an engine does not answer
#   _gather_units.py       systemd units and daemon environments, minimum-API overrides
#   _gather_docker.py      the docker part (with _gather_host.py: container or VM, kernel, iptables, firewalld)
#   _gather_containerd.py  the containerd part
#   _gather_rootless.py    the rootless part
#   _gather_clients.py     the clients part
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.fleetsafe.container_engine.plugins.module_utils._gather_clients import gather_clients
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._gather_containerd import (
    containerd_version_argv,
    ctr_version_argv,
    empty_containerd,
    gather_containerd,
    shim_binaries,
)
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._gather_context import (
    DEFAULT_CONTAINERD_SOCKET,
    DEFAULT_DOCKER_SOCKET,
    Context,
    dpkg_query_argv,
)
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._gather_daemons import socket_activation_argv
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._gather_docker import (
    empty_docker,
    gather_docker,
)
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._gather_host import (
    KERNEL_MODULES,
    detect_virt_argv,
    firewalld_argv,
    iptables_argv,
)
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._gather_rootless import gather_rootless
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._gather_units import engine_follows_argv

__all__ = ['Context', 'DEFAULT_CONTAINERD_SOCKET', 'DEFAULT_DOCKER_SOCKET', 'KERNEL_MODULES', 'empty_containerd',
           'empty_docker', 'gather_clients', 'gather_containerd', 'gather_docker', 'gather_rootless',
           'planned_commands']


def planned_commands(ctx, parts, socket_path, containerd_socket):
    """The commands gathering `parts` runs whatever their answers (each built by the function its gatherer
    uses), so that run_facts_module can start them together: their wall times overlap instead of adding up.
    Commands that depend on an earlier answer (a rootless daemon's tools, a client's version) run when asked."""
    argvs = []
    if 'docker' in parts or 'containerd' in parts:
        argvs.append(dpkg_query_argv(ctx))
    if 'docker' in parts:
        argvs += [detect_virt_argv(ctx, '--container'), detect_virt_argv(ctx, '--vm'), iptables_argv(ctx),
                  firewalld_argv(ctx), socket_activation_argv(ctx, socket_path), engine_follows_argv(ctx)]
    if 'containerd' in parts:
        argvs += [containerd_version_argv(ctx), ctr_version_argv(ctx, containerd_socket)]
        argvs += [argv for _name, _path, argv in shim_binaries(ctx)]
    if 'clients' in parts and 'docker' not in parts:
        argvs.append(socket_activation_argv(ctx, socket_path))
    return [argv for argv in argvs if argv]
