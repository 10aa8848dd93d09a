"""Runs INSIDE a lab host (copied there by record_fixtures.py): gather every part through a
RecordingHost and print {"calls": ..., "facts": ...} as JSON. Stdlib, the host's python3-docker and the
ansible.module_utils record_fixtures.py ships beside it (the registry client needs its urls).
Arguments: declared clients (JSON), the Docker socket to ask (default /var/run/docker.sock), whether to list
the host processes that use the socket (JSON true/false, default false), the registries to ask (JSON list)."""
from __future__ import annotations

import json
import sys

sys.path.insert(0, "/tmp/fsf-rec")

from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _gather as G  # noqa: E402
from recording import RecordingHost  # noqa: E402

declared = json.loads(sys.argv[1]) if len(sys.argv) > 1 else []
docker_socket = sys.argv[2] if len(sys.argv) > 2 else G.DEFAULT_DOCKER_SOCKET
host_processes = json.loads(sys.argv[3]) if len(sys.argv) > 3 else False
registries = json.loads(sys.argv[4]) if len(sys.argv) > 4 else []
host = RecordingHost(None, timeout=10, registries=registries)
ctx = G.Context(host)
facts = {"docker": G.gather_docker(ctx, docker_socket)}
facts["containerd"] = G.gather_containerd(ctx, engine_components=facts["docker"]["components"])
facts["rootless"] = G.gather_rootless(ctx)
facts["clients"] = G.gather_clients(ctx, docker_socket, declared=declared, host_processes=host_processes,
                                    registries=registries)
host.close()
print(json.dumps({"calls": host.calls, "facts": facts, "notes": ctx.notes}, sort_keys=True))
