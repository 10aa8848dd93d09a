# Private to fleetsafe.container_engine: imported only by this collection's modules, no public API.
#
# systemd units and a daemon's environment as systemd gives it: the unit file and drop-ins in effect, Environment= and
# EnvironmentFile= values, and the minimum-API overrides set there or in daemon.json.
# Part of the facts gathering that module_utils/_gather.py names.
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import os

from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _parse as P
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._gather_context import (
    MIN_API_ENV,
    SYSTEMD_DIRS,
)


class _DockerNames(object):
    """Every environment variable name dockerd reads: DOCKER_* and DOCKERD_* (`name in DOCKER_NAMES`)."""

    def __contains__(self, name):
        return isinstance(name, str) and name.startswith('DOCKER')


DOCKER_NAMES = _DockerNames()


def environment_settings(ctx, proc, names, unit='docker.service', unit_dirs=SYSTEMD_DIRS, home=None):
    """[{name, source, value, where}] for every variable in ``names`` a daemon's environment sets, in effect or
    not, in this order: the running daemon's (/proc/PID/environ, sorted by name), Environment= of the unit and its
    drop-ins in ``unit_dirs``, and the environment files they name (Debian's docker.service names
    /etc/default/docker; docker-ce's names none). ``home`` replaces %h."""
    found = []
    if proc:
        where = '/proc/%s/environ' % proc['pid']
        env = ctx.read(where, binary=True, why="the running dockerd's environment")
        if env is not None:
            found += [{'name': name, 'source': 'environment', 'value': value, 'where': where}
                      for name, value in sorted(P.parse_environ(env).items()) if name in names]
    named_files = []
    for folder in unit_dirs:
        candidates = [os.path.join(folder, unit)]
        dropins = ctx.host.listdir(os.path.join(folder, unit + '.d')) or []
        candidates += [os.path.join(folder, unit + '.d', name) for name in sorted(dropins) if name.endswith('.conf')]
        for path in candidates:
            text = ctx.read(path)
            if text is None:
                continue
            source = 'systemd_unit' if path.endswith('.service') else 'systemd_dropin'
            for name, value, directive in P.parse_unit_environment(text, names):
                if directive == 'EnvironmentFile':
                    value = value.replace('%h', home) if home else value
                    if value not in named_files:
                        named_files.append(value)
                else:
                    found.append({'name': name, 'source': source, 'value': value, 'where': path})
    for path in named_files:
        text = ctx.read(path)
        for name, value in P.parse_env_file(text, names):
            found.append({'name': name, 'source': 'environment_file', 'value': value, 'where': path})
    return found


def min_api_overrides(ctx, proc, daemon_json, json_path, unit='docker.service', unit_dirs=SYSTEMD_DIRS, home=None,
                      environment=None):
    """Every DOCKER_MIN_API_VERSION / min-api-version setting found, in effect or not: the running daemon's
    environment, daemon.json, then the unit's, its drop-ins' and its environment files' (environment_settings;
    ``environment``: what it already found for this daemon)."""
    if environment is None:
        environment = environment_settings(ctx, proc, (MIN_API_ENV,), unit, unit_dirs, home)
    found = [{'source': e['source'], 'value': e['value'], 'where': e['where']}
             for e in environment if e['name'] == MIN_API_ENV]
    if isinstance(daemon_json, dict) and daemon_json.get('min-api-version') is not None:
        running = len([o for o in found if o['source'] == 'environment'])
        found.insert(running, {'source': 'daemon_json', 'value': str(daemon_json['min-api-version']),
                               'where': json_path})
    return found


def unit_texts(ctx, unit):
    """[(path, text)] of a system unit as systemd reads them: the first unit file found in SYSTEMD_DIRS, then
    its drop-ins (<unit>.d/*.conf) sorted by file name, a name in an earlier folder hiding the same name later."""
    texts = []
    for folder in SYSTEMD_DIRS:
        path = os.path.join(folder, unit)
        text = ctx.read(path)
        if text is not None:
            texts.append((path, text))
            break
    dropins = {}
    for folder in SYSTEMD_DIRS:
        for name in ctx.host.listdir(os.path.join(folder, unit + '.d')) or []:
            if name.endswith('.conf') and name not in dropins:
                dropins[name] = os.path.join(folder, unit + '.d', name)
    for name in sorted(dropins):
        text = ctx.read(dropins[name])
        if text is not None:
            texts.append((dropins[name], text))
    return texts


def unit_environment(ctx, texts, names):
    """{name: (value, file)} for names set by Environment= or EnvironmentFile= of a unit and its drop-ins
    (systemd: a variable from an environment file overrides one from Environment=)."""
    env, files = {}, []
    for path, text in texts:
        for name, value, directive in P.parse_unit_environment(text, names):
            if directive == 'EnvironmentFile':
                files.append(value)
            else:
                env[name] = (value, path)
    for path in files:
        for name, value in P.parse_env_file(ctx.read(path), names):
            env[name] = (value, path)
    return env


def engine_follows_argv(ctx, unit='docker.service'):
    """The `systemctl show` of the engine unit's dependencies that engine_follows_containerd reads; None without
    systemctl."""
    systemctl = ctx.host.which('systemctl')
    return [systemctl] + P.unit_dependencies_argv(unit)[1:] if systemctl else None


def engine_follows_containerd(ctx, unit='docker.service'):
    """Whether a restart of containerd.service restarts ``unit`` too, as systemd has the unit loaded (its file and
    drop-ins): P.engine_follows_unit of `systemctl show` (Requires=, BindsTo=, PartOf=, Wants=). None when systemctl
    is missing or does not answer (no systemd), or the unit is not loaded."""
    argv = engine_follows_argv(ctx, unit)
    if not argv:
        return None
    rc, out, _err = ctx.host.run(argv)
    return P.engine_follows_unit(out) if rc == 0 else None
