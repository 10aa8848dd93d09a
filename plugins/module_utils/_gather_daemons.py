# Private to fleetsafe.container_engine: imported only by this collection's modules, no public API.
#
# Which dockerd processes run (the host's, the rootless ones), where they listen, and the one sentence that names the
# fix when the engine does not answer (never starting a socket-activated dockerd to ask it).
# Part of the facts gathering that module_utils/_gather.py names.
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import os

from ansible_collections.fleetsafe.container_engine.plugins.module_utils._host import EngineError
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _parse as P
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._gather_context import (
    DEFAULT_DAEMON_JSON,
    DEFAULT_DOCKER_SOCKET,
    SYSTEMD_DIRS,
    find_processes,
    who,
)


def engine_error_sentence(ctx, err, socket_path, installed, start='systemctl start docker', what='Docker daemon',
                          rootful=True):
    """One sentence that names the fix, for an EngineError on socket_path."""
    if err.kind in ('no_socket', 'refused') and installed and rootful:
        elsewhere = running_elsewhere_sentence(ctx, err, socket_path)
        if elsewhere:
            return elsewhere
    if err.kind == 'no_socket':
        if not installed:
            return ('Docker is not installed on this host (no dockerd binary, no socket at %s): install the '
                    'docker.io or docker-ce package.' % socket_path)
        return 'The %s is not running (no socket at %s): start it with `%s`.' % (what, socket_path, start)
    if err.kind == 'activation':
        return ('The %s is not running (systemd\'s docker.socket holds %s and would start it if asked, so it was '
                'not asked): start it with `%s`.' % (what, socket_path, start))
    if err.kind == 'refused':
        return 'The %s is not running (connection refused on %s): start it with `%s`.' % (what, socket_path, start)
    if err.kind == 'permission':
        return ('User %s may not use %s (permission denied): run the task with `become: true` or add the user '
                'to the docker group.' % (who(ctx), socket_path))
    if err.kind == 'not_socket':
        return ('%s is not a unix socket: point docker_host at the daemon\'s socket (unix:///var/run/docker.sock).'
                % socket_path)
    if err.kind == 'timeout':
        return ('The %s did not answer on %s in time: check it with `%s`.'
                % (what, socket_path, start.replace(' start ', ' status ')))
    return 'The %s on %s could not be queried (%s): check it with `%s`.' % (
        what, socket_path, err.detail, start.replace(' start ', ' status '))


def running_elsewhere_sentence(ctx, err, socket_path):
    """When nothing answers on socket_path but a rootful dockerd runs: where it listens, as one sentence."""
    proc = rootful_dockerd(ctx)
    if proc is None:
        return None
    what = 'There is no socket at %s' % socket_path if err.kind == 'no_socket' else \
        'Nothing answers on %s (connection refused)' % socket_path
    addresses = dockerd_listen_addresses(ctx, proc)
    unix = [address for address in addresses if address.startswith('unix://')]
    if unix:
        return ('%s, but dockerd runs (pid %s) and listens at %s: point docker_host at %s.'
                % (what, proc['pid'], ', '.join(addresses), unix[0]))
    if addresses:
        return ('%s, but dockerd runs (pid %s) and listens at %s only: give it a unix socket as well '
                '(-H unix:///var/run/docker.sock), this module never opens a network connection.'
                % (what, proc['pid'], ', '.join(addresses)))
    return ('%s, but dockerd runs (pid %s): point docker_host at the socket it listens on (its -H option, or '
            '"hosts" in daemon.json).' % (what, proc['pid']))


def dockerd_listen_addresses(ctx, proc):
    """Where a running dockerd listens, as configured: its -H/--host options, else "hosts" of its daemon.json,
    else dockerd's default unix:///var/run/docker.sock; fd:// (systemd socket activation) is resolved through
    the ListenStream= lines of docker.socket. None of these is connected to."""
    argv = P.parse_cmdline(ctx.read('/proc/%s/cmdline' % proc['pid'], binary=True))
    hosts = P.cmdline_options(argv, '--host', '-H')
    if not hosts:
        text = ctx.read(P.cmdline_option(argv, '--config-file') or DEFAULT_DAEMON_JSON)
        try:
            config = json.loads(text) if text and text.strip() else {}
        except ValueError:
            config = {}
        listed = config.get('hosts') if isinstance(config, dict) else None
        hosts = [str(item) for item in listed] if isinstance(listed, list) else []
    addresses = []
    for host in hosts or ['unix://' + DEFAULT_DOCKER_SOCKET]:
        if host.startswith('fd://'):
            found = systemd_socket_listens(ctx, 'docker.socket')
            addresses += found or ['fd:// (a socket systemd passes to dockerd)']
        elif host in ('unix://', 'unix:'):
            addresses.append('unix://' + DEFAULT_DOCKER_SOCKET)
        else:
            addresses.append(host)
    return [address for index, address in enumerate(addresses) if address not in addresses[:index]]


def systemd_socket_listens(ctx, unit):
    """ListenStream= of a systemd socket unit (the first unit file found, then its drop-ins), as addresses."""
    texts = []
    for folder in SYSTEMD_DIRS:
        text = ctx.read(os.path.join(folder, unit))
        if text is not None:
            texts.append(text)
            break
    for folder in SYSTEMD_DIRS:
        dropins = ctx.host.listdir(os.path.join(folder, unit + '.d')) or []
        texts += [ctx.read(os.path.join(folder, unit + '.d', name)) or '' for name in dropins if name.endswith('.conf')]
    listens = []
    for text in texts:
        for value in P.parse_unit_values(text, '[Socket]', 'ListenStream'):
            if value == '':
                listens = []  # an empty assignment resets the list
            elif value.startswith('/'):
                listens.append('unix://' + value)
            else:
                listens.append('tcp://' + value)
    return listens


def socket_activation_guard(ctx, socket_path):
    """Raise EngineError when no dockerd runs and systemd holds the socket (docker.socket).

    Connecting would make systemd start dockerd: asking must not change the host.
    """
    argv = socket_activation_argv(ctx, socket_path)
    if not argv:
        return
    _rc, out, _err = ctx.host.run(argv)
    if out.strip() == 'active':
        raise EngineError('activation', 'no dockerd runs; systemd holds %s (docker.socket)' % socket_path)


def socket_activation_argv(ctx, socket_path):
    """The command that tells whether systemd holds the socket while no dockerd runs; None when not asked."""
    if rootful_dockerd(ctx) is not None or ctx.host.socket_state(socket_path) != 'ok':
        return None
    systemctl = ctx.host.which('systemctl')
    return [systemctl, 'is-active', 'docker.socket'] if systemctl else None


def rootful_dockerd(ctx):
    procs = find_processes(ctx, 'dockerd', uid=0)
    rootless_pids = {proc['pid'] for proc in rootless_dockerds(ctx)}
    procs = [proc for proc in procs if proc['pid'] not in rootless_pids]
    if len(procs) > 1:
        # Several root dockerd visible (nested containers an unprivileged user cannot tell apart):
        # the one in dockerd's default pidfile is the host's.
        pidfile = (ctx.read('/var/run/docker.pid') or '').strip()
        chosen = [proc for proc in procs if str(proc['pid']) == pidfile]
        if chosen:
            return chosen[0]
    return procs[0] if procs else None


def ancestors(ctx, pid):
    table = ctx.by_pid()
    chain = []
    cur = table.get(pid)
    while cur and cur['ppid'] and cur['ppid'] in table and len(chain) < 32:
        cur = table[cur['ppid']]
        chain.append(cur)
    return chain


def rootless_dockerds(ctx):
    """dockerd processes of a rootless Docker: uid != 0, or running under rootlesskit."""
    found = []
    for proc in find_processes(ctx, 'dockerd'):
        chain = ancestors(ctx, proc['pid'])
        kit = next((anc for anc in chain if anc['name'] == 'rootlesskit'), None)
        if proc['uid'] != 0 or kit is not None:
            found.append(dict(proc, rootlesskit_pid=kit['pid'] if kit else None,
                              rootlesskit_uid=kit['uid'] if kit else None))
    return found
