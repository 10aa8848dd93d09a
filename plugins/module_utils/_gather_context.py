# Private to fleetsafe.container_engine: imported only by this collection's modules, no public API.
#
# One facts-gathering run (Context: the host, the process table and the installed packages read once, notes for
# warnings), the default sockets and paths, and the Engine API GET with its socket checked first.
# Part of the facts gathering that module_utils/_gather.py names.
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

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


def dpkg_query_argv(ctx):
    dpkg = ctx.host.which('dpkg-query')
    return [dpkg, '-W', '-f=' + P.DPKG_FORMAT] + list(P.PACKAGES) if dpkg else None


def find_processes(ctx, name, uid=None):
    return [proc for proc in ctx.processes()
            if proc['name'] == name and (uid is None or proc['uid'] == uid)]


def exe_deleted(ctx, pid):
    target = ctx.readlink('/proc/%s/exe' % pid, why='whether the running binary was replaced')
    if target is None:
        return None
    return target.endswith(' (deleted)')
