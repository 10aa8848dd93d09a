"""Run inside a lab host: commands (a JSON list of argument lists, argv[1]) with DOCKER_HOST set to a unix socket that
forwards to /var/run/docker.sock and notes the API version in the path of every request the client sends (/v1.45/...;
"" for an unversioned one such as /_ping). Prints {"results": [{args, rc, stderr}], "versions": [...]} as JSON.

Nothing about the client is assumed: what it asked for is read off the wire, and the engine's answers pass unchanged.
"""
import json
import os
import re
import socket
import subprocess
import sys
import threading

UPSTREAM = "/var/run/docker.sock"
PROXY = "/run/fs-compose2-sniff.sock"
REQUEST = re.compile(rb"(?:^|\r\n)(?:GET|POST|PUT|DELETE|HEAD) (/v(\d+\.\d+))?/[^ ]* HTTP/1\.[01]\r\n")
seen = []


def pipe(src, dst, sniff):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if sniff:
                seen.extend(m.group(2).decode() if m.group(2) else "" for m in REQUEST.finditer(data))
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(listener):
    while True:
        client, _addr = listener.accept()
        upstream = socket.socket(socket.AF_UNIX)
        upstream.connect(UPSTREAM)
        threading.Thread(target=pipe, args=(client, upstream, True), daemon=True).start()
        threading.Thread(target=pipe, args=(upstream, client, False), daemon=True).start()


if os.path.exists(PROXY):
    os.unlink(PROXY)
listener = socket.socket(socket.AF_UNIX)
listener.bind(PROXY)
listener.listen(16)
threading.Thread(target=serve, args=(listener,), daemon=True).start()
env = dict(os.environ, DOCKER_HOST="unix://" + PROXY)
results = []
for args in json.loads(sys.argv[1]):
    res = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    results.append({"args": args, "rc": res.returncode, "stderr": res.stderr[-400:]})
print(json.dumps({"results": results, "versions": seen}))
