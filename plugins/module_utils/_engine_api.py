# Private to fleetsafe.container_engine: imported only by this collection's modules, no public API.
#
# The Docker Engine API over a unix socket with Python's standard library only (http.client). The facts modules
# read a handful of JSON documents (/version, /info, /containers/json, a container's inspect); for that they need
# no Docker SDK on the managed host, and importing one (docker, requests, urllib3, charset_normalizer) took longer
# on a lab host than everything else the docker part does. Unix sockets only: nothing here opens a TCP connection.
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import http.client
import json
import socket

from urllib.parse import quote, urlencode


class UnixHTTPConnection(http.client.HTTPConnection):
    """An HTTP/1.1 connection to a unix socket path (the Host header says localhost, as the docker CLI's does)."""

    def __init__(self, socket_path, timeout):
        super().__init__('localhost', timeout=timeout)
        self.socket_path = socket_path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class EngineClient:
    """Requests to one daemon's unix socket on one kept-alive connection. Paths are sent as given (no API version
    prefix: the daemon answers at its own default version, so /version and /_ping tell its range)."""

    def __init__(self, socket_path, timeout=10):
        self.socket_path = socket_path
        self.timeout = timeout
        self._conn = None

    def request(self, method, path, params=None, body=None):
        """(status, content type, body bytes). Raises what the socket raises (OSError, socket.timeout,
        http.client.HTTPException); classify_connection_error in _host.py turns those into one sentence."""
        url = quote(path, safe='/:@!$&\'()*+,;=-._~')
        if params:
            url += '?' + urlencode(sorted(params.items()))
        headers = {'Accept': 'application/json'}
        data = None
        if body is not None:
            data = json.dumps(body).encode('utf-8')
            headers['Content-Type'] = 'application/json'
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = UnixHTTPConnection(self.socket_path, self.timeout)
            try:
                self._conn.request(method, url, body=data, headers=headers)
                response = self._conn.getresponse()
                content = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # a kept-alive connection the daemon closed in the meantime: one fresh try
                self.close()
                if attempt == 2:
                    raise
                continue
            except BaseException:
                self.close()
                raise
            if response.will_close:
                self.close()
            return response.status, response.getheader('Content-Type') or '', content
        raise AssertionError('unreachable')  # pragma: no cover

    def close(self):
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None
