# Private to fleetsafe.container_engine: imported only by this collection's modules, no public API.
#
# Gathers the four parts of ansible_facts.container_engine (docs/facts.md is the contract): docker,
# containerd, rootless, clients. Every function takes a Host (module_utils/_host.py) and returns
# plain data with every key present; problems become one sentence in `error` (naming the fix) and
# short notes the module turns into warnings. Nothing here changes the host.
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import os

from ansible.module_utils.six.moves.urllib.parse import urlsplit

from ansible_collections.fleetsafe.container_engine.plugins.module_utils._host import EngineError
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _hostclients as HC
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _managers as M
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _parse as P

DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock'
DEFAULT_CONTAINERD_SOCKET = '/run/containerd/containerd.sock'
DEFAULT_DAEMON_JSON = '/etc/docker/daemon.json'
DEFAULT_CONTAINERD_CONFIG = '/etc/containerd/config.toml'
MIN_API_ENV = 'DOCKER_MIN_API_VERSION'
SYSTEMD_DIRS = ('/etc/systemd/system', '/run/systemd/system', '/usr/local/lib/systemd/system',
                '/usr/lib/systemd/system', '/lib/systemd/system')
# Kernel modules Docker's networking and storage use (moby/moby contrib/check-config.sh; ip_set,
# ip_set_hash_net and xt_set: Engine 28.0.0 only, moby/moby#49524; iptable_raw / ip6table_raw: the raw-table
# rules of 28.0 and later, moby/moby#49557)
KERNEL_MODULES = ('bridge', 'br_netfilter', 'veth', 'overlay', 'ip_tables', 'ip6_tables', 'iptable_filter',
                  'iptable_nat', 'iptable_raw', 'ip6table_raw', 'nf_nat', 'nf_conntrack', 'nf_tables', 'nft_compat',
                  'xt_conntrack', 'xt_MASQUERADE', 'xt_addrtype', 'ip_set', 'ip_set_hash_net', 'xt_set')
SHIM_DIRS = ('/usr/local/bin', '/usr/bin', '/usr/local/sbin', '/usr/sbin', '/bin', '/sbin')
# Shims that follow containerd's shim CLI and answer -v; others are listed without a version.
SHIMS_WITH_VERSION_FLAG = ('containerd-shim-runc-v2', 'containerd-shim-runc-v1')


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
            argv = dpkg_query_argv(self)
            if argv:
                _rc, out, _err = self.host.run(argv)
                # rc is 1 when some of the names are unknown to dpkg: the known ones are still printed.
                self._packages = P.parse_dpkg_query(out)
        return self._packages

    def start_commands(self, argvs):
        """Start the commands the gatherers will run, side by side (a host that cannot just lets them run one
        after the other when asked)."""
        start = getattr(self.host, 'start_commands', None)
        argvs = [argv for argv in argvs if argv]
        if start is not None and argvs:
            self.processes()   # the process table as it was before: `containerd --version` is no containerd daemon
            start(argvs)

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
    return ctx.host.api(socket_path, path, params=params)


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


def dpkg_query_argv(ctx):
    dpkg = ctx.host.which('dpkg-query')
    return [dpkg, '-W', '-f=' + P.DPKG_FORMAT] + list(P.PACKAGES) if dpkg else None


def planned_commands(ctx, parts, socket_path, containerd_socket):
    """The commands gathering `parts` runs whatever their answers (each built by the function its gatherer
    uses), so that run_facts_module can start them together: their wall times overlap instead of adding up.
    Commands that depend on an earlier answer (a rootless daemon's tools, a client's version) run when asked."""
    argvs = []
    if 'docker' in parts or 'containerd' in parts:
        argvs.append(dpkg_query_argv(ctx))
    if 'docker' in parts:
        argvs += [detect_virt_argv(ctx, '--container'), detect_virt_argv(ctx, '--vm'), iptables_argv(ctx),
                  firewalld_argv(ctx), socket_activation_argv(ctx, socket_path)]
    if 'containerd' in parts:
        argvs += [containerd_version_argv(ctx), ctr_version_argv(ctx, containerd_socket)]
        argvs += [argv for _name, _path, argv in shim_binaries(ctx)]
    if 'clients' in parts and 'docker' not in parts:
        argvs.append(socket_activation_argv(ctx, socket_path))
    return [argv for argv in argvs if argv]


def find_processes(ctx, name, uid=None):
    return [proc for proc in ctx.processes()
            if proc['name'] == name and (uid is None or proc['uid'] == uid)]


def exe_deleted(ctx, pid):
    target = ctx.readlink('/proc/%s/exe' % pid, why='whether the running binary was replaced')
    if target is None:
        return None
    return target.endswith(' (deleted)')


# ------------------------------------------------------------------------------------------------
# docker
# ------------------------------------------------------------------------------------------------
def empty_docker(socket_path):
    return {
        'can_talk_to_docker': False, 'error': None, 'socket': socket_path, 'pid': None, 'exe_deleted': None,
        'version': None, 'api_version': None, 'min_api_version': None, 'components': {},
        'storage_driver': None, 'cgroup_driver': None, 'cgroup_version': None, 'live_restore': None,
        'security_options': [], 'containers': {'total': None, 'running': None, 'paused': None, 'stopped': None},
        'daemon_json_path': DEFAULT_DAEMON_JSON, 'daemon_json': {}, 'min_api_overrides': [],
        'daemon_environment': [], 'daemon_flags': [], 'host': empty_host(),
        'packages': {}, 'package_family': None, 'package_version': None, 'installed_version': None, 'stale': None,
    }


def empty_host():
    return {'container': None, 'virtualization': None, 'kernel_release': None,
            'kernel_modules': {name: None for name in KERNEL_MODULES}, 'iptables_version': None,
            'iptables_backend': None, 'firewalld_active': None}


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


def gather_docker(ctx, socket_path=DEFAULT_DOCKER_SOCKET):
    facts = empty_docker(socket_path)
    packages = ctx.packages()
    facts['packages'] = packages
    facts['package_family'] = P.package_family(packages)
    facts['package_version'] = P.component_package(packages, 'engine')[1]
    facts['installed_version'] = P.engine_package_version(packages)

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


# ------------------------------------------------------------------------------------------------
# the host the engine runs on
# ------------------------------------------------------------------------------------------------
def detect_virt_argv(ctx, option):
    tool = ctx.host.which('systemd-detect-virt')
    return [tool, option] if tool else None


def _detect_virt(ctx, option):
    argv = detect_virt_argv(ctx, option)
    if not argv:
        return None
    rc, out, _err = ctx.host.run(argv)
    answer = out.strip()
    # rc 0 and a name, or rc 1 and "none"; anything else (no answer) is unknown
    return answer if answer and (rc == 0 or answer == 'none') else None


def container_environment(ctx):
    """The container manager this host runs in (lxc, docker, podman, systemd-nspawn, wsl ...), 'none' when
    systemd-detect-virt says so, None when it cannot be told."""
    found = _detect_virt(ctx, '--container')
    if found is not None:
        return found
    text = ctx.read('/run/systemd/container')
    if text and text.strip():
        return text.strip()
    env = ctx.read('/proc/1/environ', binary=True, why='the container environment this host runs in')
    value = P.parse_environ(env).get('container') if env is not None else None
    return value or None


def kernel_modules(ctx, release):
    """{module: loaded | builtin | available | missing | None} for KERNEL_MODULES; None when not loaded and the
    kernel's module lists (/lib/modules/RELEASE) cannot be read (a container without them)."""
    def names(text, parse):
        return {name.lower() for name in parse(text)} if text is not None else None

    loaded = names(ctx.read('/proc/modules'), P.parse_proc_modules)
    builtin = dep = None
    if release:
        builtin = names(ctx.read('/lib/modules/%s/modules.builtin' % release), P.parse_module_list)
        dep = names(ctx.read('/lib/modules/%s/modules.dep' % release), P.parse_module_list)
    states = {}
    for name in KERNEL_MODULES:
        key = name.lower()
        if loaded is not None and key in loaded:
            states[name] = 'loaded'
        elif builtin is not None and key in builtin:
            states[name] = 'builtin'
        elif dep is not None and key in dep:
            states[name] = 'available'
        elif builtin is not None and dep is not None:
            states[name] = 'missing'
        else:
            states[name] = None
    return states


def firewalld_argv(ctx):
    """systemctl is-active firewalld; None when a firewalld process already answers, or no systemctl."""
    if find_processes(ctx, 'firewalld'):
        return None
    systemctl = ctx.host.which('systemctl')
    return [systemctl, 'is-active', 'firewalld'] if systemctl else None


def iptables_argv(ctx):
    iptables = ctx.host.which('iptables')
    return [iptables, '-V'] if iptables else None


def firewalld_active(ctx):
    if find_processes(ctx, 'firewalld'):
        return True
    argv = firewalld_argv(ctx)
    if argv:
        _rc, out, _err = ctx.host.run(argv)
        answer = out.strip()
        if answer:
            return answer == 'active'
    return False if ctx.processes() else None


def gather_host(ctx):
    facts = empty_host()
    facts['container'] = container_environment(ctx)
    facts['virtualization'] = _detect_virt(ctx, '--vm')
    release = (ctx.read('/proc/sys/kernel/osrelease') or '').strip() or None
    facts['kernel_release'] = release
    facts['kernel_modules'] = kernel_modules(ctx, release)
    argv = iptables_argv(ctx)
    if argv:
        _rc, out, err = ctx.host.run(argv)
        facts['iptables_version'], facts['iptables_backend'] = P.parse_iptables_version(out or err)
    facts['firewalld_active'] = firewalld_active(ctx)
    return facts


# ------------------------------------------------------------------------------------------------
# containerd
# ------------------------------------------------------------------------------------------------
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
            'driver_source': None, 'slirp4netns_version': None, 'systemd_unit': None,
            'linger': bool(user) and ctx.host.exists('/var/lib/systemd/linger/%s' % user), 'error': None,
        }
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


# Labels that name the release an image was built as, in the order they are read: the OCI image spec's annotation,
# then the older label-schema.org convention. Not read: `version` (Red Hat's base images set it to their own release,
# which every image built on them inherits) and `io.buildah.version` (the build tool's release).
VERSION_LABELS = ('org.opencontainers.image.version', 'org.label-schema.version')


def learned_version(tag, labels):
    """{'version', 'source'} for a container whose image tag names no release (latest, none, a digest, a partial
    release such as 3 or 3.6) when one of VERSION_LABELS does, else None. The labels are the container's
    configuration, which holds its image's labels (the engine copies them in when it creates the container). A label
    value that is not a release of three parts, or that the tag cannot stand for (tag 3, label 2.11.5), is not used."""
    if P.names_release(tag):
        return None
    for label in VERSION_LABELS:
        value = (labels.get(label) or '').strip()
        parts = P.release_parts(value)
        if parts is not None and len(parts) >= 3 and P.tag_admits(tag, value):
            return {'version': value, 'source': 'label:' + label}
    return None


# At most this many tags of a repository are asked for their digest, newest release first.
MAX_TAGS_ASKED = 100
DOCKER_HUB_HOSTS = ('registry-1.docker.io', 'index.docker.io', 'registry.hub.docker.com', 'docker.io')


def registry_name(item):
    """How image names spell a registry the task names: its `name`, else the host and port of its URL (docker.io
    for Docker Hub's)."""
    if item.get('name'):
        return item['name'].lower()
    host = urlsplit(item['url']).netloc.lower()
    return 'docker.io' if host in DOCKER_HUB_HOSTS else host


def digest_reference(ref):
    """'127.0.0.1:5000/acme/agent@sha256:ab..' -> ('127.0.0.1:5000', 'acme/agent', 'sha256:ab..');
    'traefik@sha256:..' -> ('docker.io', 'library/traefik', 'sha256:..')."""
    name, _sep, digest = ref.partition('@')
    first, slash, rest = name.partition('/')
    if slash and ('.' in first or ':' in first or first == 'localhost'):
        registry, repository = first.lower(), rest
    else:
        registry, repository = 'docker.io', name
    if registry == 'docker.io' and '/' not in repository:
        repository = 'library/' + repository
    return registry, repository, digest


def registry_version(ctx, socket_path, image_id, tag, registries):
    """{'version', 'source'} from a registry the task names: the newest release tag (one the container's floating tag
    can stand for) whose manifest digest is one of the image's RepoDigests; else None. A registry that cannot be
    asked becomes a warning, never a failure."""
    by_name = {registry_name(item): item['url'] for item in registries or []}
    if not by_name or not image_id:
        return None
    try:
        digests = api_get(ctx, socket_path, '/images/%s/json' % image_id).get('RepoDigests') or []
    except EngineError as err:
        ctx.note('Could not read the image %s of a client container: %s' % (image_id[:19], err.detail))
        return None
    for ref in digests:
        registry, repository, digest = digest_reference(ref)
        url = by_name.get(registry)
        if url is None or not digest:
            continue
        try:
            tags = [t for t in ctx.host.registry_tags(url, repository) if P.names_release(t) and P.tag_admits(tag, t)]
            for candidate in sorted(tags, key=P.release_parts, reverse=True)[:MAX_TAGS_ASKED]:
                if ctx.host.registry_digest(url, repository, candidate) == digest:
                    return {'version': candidate, 'source': 'registry:%s/%s:%s' % (registry, repository, candidate)}
        except EngineError as err:
            ctx.note('Could not ask the registry %s which release %s is: %s' % (url, ref, err.detail))
    return None


def client_manager(ctx, labels):
    """{'managed_by', 'manager'} of a socket mount: the manager its labels name (M.manager_of) and, for Compose,
    where the service's image is written in the files the labels name and whether the move can change it there."""
    managed_by, manager = M.manager_of(labels)
    if managed_by == 'compose':
        def read(path):
            text = ctx.host.read(path)
            return text.decode('utf-8', 'replace') if isinstance(text, bytes) else text
        image_file, image, problem = M.locate_compose_image(manager, read)
        manager.update(image_file=image_file, image_in_file=image, problem=problem)
    return {'managed_by': managed_by, 'manager': manager}


def gather_clients(ctx, socket_path=DEFAULT_DOCKER_SOCKET, declared=None, host_processes=True, registries=None):
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
            config = detail.get('Config') or {}
            env = {}
            for item in config.get('Env') or []:
                if '=' in item:
                    key, value = item.split('=', 1)
                    env[key] = value
            image = config.get('Image') or summary.get('Image')
            image_name, image_tag = P.split_image(image)
            names = summary.get('Names') or [detail.get('Name') or '']
            facts['socket_mounts'].append({
                'name': names[0].lstrip('/'), 'id': summary['Id'][:12], 'image': image,
                'image_name': image_name, 'image_tag': image_tag,
                'state': summary.get('State') or (detail.get('State') or {}).get('Status'),
                'socket_path': mounts[0].get('Source'), 'mount_destination': mounts[0].get('Destination'),
                'api_version_env': env.get('DOCKER_API_VERSION'), 'docker_host_env': env.get('DOCKER_HOST'),
                'labels': summary.get('Labels') or {},
                'version_learned': learned_version(image_tag, config.get('Labels') or {}),
            })
            if facts['socket_mounts'][-1]['version_learned'] is None and not P.names_release(image_tag):
                facts['socket_mounts'][-1]['version_learned'] = registry_version(
                    ctx, socket_path, detail.get('Image'), image_tag, registries)
            facts['socket_mounts'][-1].update(client_manager(ctx, summary.get('Labels') or {}))
    except EngineError as err:
        facts['error'] = engine_error_sentence(ctx, err, socket_path, installed)
    facts['socket_mounts'].sort(key=lambda item: item['name'])
    return facts
