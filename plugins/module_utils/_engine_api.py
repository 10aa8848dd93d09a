# Private to fleetsafe.container_engine: imported only by this collection's modules, no public API.
#
# The Docker Engine API over a unix socket with Python's standard library only (socket). The facts modules
# read a handful of JSON documents (/version, /info, /containers/json, a container's inspect); for that they need
# no Docker SDK on the managed host, and importing one (docker, requests, urllib3, charset_normalizer) took longer
# on a lab host than everything else the docker part does. Unix sockets only: nothing here opens a TCP connection.
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import socket
import time
from urllib.parse import quote, urlencode   # ansible's module_utils import urllib.parse already

# http.client would import ssl and the email package (a third of this collection's import time on a module run);
# the few requests the facts make need only this much of HTTP/1.1: a request, a status line, headers, and a body
# by Content-Length, chunked, or up to the end of the connection.
MAX_LINE = 65536


class ProtocolError(Exception):
    """The daemon's answer is not HTTP/1.x as expected."""


class ConnectionClosed(ProtocolError):
    """The daemon closed a kept-alive connection before answering."""


class EngineClient:
    """Requests to one daemon's unix socket on one kept-alive connection. Paths are sent as given (no API version
    prefix: the daemon answers at its own default version, so /version and /_ping tell its range)."""

    def __init__(self, socket_path, timeout=10):
        self.socket_path = socket_path
        self.timeout = timeout
        self._sock = None
        self._file = None

    def _connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except BaseException:
            sock.close()
            raise
        self._sock, self._file = sock, sock.makefile('rb')

    def request(self, method, path, params=None, body=None):
        """(status, content type, body bytes). Raises what the socket raises (OSError, socket.timeout) or
        ProtocolError; classify_connection_error in _host.py turns those into one sentence."""
        target = quote(path, safe='/:@!$&\'()*+,;=-._~')
        if params:
            target += '?' + urlencode(sorted(params.items()))
        head = ['%s %s HTTP/1.1' % (method, target), 'Host: localhost', 'Accept: application/json']
        data = b''
        if body is not None:
            data = json.dumps(body).encode('utf-8')
            head.append('Content-Type: application/json')
        if body is not None or method not in ('GET', 'HEAD', 'DELETE'):
            head.append('Content-Length: %d' % len(data))
        message = ('\r\n'.join(head) + '\r\n\r\n').encode('ascii') + data
        for attempt in (1, 2):
            reused = self._sock is not None
            if not reused:
                self._connect()
            try:
                self._sock.sendall(message)
                status, headers, content = self._response(method)
            except (ConnectionClosed, BrokenPipeError, ConnectionResetError):
                self.close()
                if reused and attempt == 1:
                    continue   # a kept-alive connection the daemon closed in the meantime: one fresh try
                raise
            except BaseException:
                self.close()
                raise
            if headers.get('connection', '').lower() == 'close':
                self.close()
            return status, headers.get('content-type', ''), content
        raise AssertionError('unreachable')  # pragma: no cover

    def _line(self):
        line = self._file.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise ProtocolError('a header line longer than %d bytes' % MAX_LINE)
        return line

    def _response(self, method):
        line = self._line()
        if not line:
            raise ConnectionClosed('the daemon closed the connection without an answer')
        parts = line.decode('iso-8859-1').split(None, 2)
        if len(parts) < 2 or not parts[0].startswith('HTTP/1.') or not parts[1].isdigit():
            raise ProtocolError('not an HTTP answer: %r' % line[:80])
        status = int(parts[1])
        headers = {}
        while True:
            line = self._line()
            if line in (b'\r\n', b'\n', b''):
                break
            name, sep, value = line.decode('iso-8859-1').partition(':')
            if sep:
                headers[name.strip().lower()] = value.strip()
        if method == 'HEAD' or status in (204, 304) or 100 <= status < 200:
            return status, headers, b''
        if 'chunked' in headers.get('transfer-encoding', '').lower():
            return status, headers, self._chunked()
        if 'content-length' in headers:
            size = int(headers['content-length'])
            content = self._file.read(size)
            if len(content) != size:
                raise ConnectionClosed('the daemon closed the connection in the middle of an answer')
            return status, headers, content
        headers['connection'] = 'close'   # the body runs to the end of the connection
        return status, headers, self._file.read()

    def _chunked(self):
        parts = []
        while True:
            line = self._line()
            if not line:
                raise ConnectionClosed('the daemon closed the connection in the middle of an answer')
            try:
                size = int(line.split(b';', 1)[0].strip(), 16)
            except ValueError:
                raise ProtocolError('a bad chunk size: %r' % line[:80]) from None
            if size == 0:
                while self._line() not in (b'\r\n', b'\n', b''):   # trailers
                    pass
                return b''.join(parts)
            chunk = self._file.read(size)
            if len(chunk) != size:
                raise ConnectionClosed('the daemon closed the connection in the middle of an answer')
            parts.append(chunk)
            self._line()   # the CRLF after each chunk

    def close(self):
        for item in (self._file, self._sock):
            if item is not None:
                try:
                    item.close()
                except OSError:
                    pass
        self._sock = self._file = None


def _message(status, content):
    """The daemon's own words for a refused request: its JSON {"message": ...} or its plain text."""
    text = content.decode('utf-8', 'replace').strip()
    try:
        return json.loads(text).get('message') or text
    except (ValueError, AttributeError):
        return text or 'HTTP %d' % status


def answers(socket_path='/var/run/docker.sock', timeout=5):
    """Whether a Docker engine answers on ``socket_path`` (GET /_ping); False while it does not."""
    client = EngineClient(socket_path, timeout=timeout)
    try:
        status, _type, _content = client.request('GET', '/_ping')
        return status == 200
    except (OSError, ProtocolError):
        return False
    finally:
        client.close()


def get_json(socket_path, path, params=None, timeout=30):
    """One GET on ``socket_path`` and its JSON: the daemon's own document (/version, /info), or None while it does
    not answer or answers anything but 200 - what a ``docker`` client prints, without starting one."""
    client = EngineClient(socket_path, timeout=timeout)
    try:
        status, _type, content = client.request('GET', path, params=params)
        return json.loads(content.decode('utf-8', 'replace')) if status == 200 else None
    except (OSError, ProtocolError, ValueError):
        return None
    finally:
        client.close()


def server_version(socket_path='/var/run/docker.sock', timeout=10):
    """The version a Docker engine answers with on ``socket_path`` (GET /version), or None while it does not
    answer - what ``docker version --format {{.Server.Version}}`` prints, without starting a client program."""
    doc = get_json(socket_path, '/version', timeout=timeout)
    return (str(doc.get('Version') or '') or None) if isinstance(doc, dict) else None


def inspect_containers(socket_path, all_=False, timeout=60, strict=False):
    """Each container's inspect document (GET /containers/json, then each one's /containers/ID/json on the same
    connection), as ``docker inspect $(docker ps -q [-a])`` prints them, newest first. A container removed in the
    meantime is left out. While the daemon does not answer: [], or with ``strict`` a ProtocolError saying why (for a
    caller that must not take "no answer" for "no containers")."""
    client = EngineClient(socket_path, timeout=timeout)
    try:
        status, _ctype, body = client.request('GET', '/containers/json', params={'all': 1} if all_ else None)
        if status != 200:
            raise ProtocolError('HTTP %d: %s' % (status, _message(status, body)))
        out = []
        for item in json.loads(body.decode('utf-8') or '[]'):
            status, _ctype, body = client.request('GET', '/containers/%s/json' % item['Id'])
            if status == 200:
                out.append(json.loads(body.decode('utf-8')))
        return out
    except (OSError, ProtocolError, ValueError) as exc:
        if strict:
            raise ProtocolError('%s did not list its containers: %s' % (
                socket_path, str(exc) or type(exc).__name__)) from None
        return []
    finally:
        client.close()


def running_pids(socket_path='/var/run/docker.sock', timeout=10):
    """name -> main process id of every running container (inspect_containers); {} while the daemon does not
    answer. A container that kept running across a step keeps its process: the same pid before and after."""
    return dict((info['Name'].lstrip('/'), info['State'].get('Pid'))
                for info in inspect_containers(socket_path, timeout=timeout) if info.get('State', {}).get('Running'))


def kept_and_restarted(before, after):
    """(kept, restarted): the containers of ``before`` (name -> pid) still running the same process in ``after``,
    and the others, each in ``before``'s order."""
    kept = [n for n, pid in before.items() if n in after and after[n] == pid]
    return kept, [n for n in before if n not in kept]


def containers_act(socket_path, ids, action, timeout=60, workers=128, retry_for=None):
    """POST /containers/ID/``action`` (start or stop) for every ID at once, each on its own connection, so that 40
    containers take about as long as one (the docker CLI starts the containers it is given one after another). A
    stop gives each container its own stop timeout (docker stop's default). ``retry_for`` (seconds) tries a refused
    request again until that much time has passed: a restarted dockerd may still be reconnecting to containerd.
    Returns {id: None (done, or already so) or the daemon's reason}. One thread per container up to ``workers``:
    a stop waits out a container's grace, and a pool smaller than the set would add graces up."""
    from concurrent.futures import ThreadPoolExecutor   # here: the facts modules never need it

    end = None if retry_for is None else time.monotonic() + retry_for
    # a socket's listen queue full of the other requests (EAGAIN) is no answer: tried again for a moment
    busy_end = time.monotonic() + 5

    def one(cid):
        client = EngineClient(socket_path, timeout=timeout)
        try:
            while True:
                try:
                    status, _type, content = client.request('POST', '/containers/%s/%s' % (cid, action))
                except BlockingIOError as exc:
                    if time.monotonic() < busy_end:
                        time.sleep(0.05)
                        continue
                    status, content = 0, str(exc).encode()
                except (OSError, ProtocolError) as exc:
                    status, content = 0, str(exc).encode()
                if status in (204, 304):   # done, or already started / stopped
                    return cid, None
                why = _message(status, content)
                if status == 404 or end is None or time.monotonic() >= end:
                    return cid, why
                time.sleep(0.2)
        finally:
            client.close()
    ids = list(ids)
    if not ids:
        return {}
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(ids)))) as pool:
        return dict(pool.map(one, ids))
