# Private to fleetsafe.container_engine: imported only by this collection's modules, no public API.
#
# The rootless part of the facts: each user's rootless dockerd, its version, units and minimum-API overrides.
# Part of the facts gathering that module_utils/_gather.py names.
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import os

from ansible_collections.fleetsafe.container_engine.plugins.module_utils._host import EngineError
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _parse as P
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._gather_context import api_get
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._gather_daemons import (
    engine_error_sentence,
    rootless_dockerds,
)
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._gather_units import min_api_overrides


def gather_rootless(ctx):
    facts = {'daemons': [], 'error': None}
    procs = rootless_dockerds(ctx)
    if not procs:
        return facts
    installed_versions = {}

    def installed_version(name):
        if name not in installed_versions:
            installed_versions[name] = None
            binary = ctx.host.which(name)
            if binary:
                _rc, out, _err = ctx.host.run([binary, '--version'])
                installed_versions[name] = P.parse_simple_version(out)
        return installed_versions[name]

    errors = []
    for proc in procs:
        uid = proc['rootlesskit_uid'] if proc['rootlesskit_uid'] is not None else proc['uid']
        user = ctx.host.user_name(uid)
        pid = proc['pid']
        argv = P.parse_cmdline(ctx.read('/proc/%s/cmdline' % pid, binary=True))
        env = P.parse_environ(ctx.read('/proc/%s/environ' % pid, binary=True,
                                       why='the rootless dockerd environment') or b'')
        kit_argv = []
        kit_env = {}
        if proc['rootlesskit_pid']:
            kit_argv = P.parse_cmdline(ctx.read('/proc/%s/cmdline' % proc['rootlesskit_pid'], binary=True))
            kit_env = P.parse_environ(ctx.read('/proc/%s/environ' % proc['rootlesskit_pid'], binary=True,
                                               why='the rootlesskit environment') or b'')
        host_opt = P.cmdline_option(argv, '--host', '-H')
        runtime_dir = env.get('XDG_RUNTIME_DIR') or kit_env.get('XDG_RUNTIME_DIR') or '/run/user/%s' % uid
        socket_path = None
        if host_opt and host_opt.startswith('unix://'):
            socket_path = host_opt[len('unix://'):]
        elif not host_opt or host_opt.startswith('fd://'):
            socket_path = os.path.join(runtime_dir, 'docker.sock')
        daemon = {
            'user': user, 'uid': uid, 'pid': pid, 'rootlesskit_pid': proc['rootlesskit_pid'],
            'socket': socket_path, 'engine_version': None, 'api_version': None, 'min_api_version': None,
            'rootlesskit_version': None, 'net_driver': None, 'port_driver': None,
            'driver_source': None, 'slirp4netns_version': None, 'systemd_unit': None, 'script': None,
            'script_family': None,
            'linger': bool(user) and ctx.host.exists('/var/lib/systemd/linger/%s' % user), 'error': None,
        }
        daemon['script'], daemon['script_family'] = P.rootless_script(kit_argv)
        cgroup = ctx.read('/proc/%s/cgroup' % pid)
        daemon['systemd_unit'] = P.user_unit_from_cgroup(cgroup)
        daemon['min_api_overrides'] = rootless_min_api_overrides(ctx, proc, argv, env, daemon['systemd_unit'])

        components = {}
        if socket_path:
            try:
                version = api_get(ctx, socket_path, '/version')
                daemon['engine_version'] = version.get('Version')
                daemon['api_version'] = version.get('ApiVersion')
                daemon['min_api_version'] = version.get('MinAPIVersion')
                components = P.components_by_name(version)
            except EngineError as err:
                daemon['error'] = engine_error_sentence(
                    ctx, err, socket_path, True, start='systemctl --user start docker',
                    what='rootless Docker daemon of %s' % user, rootful=False)
                errors.append(daemon['error'])
        kit = components.get('rootlesskit') or {}
        details = kit.get('details') or {}
        if details.get('NetworkDriver') or details.get('PortDriver'):
            daemon['net_driver'] = details.get('NetworkDriver')
            daemon['port_driver'] = details.get('PortDriver')
            daemon['driver_source'] = 'engine'
        if not daemon['net_driver'] and kit_argv:
            daemon['net_driver'] = P.cmdline_option(kit_argv, '--net')
            daemon['port_driver'] = P.cmdline_option(kit_argv, '--port-driver')
            daemon['driver_source'] = 'rootlesskit_cmdline'
        if not daemon['net_driver']:
            merged = dict(kit_env, **env)
            net = merged.get('DOCKERD_ROOTLESS_ROOTLESSKIT_NET')
            port = merged.get('DOCKERD_ROOTLESS_ROOTLESSKIT_PORT_DRIVER')
            if net or port:
                daemon['net_driver'], daemon['port_driver'] = net, port
                daemon['driver_source'] = 'environment'
        # Versions as the daemon reports them (Server.Components), else the installed binaries'.
        daemon['rootlesskit_version'] = kit.get('version')
        if not daemon['rootlesskit_version'] and proc['rootlesskit_pid']:
            daemon['rootlesskit_version'] = installed_version('rootlesskit')
        daemon['slirp4netns_version'] = (components.get('slirp4netns') or {}).get('version')
        if not daemon['slirp4netns_version']:
            daemon['slirp4netns_version'] = installed_version('slirp4netns')
        facts['daemons'].append(daemon)
    facts['error'] = ' '.join(errors) or None
    return facts


def rootless_min_api_overrides(ctx, proc, argv, env, unit):
    """The minimum-API overrides of one user's rootless dockerd: its environment, its daemon.json
    ($XDG_CONFIG_HOME/docker/daemon.json unless --config-file), its user unit and drop-ins (systemd's user unit
    path, systemd.unit(5)) and the environment files they name. No /etc/default/docker: the rootless script does
    not read it."""
    home = env.get('HOME')
    config = env.get('XDG_CONFIG_HOME') or (os.path.join(home, '.config') if home else None)
    json_path = P.cmdline_option(argv, '--config-file') or (os.path.join(config, 'docker', 'daemon.json')
                                                            if config else None)
    daemon_json = {}
    text = ctx.read(json_path) if json_path else None
    if text and text.strip():
        try:
            daemon_json = json.loads(text)
        except ValueError:
            daemon_json = {}   # dockerd itself says so when it starts; the override is unreadable either way
    runtime = env.get('XDG_RUNTIME_DIR')
    unit_dirs = [d for d in (os.path.join(config, 'systemd', 'user') if config else None,
                             os.path.join(runtime, 'systemd', 'transient') if runtime else None, '/etc/systemd/user',
                             os.path.join(runtime, 'systemd', 'user') if runtime else None,
                             '/run/systemd/user', os.path.join(home, '.local/share/systemd/user') if home else None,
                             '/usr/local/lib/systemd/user', '/usr/lib/systemd/user') if d]
    return min_api_overrides(ctx, proc, daemon_json, json_path, unit=unit or 'docker.service', unit_dirs=unit_dirs,
                             home=home)
