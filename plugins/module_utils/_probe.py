# Private to fleetsafe.container_engine: imported only by this collection's modules, no public API.
#
# What the gatherers of ansible_facts.container_engine share: one gathering run (Context: the host,
# lookups done once, notes for warnings), the dockerd processes (rootful and rootless), systemd units and the
# environment they give a daemon, minimum-API overrides, and GETs on the Engine API with their error sentences.
# Nothing here changes the host.
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import os

from ansible_collections.fleetsafe.container_engine.plugins.module_utils._host import EngineError
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _parse as P


DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock'
DEFAULT_CONTAINERD_SOCKET = '/run/containerd/containerd.sock'
DEFAULT_DAEMON_JSON = '/etc/docker/daemon.json'
DEFAULT_CONTAINERD_CONFIG = '/etc/containerd/config.toml'
MIN_API_ENV = 'DOCKER_MIN_API_VERSION'
SYSTEMD_DIRS = ('/etc/systemd/system', '/run/systemd/system', '/usr/local/lib/systemd/system',
                '/usr/lib/systemd/system', '/lib/systemd/system')


class Context:
    """One gathering run: the host, shared lookups done once, and notes for warnings."""

    def __init__(self, host):
        self.host = host
        self.notes = []
        self._processes = None
        self._packages = None

    def note(self, text):
        if text not in self.notes:
            self.notes.append(text)

    def processes(self):
        if self._processes is None:
            self._processes = self.host.processes()
        return self._processes

    def by_pid(self):
        return {proc['pid']: proc for proc in self.processes()}

    def packages(self):
        if self._packages is None:
            self._packages = {}
            dpkg = self.host.which('dpkg-query')
            if dpkg:
                _rc, out, _err = self.host.run([dpkg, '-W', '-f=' + P.DPKG_FORMAT] + list(P.PACKAGES))
                # rc is 1 when some of the names are unknown to dpkg: the known ones are still printed.
                self._packages = P.parse_dpkg_query(out)
        return self._packages

    def read(self, path, binary=False, why=None):
        try:
            return self.host.read(path, binary=binary)
        except PermissionError:
            self.note('Could not read %s (permission denied)%s: run the task with become: true.'
                      % (path, ' to see ' + why if why else ''))
            return None

    def readlink(self, path, why=None):
        try:
            return self.host.readlink(path)
        except PermissionError:
            self.note('Could not read %s (permission denied)%s: run the task with become: true.'
                      % (path, ' to see ' + why if why else ''))
            return None


def who(ctx):
    user = ctx.host.current_user()
    return user.get('name') or 'uid %s' % user.get('uid')


def engine_error_sentence(ctx, err, socket_path, installed, start='systemctl start docker', what='Docker daemon',
                          rootful=True):
    """One sentence that names the fix, for an EngineError on socket_path."""
    if err.kind == 'missing_sdk':
        return err.detail
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


def api_get(ctx, socket_path, path, params=None):
    """Engine API GET with the socket checked first, so the error says what is wrong."""
    state = ctx.host.socket_state(socket_path)
    if state == 'missing':
        raise EngineError('no_socket', 'no socket at %s' % socket_path)
    if state == 'permission':
        raise EngineError('permission', 'permission denied on %s' % socket_path)
    if state == 'not_socket':
        raise EngineError('not_socket', '%s is not a socket' % socket_path)
    if not ctx.host.sdk_available():
        raise EngineError('missing_sdk', ctx.host.sdk_missing_message())
    return ctx.host.api(socket_path, path, params=params)


def socket_activation_guard(ctx, socket_path):
    """Raise EngineError when no dockerd runs and systemd holds the socket (docker.socket).

    Connecting would make systemd start dockerd: asking must not change the host.
    """
    if rootful_dockerd(ctx) is not None or ctx.host.socket_state(socket_path) != 'ok':
        return
    systemctl = ctx.host.which('systemctl')
    if not systemctl:
        return
    _rc, out, _err = ctx.host.run([systemctl, 'is-active', 'docker.socket'])
    if out.strip() == 'active':
        raise EngineError('activation', 'no dockerd runs; systemd holds %s (docker.socket)' % socket_path)


def find_processes(ctx, name, uid=None):
    return [proc for proc in ctx.processes()
            if proc['name'] == name and (uid is None or proc['uid'] == uid)]


def exe_deleted(ctx, pid):
    target = ctx.readlink('/proc/%s/exe' % pid, why='whether the running binary was replaced')
    if target is None:
        return None
    return target.endswith(' (deleted)')


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


# ------------------------------------------------------------------------------------------------
# rootless
# ------------------------------------------------------------------------------------------------
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
