# Private to fleetsafe.container_engine: imported only by this collection's modules, no public API.
#
# Everything the facts modules read from a host goes through one small class, so the unit tests can
# replay responses recorded from real daemons (tests/unit/modules/fixtures/) through the same code.
# Reads only: commands run with argument lists (never a shell), files are opened read-only, the
# Docker Engine API is reached over unix sockets only.
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import errno
import os
import pwd
import socket
import stat
import struct
import sys
import traceback

from ansible_collections.fleetsafe.container_engine.plugins.module_utils._parse import parse_status, parse_unix_diag

try:
    from docker import APIClient as _APIClient
except Exception:  # pylint: disable=broad-except  # ImportError, or a broken install
    _APIClient = None
    DOCKER_SDK_IMPORT_ERROR = traceback.format_exc()
else:
    DOCKER_SDK_IMPORT_ERROR = None

# sock_diag netlink (linux/sock_diag.h, linux/unix_diag.h): the dump `ss -x` reads.
_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST = 0x1
_NLM_F_DUMP = 0x300
_UDIAG_SHOW_PEER = 0x4
_ALL_STATES = 0xffffffff
_NO_COOKIE = 0xffffffff

# Any client API version the SDK accepts: requests are sent without a version prefix, so the daemon
# serves them at its own default (its maximum). Naming a version keeps the SDK from negotiating.
_SDK_PINNED_VERSION = '1.24'


class EngineError(Exception):
    """The Engine API could not be used. kind: missing_sdk, no_socket, permission, refused, timeout, http, other."""

    def __init__(self, kind, detail, status=None):
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.status = status


def sdk_missing_message():
    return ("The Python library 'docker' is missing for %s on the host: install python3-docker "
            "(Debian/Ubuntu) or run `pip install docker`." % sys.executable)


class Host:
    """The real host. run() uses AnsibleModule.run_command when a module is given."""

    def __init__(self, module=None, timeout=10):
        self.module = module
        self.timeout = timeout
        self._clients = {}
        self._which = {}

    # --- processes and files -------------------------------------------------------------
    def run(self, argv):
        """(rc, stdout, stderr); rc 127 when the program is missing."""
        if self.module is not None:
            try:
                return self.module.run_command(argv, check_rc=False, environ_update={'LC_ALL': 'C'})
            except OSError as exc:  # pragma: no cover - run_command reports most of these itself
                return 127, '', str(exc)
        import subprocess  # only outside Ansible (the fixture recorder)
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
        """[{'pid', 'name', 'ppid', 'uid'}] for every process in this host's PID namespace.

        Processes of nested PID namespaces (containers running their own daemons) are visible in /proc
        too; they are left out when their namespace can be read and differs from ours.
        """
        own_ns = self._pidns('self')
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
    def sdk_missing_message(self):
        return sdk_missing_message()

    def sdk_available(self):
        return _APIClient is not None

    def api(self, socket_path, path, params=None):
        """GET path (no API version prefix) on the unix socket -> decoded JSON. Raises EngineError."""
        if _APIClient is None:
            raise EngineError('missing_sdk', sdk_missing_message())
        client = self._clients.get(socket_path)
        try:
            if client is None:
                client = _APIClient(base_url='unix://' + socket_path, version=_SDK_PINNED_VERSION,
                                    timeout=self.timeout)
                self._clients[socket_path] = client
            # versioned_api=False: /version and /_ping must be read unversioned (served at the
            # daemon's default), and so is everything else: no negotiation round trip.
            response = client._get(client._url(path, versioned_api=False), params=params)  # pylint: disable=protected-access
        except Exception as exc:  # pylint: disable=broad-except  # requests/urllib3/socket errors, any SDK
            raise classify_connection_error(exc, socket_path) from None
        if response.status_code >= 400:
            try:
                message = response.json().get('message')
            except Exception:  # pylint: disable=broad-except
                message = response.text
            raise EngineError('http', 'HTTP %s from %s: %s' % (response.status_code, path, message),
                              status=response.status_code)
        try:
            return response.json()
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
