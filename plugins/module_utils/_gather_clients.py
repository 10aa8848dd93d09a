# Private to fleetsafe.container_engine: imported only by this collection's modules, no public API.
#
# The clients part of ansible_facts.container_engine: the API clients that use the socket (containers,
# host processes, units) and the declared ones.
# Nothing here changes the host.
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import os

from ansible_collections.fleetsafe.container_engine.plugins.module_utils._host import EngineError
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _hostclients as HC
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _parse as P
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._probe import (
    DEFAULT_DOCKER_SOCKET, api_get, engine_error_sentence, rootless_dockerds, socket_activation_guard,
    unit_environment, unit_texts)


# ------------------------------------------------------------------------------------------------
# clients
# ------------------------------------------------------------------------------------------------
def is_docker_socket(path, sockets):
    if not path:
        return False
    return os.path.basename(path.rstrip('/')) == 'docker.sock' or path in sockets


def host_clients(ctx, socket_path):
    """HC.empty() filled: the processes connected to the engine's socket(s) (the rootful one asked and
    /var/run/docker.sock, and every rootless daemon's, read in its own network namespace) and the units that
    point a program at one."""
    facts = HC.empty()
    sockets = [socket_path, DEFAULT_DOCKER_SOCKET]
    netns_pids = []
    for proc in rootless_dockerds(ctx):
        argv = P.parse_cmdline(ctx.read('/proc/%s/cmdline' % proc['pid'], binary=True))
        host_opt = P.cmdline_option(argv, '--host', '-H')
        if host_opt and host_opt.startswith('unix://'):
            sockets.append(host_opt[len('unix://'):])
        else:
            uid = proc['rootlesskit_uid'] if proc['rootlesskit_uid'] is not None else proc['uid']
            sockets.append('/run/user/%s/docker.sock' % uid)
        netns_pids.append(proc['pid'])
    facts['host_processes'], facts['host_processes_error'] = HC.host_processes(ctx, sockets, netns_pids)
    connected = {entry['systemd_unit'] for entry in facts['host_processes']}
    facts['declared_by_unit'] = HC.declared_by_unit(
        ctx, unit_texts, unit_environment, lambda path: is_docker_socket(path, sockets), connected)
    return facts


def gather_clients(ctx, socket_path=DEFAULT_DOCKER_SOCKET, declared=None, host_processes=True):
    installed = bool(ctx.host.which('dockerd'))
    facts = {'socket_mounts': [], 'declared': [], 'error': None}
    if host_processes:
        facts.update(host_clients(ctx, socket_path))
    else:
        facts.update(host_processes=None, declared_by_unit=None, host_processes_error=None)
    for item in declared or []:
        image = item.get('image')
        name, tag = P.split_image(image)
        entry = {'name': item.get('name'), 'api_version': item.get('api_version'),
                 'image': image, 'image_name': name, 'image_tag': tag}
        if item.get('version') is not None:   # a program or library: the knowledge base names it
            entry.update(program=item.get('program') or item.get('name'), version=item.get('version'))
        facts['declared'].append(entry)
    try:
        socket_activation_guard(ctx, socket_path)
        containers = api_get(ctx, socket_path, '/containers/json', params={'all': 1})
        for summary in containers:
            mounts = [mount for mount in summary.get('Mounts') or []
                      if is_docker_socket(mount.get('Source'), (socket_path, DEFAULT_DOCKER_SOCKET))]
            if not mounts:
                continue
            detail = api_get(ctx, socket_path, '/containers/%s/json' % summary['Id'])
            env = {}
            for item in (detail.get('Config') or {}).get('Env') or []:
                if '=' in item:
                    key, value = item.split('=', 1)
                    env[key] = value
            image = (detail.get('Config') or {}).get('Image') or summary.get('Image')
            image_name, image_tag = P.split_image(image)
            names = summary.get('Names') or [detail.get('Name') or '']
            facts['socket_mounts'].append({
                'name': names[0].lstrip('/'), 'id': summary['Id'][:12], 'image': image,
                'image_name': image_name, 'image_tag': image_tag,
                'state': summary.get('State') or (detail.get('State') or {}).get('Status'),
                'socket_path': mounts[0].get('Source'), 'mount_destination': mounts[0].get('Destination'),
                'api_version_env': env.get('DOCKER_API_VERSION'), 'docker_host_env': env.get('DOCKER_HOST'),
                'labels': summary.get('Labels') or {},
            })
    except EngineError as err:
        facts['error'] = engine_error_sentence(ctx, err, socket_path, installed)
    facts['socket_mounts'].sort(key=lambda item: item['name'])
    return facts
