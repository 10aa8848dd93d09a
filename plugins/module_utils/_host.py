# Private to fleetsafe.container_engine: imported only by this collection's modules, no public API.
#
# Everything the facts modules read from a host goes through one small class, so the unit tests can
# replay responses recorded from real daemons (tests/unit/modules/fixtures/) through the same code.
# Reads only: commands run with argument lists (never a shell), files are opened read-only, the
# Docker Engine API is reached over unix sockets only, with the standard library (_engine_api.py): the
# facts modules need no Docker SDK on the managed host; a container registry only when the task names it.
# Commands a gathering run will need can be started together (start_commands) so that their wall times overlap.
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import errno
import json
import os
import pwd
import socket
import stat
import struct
import subprocess
import sys

from ansible_collections.fleetsafe.container_engine.plugins.module_utils._engine_api import EngineClient
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._parse import parse_status, parse_unix_diag
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._registry import Registry, RegistryError

# sock_diag netlink (linux/sock_diag.h, linux/unix_diag.h): the dump `ss -x` reads.
_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST = 0x1
_NLM_F_DUMP = 0x300
_UDIAG_SHOW_PEER = 0x4
_ALL_STATES = 0xffffffff
_NO_COOKIE = 0xffffffff

# api_client_move's Docker SDK client: any API version the SDK accepts, since requests are sent without a
# version prefix (the daemon serves them at its own default); naming one keeps the SDK from negotiating.
_SDK_PINNED_VERSION = '1.24'


class EngineError(Exception):
    """The Engine API could not be used. kind: no_socket, permission, refused, timeout, http, other."""

    def __init__(self, kind, detail, status=None):
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.status = status


def sdk_missing_message():
    """api_client_move's one use of the Docker SDK (the facts modules need none)."""
    return ("The Python library 'docker' is missing for %s on the host: install python3-docker "
            "(Debian/Ubuntu) or run `pip install docker`." % sys.executable)


class Host:
    """The real host. run() uses AnsibleModule.run_command when a module is given."""

    def __init__(self, module=None, timeout=10, registries=None):
        self.module = module
        self.timeout = timeout
        self._clients = {}
        self._which = {}
        self._started = {}
        # the registries the task names, by URL, with their credentials (never returned, never in a message)
        self._registries = {item['url']: item for item in registries or []}
        self._registry_clients = {}

    # --- container registries (only those the task names) ----------------------------------
    def _registry(self, url):
        if url not in self._registry_clients:
            item = self._registries.get(url) or {'url': url}
            self._registry_clients[url] = Registry(url, item.get('username'), item.get('password'),
                                                   item.get('validate_certs', True), self.timeout)
        return self._registry_clients[url]

    def _ask_registry(self, url, question, *args):
        try:
            return getattr(self._registry(url), question)(*args)
        except RegistryError as exc:
            raise EngineError('registry', str(exc)) from None

    def registry_tags(self, url, repository):
        """Every tag of a repository in the registry at url ([] when it does not know the repository)."""
        return self._ask_registry(url, 'list_tags', repository)[0]

    def registry_digest(self, url, repository, tag):
        """The digest of a tag's manifest in the registry at url, None when there is no such tag."""
        return self._ask_registry(url, 'tag_digest', repository, tag)

    # --- processes and files -------------------------------------------------------------
    def start_commands(self, argvs):
        """Start every command now, side by side; run() of the same argv then waits for its answer. Commands
        started and never asked for are waited for by close()."""
        env = dict(os.environ, LC_ALL='C')
        for argv in argvs:
            key = tuple(argv)
            if key in self._started:
                continue
            try:
                self._started[key] = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                                      stderr=subprocess.PIPE, env=env, close_fds=True)
            except OSError as exc:
                self._started[key] = (127, '', str(exc))

    def _finish(self, proc):
        if isinstance(proc, tuple):
            return proc
        try:
            out, err = proc.communicate(timeout=max(self.timeout, 1) * 6)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        return (proc.returncode, out.decode('utf-8', 'replace'), err.decode('utf-8', 'replace'))

    def run(self, argv):
        """(rc, stdout, stderr); rc 127 when the program is missing."""
        started = self._started.pop(tuple(argv), None)
        if started is not None:
            return self._finish(started)
        if self.module is not None:
            try:
                return self.module.run_command(argv, check_rc=False, environ_update={'LC_ALL': 'C'})
            except OSError as exc:  # pragma: no cover - run_command reports most of these itself
                return 127, '', str(exc)
        try:
            proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False,
                                  env=dict(os.environ, LC_ALL='C'), timeout=60)
        except OSError as exc:
            return 127, '', str(exc)
        return (proc.returncode, proc.stdout.decode('utf-8', 'replace'),
                proc.stderr.decode('utf-8', 'replace'))

    def which(self, name):
        if name not in self._which:
            path = None
            dirs = os.environ.get('PATH', '').split(os.pathsep) + ['/usr/local/sbin', '/usr/local/bin',
                                                                   '/usr/sbin', '/usr/bin', '/sbin', '/bin']
            for folder in dirs:
                candidate = os.path.join(folder, name)
                if folder and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                    path = candidate
                    break
            self._which[name] = path
        return self._which[name]

    def read(self, path, binary=False):
        """File contents; None when missing; raises PermissionError when unreadable."""
        try:
            with open(path, 'rb') as handle:
                data = handle.read()
        except FileNotFoundError:
            return None
        except NotADirectoryError:
            return None
        except ProcessLookupError:
            return None
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EPERM):
                raise PermissionError(exc.errno, exc.strerror, path) from None
            if exc.errno in (errno.ESRCH, errno.ENOENT):
                return None
            raise
        return data if binary else data.decode('utf-8', 'replace')

    def listdir(self, path):
        try:
            return sorted(os.listdir(path))
        except OSError:
            return None

    def readlink(self, path):
        """Link target; None when missing; raises PermissionError when not allowed."""
        try:
            return os.readlink(path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EPERM):
                raise PermissionError(exc.errno, exc.strerror, path) from None
            return None

    def exists(self, path):
        return os.path.exists(path)

    def processes(self):
        """[{'pid', 'name', 'ppid', 'uid'}] for every process in this host's PID namespace but the commands this
        module started itself.

        Processes of nested PID namespaces (containers running their own daemons) are visible in /proc
        too; they are left out when their namespace can be read and differs from ours.
        """
        own_ns = self._pidns('self')
        own_pid = os.getpid()
        result = []
        for entry in self.listdir('/proc') or []:
            if not entry.isdigit():
                continue
            try:
                with open('/proc/%s/status' % entry, 'rb') as handle:
                    text = handle.read().decode('utf-8', 'replace')
            except OSError:
                continue
            if own_ns is not None:
                pidns = self._pidns(entry)
                if pidns is not None and pidns != own_ns:
                    continue
            info = parse_status(text)
            if info.get('ppid') == own_pid:
                continue   # a command this module started (start_commands), not something the host runs
            info['pid'] = int(entry)
            result.append(info)
        return result

    @staticmethod
    def _pidns(pid):
        try:
            return os.readlink('/proc/%s/ns/pid' % pid)
        except OSError:
            return None

    def own_pid(self):
        return os.getpid()

    def process_sockets(self):
        """{'sockets': [[pid, [inode, ...]], ...], 'unreadable': N}: the socket inodes each process of this PID
        namespace holds open (/proc/PID/fd links to socket:[INODE]); N processes whose fds could not be read."""
        found, unreadable = [], 0
        for proc in self.processes():
            pid = proc['pid']
            folder = '/proc/%s/fd' % pid
            try:
                names = os.listdir(folder)
            except FileNotFoundError:
                continue
            except OSError:
                unreadable += 1
                continue
            inodes = []
            for name in names:
                try:
                    target = os.readlink(os.path.join(folder, name))
                except OSError:
                    continue
                if target.startswith('socket:['):
                    inodes.append(int(target[len('socket:['):-1]))
            if inodes:
                found.append([pid, sorted(set(inodes))])
        return {'sockets': sorted(found), 'unreadable': unreadable}

    def unix_peers(self):
        """{'pairs': [[inode, peer inode], ...], 'error': None} for every unix socket of this network namespace
        that has a peer, from the kernel's sock_diag netlink dump (UNIX_DIAG_PEER, what `ss -xp` shows); 'pairs'
        None and 'error' one sentence when the kernel does not answer (no unix_diag support)."""
        try:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, _NETLINK_SOCK_DIAG)
        except (OSError, AttributeError, ValueError) as exc:
            return {'pairs': None, 'error': 'no sock_diag netlink socket (%s)' % exc}
        try:
            request = struct.pack('=BBHIIIII', socket.AF_UNIX, 0, 0, _ALL_STATES, 0, _UDIAG_SHOW_PEER,
                                  _NO_COOKIE, _NO_COOKIE)
            header = struct.pack('=IHHII', 16 + len(request), _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST | _NLM_F_DUMP,
                                 1, 0)
            sock.settimeout(self.timeout)
            sock.sendto(header + request, (0, 0))
            pairs = []
            while True:
                data = sock.recv(1 << 17)
                if not data:
                    return {'pairs': None, 'error': 'the sock_diag dump ended early'}
                done, error = parse_unix_diag(data, pairs)
                if error:
                    return {'pairs': None, 'error': error}
                if done:
                    return {'pairs': sorted(pairs), 'error': None}
        except OSError as exc:
            return {'pairs': None, 'error': 'sock_diag failed (%s)' % exc}
        finally:
            sock.close()

    def file_owner(self, path):
        """[uid, mode] of a file (following links), None when it cannot be read."""
        try:
            info = os.stat(path)
        except OSError:
            return None
        return [info.st_uid, info.st_mode]

    def user_name(self, uid):
        try:
            return pwd.getpwuid(uid).pw_name
        except (KeyError, TypeError):
            return None

    def current_user(self):
        uid = os.geteuid()
        return {'uid': uid, 'name': self.user_name(uid)}

    def socket_state(self, path):
        """'missing', 'not_socket', 'permission' or 'ok' for a unix socket path."""
        try:
            info = os.stat(path)
        except FileNotFoundError:
            return 'missing'
        except PermissionError:
            return 'permission'
        except OSError:
            return 'missing'
        if not stat.S_ISSOCK(info.st_mode):
            return 'not_socket'
        if not os.access(path, os.R_OK | os.W_OK):
            return 'permission'
        return 'ok'

    # --- the Docker Engine API (unix sockets only) ---------------------------------------
    def api(self, socket_path, path, params=None):
        """GET path (no API version prefix) on the unix socket -> decoded JSON. Raises EngineError."""
        client = self._clients.get(socket_path)
        if client is None:
            client = self._clients[socket_path] = EngineClient(socket_path, timeout=self.timeout)
        try:
            # unversioned: /version and /_ping must be read at the daemon's default version, and so is
            # everything else (no negotiation round trip)
            status, _content_type, content = client.request('GET', path, params=params)
        except Exception as exc:  # pylint: disable=broad-except  # socket and http.client errors
            raise classify_connection_error(exc, socket_path) from None
        if status >= 400:
            text = content.decode('utf-8', 'replace')
            try:
                message = json.loads(text).get('message') or text.strip()
            except (ValueError, AttributeError):
                message = text.strip()
            raise EngineError('http', 'HTTP %s from %s: %s' % (status, path, message), status=status)
        try:
            return json.loads(content.decode('utf-8', 'replace'))
        except ValueError as exc:
            raise EngineError('other', 'the daemon answered %s with something that is not JSON: %s'
                              % (path, exc)) from None

    def close(self):
        for client in self._clients.values():
            try:
                client.close()
            except Exception:  # noqa: S110  # pylint: disable=broad-except  # closing is best effort
                pass
        self._clients = {}
        for proc in self._started.values():
            if not isinstance(proc, tuple):
                self._finish(proc)
        self._started = {}


def classify_connection_error(exc, socket_path):
    """Map a requests/urllib3/socket exception to EngineError by walking its causes."""
    seen = []
    cur = exc
    while cur is not None and cur not in seen and len(seen) < 12:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__ or (cur.args[0] if getattr(cur, 'args', None)
                                                   and isinstance(cur.args[0], BaseException) else None)
        reason = getattr(seen[-1], 'reason', None)
        if isinstance(reason, BaseException) and reason not in seen:
            cur = reason
    text = ' '.join(str(item) for item in seen)
    for item in seen:
        if isinstance(item, PermissionError):
            return EngineError('permission', 'permission denied on %s' % socket_path)
        if isinstance(item, FileNotFoundError):
            return EngineError('no_socket', 'no socket at %s' % socket_path)
        if isinstance(item, ConnectionRefusedError):
            return EngineError('refused', 'connection refused on %s' % socket_path)
        if isinstance(item, socket.timeout):
            return EngineError('timeout', 'no answer on %s' % socket_path)
    lowered = text.lower()
    if 'permission denied' in lowered:
        return EngineError('permission', 'permission denied on %s' % socket_path)
    if 'no such file' in lowered:
        return EngineError('no_socket', 'no socket at %s' % socket_path)
    if 'connection refused' in lowered:
        return EngineError('refused', 'connection refused on %s' % socket_path)
    if 'timed out' in lowered or 'timeout' in lowered:
        return EngineError('timeout', 'no answer on %s' % socket_path)
    return EngineError('other', '%s: %s' % (type(exc).__name__, exc))
