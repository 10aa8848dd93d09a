# Private to fleetsafe.container_engine: imported only by this collection's modules, no public API.
#
# The containerd part of the facts: daemon and binary versions (ctr, containerd --version), config, the runc shims.
# Part of the facts gathering that module_utils/_gather.py names.
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import os

from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _parse as P
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._gather_context import (
    DEFAULT_CONTAINERD_CONFIG,
    DEFAULT_CONTAINERD_SOCKET,
    exe_deleted,
    find_processes,
    who,
)


SHIM_DIRS = ('/usr/local/bin', '/usr/bin', '/usr/local/sbin', '/usr/sbin', '/bin', '/sbin')


# Shims that follow containerd's shim CLI and answer -v; others are listed without a version.
SHIMS_WITH_VERSION_FLAG = ('containerd-shim-runc-v2', 'containerd-shim-runc-v1')


def empty_containerd(socket_path):
    return {
        'installed': False, 'path': None, 'installed_version': None, 'installed_version_raw': None,
        'running': False, 'running_version': None, 'running_version_raw': None, 'pid': None,
        'exe_deleted': None, 'restart_required': False, 'restart_reasons': [], 'socket': socket_path,
        'config_path': DEFAULT_CONTAINERD_CONFIG, 'config_version': None, 'shims': [],
        'package': None, 'package_version': None, 'package_family': None, 'error': None,
    }


def containerd_version_argv(ctx):
    binary = ctx.host.which('containerd')
    return [binary, '--version'] if binary else None


def ctr_version_argv(ctx, socket_path):
    """ctr version against the socket (the daemon's Version service); None when the socket cannot be used."""
    ctr = ctx.host.which('ctr')
    if not ctr or ctx.host.socket_state(socket_path) != 'ok':
        return None
    return [ctr, '--address', socket_path, '--timeout', '%ss' % getattr(ctx.host, 'timeout', 10), 'version']


def shim_binaries(ctx):
    """[(name, path, argv that prints its version or None)] for every containerd shim on the usual paths."""
    seen, found = set(), []
    for folder in SHIM_DIRS:
        for name in ctx.host.listdir(folder) or []:
            if not name.startswith('containerd-shim') or name in seen:
                continue
            seen.add(name)
            path = os.path.join(folder, name)
            found.append((name, path, [path, '-v'] if name in SHIMS_WITH_VERSION_FLAG else None))
    return found


def gather_containerd(ctx, socket_path=DEFAULT_CONTAINERD_SOCKET, engine_components=None):
    facts = empty_containerd(socket_path)
    argv = containerd_version_argv(ctx)
    if argv:
        facts['installed'] = True
        facts['path'] = argv[0]
        _rc, out, _err = ctx.host.run(argv)
        raw, _revision = P.parse_containerd_version(out)
        facts['installed_version_raw'] = raw
        facts['installed_version'] = P.upstream_version(raw)
    packages = ctx.packages()
    facts['package'], facts['package_version'] = P.component_package(packages, 'containerd')
    facts['package_family'] = P.package_family(packages, 'containerd')

    # The running daemon: a root containerd process (not a shim, not a rootless user's).
    procs = find_processes(ctx, 'containerd', uid=0)
    proc = None
    for candidate in procs:
        argv = P.parse_cmdline(ctx.read('/proc/%s/cmdline' % candidate['pid'], binary=True))
        address = P.cmdline_option(argv, '--address', '-a')
        if address in (None, socket_path):
            proc = candidate
            facts['config_path'] = P.cmdline_option(argv, '--config', '-c') or DEFAULT_CONTAINERD_CONFIG
            break
    if proc is None and procs:
        proc = procs[0]
    if proc:
        facts['running'] = True
        facts['pid'] = proc['pid']
        facts['exe_deleted'] = exe_deleted(ctx, proc['pid'])

    text = ctx.read(facts['config_path'], why='the containerd configuration')
    facts['config_version'] = P.parse_config_toml_version(text)

    errors = []
    # Running version: the daemon's Version service, through ctr.
    state = ctx.host.socket_state(socket_path)
    argv = ctr_version_argv(ctx, socket_path)
    if argv:
        rc, out, err = ctx.host.run(argv)
        server = P.parse_ctr_version(out)['server']
        if server.get('Version'):
            facts['running'] = True
            facts['running_version_raw'] = server['Version']
        elif rc != 0:
            errors.append('containerd did not answer on %s (%s): check it with `systemctl status containerd`.'
                          % (socket_path, (err or out).strip().splitlines()[-1] if (err or out).strip() else rc))
    elif state == 'permission':
        errors.append('User %s may not use %s (permission denied), so the running containerd version is '
                      'unknown: run the task with `become: true`.' % (who(ctx), socket_path))
    if facts['running_version_raw'] is None and engine_components and engine_components.get('containerd'):
        # Fallback: what dockerd reports for the containerd it talks to (its Version service, too).
        facts['running_version_raw'] = engine_components['containerd'].get('version')
        if facts['running_version_raw']:
            errors[:] = []
    facts['running_version'] = P.upstream_version(facts['running_version_raw'])
    if facts['running_version']:
        facts['running'] = True

    if not facts['installed'] and not facts['running']:
        facts['error'] = ('containerd is not installed on this host: install the containerd (Debian) or '
                          'containerd.io (Docker) package.')
    elif facts['installed'] and not facts['running'] and state != 'permission':
        errors.append('containerd is installed but not running (no daemon on %s): start it with '
                      '`systemctl start containerd`.' % socket_path)

    # Shim binaries and the versions they print (which protocol each speaks is the knowledge base's call).
    for name, path, argv in shim_binaries(ctx):
        version = None
        if argv:
            _rc, out, _err = ctx.host.run(argv)
            version = P.parse_shim_version(out)
        facts['shims'].append({'name': name, 'path': path, 'version': version,
                               'version_normalized': P.upstream_version(version)})
    facts['shims'].sort(key=lambda shim: shim['name'])

    reasons = []
    if facts['running_version'] and facts['installed_version'] and \
            facts['running_version'] != facts['installed_version']:
        reasons.append('running %s != installed %s' % (facts['running_version'], facts['installed_version']))
    if facts['exe_deleted']:
        reasons.append('binary replaced (/proc/%s/exe is deleted)' % facts['pid'])
    facts['restart_reasons'] = reasons
    if reasons:
        facts['restart_required'] = True
    elif facts['running'] and (facts['running_version'] is None or facts['exe_deleted'] is None):
        facts['restart_required'] = None  # cannot tell (see error / warnings)
    else:
        facts['restart_required'] = False
    if facts['error'] is None:
        facts['error'] = ' '.join(errors) or None
    return facts
