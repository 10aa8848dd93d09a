# Private to fleetsafe.container_engine: imported only by this collection's modules, no public API.
#
# The docker part of the facts: the rootful engine as its API, its process, units, daemon.json and packages show it.
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
    api_get,
    exe_deleted,
)
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._gather_daemons import (
    engine_error_sentence,
    rootful_dockerd,
    socket_activation_guard,
)
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._gather_host import empty_host, gather_host
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._gather_units import (
    DOCKER_NAMES,
    engine_follows_containerd,
    environment_settings,
    min_api_overrides,
    unit_environment,
    unit_texts,
)


def empty_docker(socket_path):
    return {
        'can_talk_to_docker': False, 'error': None, 'socket': socket_path, 'pid': None, 'exe_deleted': None,
        'version': None, 'api_version': None, 'min_api_version': None, 'components': {},
        'storage_driver': None, 'cgroup_driver': None, 'cgroup_version': None, 'live_restore': None,
        'security_options': [], 'containers': {'total': None, 'running': None, 'paused': None, 'stopped': None},
        'daemon_json_path': DEFAULT_DAEMON_JSON, 'daemon_json': {}, 'min_api_overrides': [],
        'daemon_environment': [], 'daemon_flags': [], 'host': empty_host(),
        'packages': {}, 'package_family': None, 'package_version': None, 'installed_version': None, 'stale': None,
        'restarts_with_containerd': None, 'containerd_dependency': None,
    }


def gather_docker(ctx, socket_path=DEFAULT_DOCKER_SOCKET):
    facts = empty_docker(socket_path)
    packages = ctx.packages()
    facts['packages'] = packages
    facts['package_family'] = P.package_family(packages)
    facts['package_version'] = P.component_package(packages, 'engine')[1]
    facts['installed_version'] = P.engine_package_version(packages)
    follows = engine_follows_containerd(ctx)
    if follows is not None:
        facts['restarts_with_containerd'] = follows['restarts_with']
        facts['containerd_dependency'] = follows['dependency']

    proc = rootful_dockerd(ctx)
    argv = []
    if proc:
        facts['pid'] = proc['pid']
        facts['exe_deleted'] = exe_deleted(ctx, proc['pid'])
        argv = P.parse_cmdline(ctx.read('/proc/%s/cmdline' % proc['pid'], binary=True))

    # daemon.json: --config-file of the running dockerd, else the default path.
    json_path = P.cmdline_option(argv, '--config-file') or DEFAULT_DAEMON_JSON
    facts['daemon_json_path'] = json_path
    errors = []
    text = ctx.read(json_path, why='the daemon configuration')
    if text is not None and text.strip():
        try:
            parsed = json.loads(text)
            facts['daemon_json'] = parsed if isinstance(parsed, dict) else {}
            if not isinstance(parsed, dict):
                errors.append('%s is not a JSON object: fix the file before restarting docker.' % json_path)
        except ValueError as exc:
            errors.append('%s is not valid JSON (%s): fix it before restarting docker, dockerd will not start '
                          'with it.' % (json_path, exc))
    facts['daemon_environment'] = environment_settings(ctx, proc, DOCKER_NAMES)
    facts['min_api_overrides'] = min_api_overrides(ctx, proc, facts['daemon_json'], json_path,
                                                   environment=facts['daemon_environment'])
    facts['daemon_flags'] = daemon_flags(ctx, proc, argv)
    facts['host'] = gather_host(ctx)

    installed = bool(proc or ctx.host.which('dockerd') or packages.get('docker.io') or packages.get('docker-ce'))
    try:
        socket_activation_guard(ctx, socket_path)
        version = api_get(ctx, socket_path, '/version')
        facts['can_talk_to_docker'] = True
        info = api_get(ctx, socket_path, '/info')
    except EngineError as err:
        errors.insert(0, engine_error_sentence(ctx, err, socket_path, installed))
        facts['error'] = ' '.join(errors) or None
        return facts

    facts['version'] = version.get('Version')
    facts['api_version'] = version.get('ApiVersion')
    facts['min_api_version'] = version.get('MinAPIVersion')
    facts['components'] = P.components_by_name(version)
    facts['storage_driver'] = info.get('Driver')
    facts['cgroup_driver'] = info.get('CgroupDriver')
    cgroup_version = info.get('CgroupVersion')
    facts['cgroup_version'] = str(cgroup_version) if cgroup_version not in (None, '') else None
    facts['live_restore'] = info.get('LiveRestoreEnabled')
    facts['security_options'] = list(info.get('SecurityOptions') or [])
    facts['containers'] = {
        'total': info.get('Containers'), 'running': info.get('ContainersRunning'),
        'paused': info.get('ContainersPaused'), 'stopped': info.get('ContainersStopped'),
    }
    if facts['installed_version'] and facts['version']:
        facts['stale'] = P.upstream_version(facts['version']) != facts['installed_version']
    facts['error'] = ' '.join(errors) or None
    return facts


def daemon_flags(ctx, proc, argv):
    """Every flag on the running dockerd's command line and on the ExecStart= of docker.service in effect."""
    found = []
    if argv:
        where = '/proc/%s/cmdline' % proc['pid']
        found += [{'flag': flag, 'value': value, 'source': 'cmdline', 'where': where}
                  for flag, value in P.dockerd_flags(argv)]
    texts = unit_texts(ctx, 'docker.service')
    path, unit_argv = P.effective_exec_start(texts)
    if unit_argv and os.path.basename(unit_argv[0]) == 'dockerd':
        source = 'systemd_unit' if path.endswith('.service') else 'systemd_dropin'
        plain = [arg for arg in unit_argv if not P.ENV_WORD.match(arg)]
        found += [{'flag': flag, 'value': value, 'source': source, 'where': path}
                  for flag, value in P.dockerd_flags(plain)]
        words = [P.ENV_WORD.match(arg).group(1) or P.ENV_WORD.match(arg).group(2)
                 for arg in unit_argv[1:] if P.ENV_WORD.match(arg)]
        env = unit_environment(ctx, texts, words) if words else {}
        for name in words:
            if name in env:
                value, where = env[name]
                found += [{'flag': flag, 'value': flag_value, 'source': source, 'where': where}
                          for flag, flag_value in P.dockerd_flags(['dockerd'] + value.split())]
    elif unit_argv:
        ctx.note('ExecStart= of docker.service (%s) runs %s, not dockerd: its flags were not read.'
                 % (path, unit_argv[0]))
    return found
