"""A lab host whose API clients run floating image tags: what tests/integration/test_truth_floating_tags.py judges
and tests/unit/modules/record_fixtures.py records (scenario `floating`).

Real clients (the lab's fleetsafe-lab/agent, which calls the Engine API at its release's version, and a busybox
that only mounts the socket), each mounting /var/run/docker.sock, each on a tag that names no release:

- `fleetsafe-lab/agent:latest`: release 3.0.0, whose image carries the label org.opencontainers.image.version=3.0.0
  (tests/lab/lab.py builds every agent release so): clients_facts learns 3.0.0 from the label.
- `127.0.0.1:5000/fleetsafe-lab/agent:latest`: release 2.0.0 built without a version label and pushed with its
  release tags 1.0.0 and 2.0.0 to a real registry in the host (Debian's docker-registry, distribution 2.8, on
  loopback): clients_facts learns 2.0.0 from the registry when asked to (`registries`).
- `fleetsafe-lab/agent:stable`: release 2.0.0 built without a version label, no registry: nothing tells its release.
- `acme/thing:latest`: busybox, an image the knowledge base has no rows for.
"""
from __future__ import annotations

import shutil
import subprocess

import lab

REGISTRY = "127.0.0.1:5000"
REGISTRY_URL = f"http://{REGISTRY}"
PUSHED = f"{REGISTRY}/{lab.AGENT_IMAGE}"
OCI = "org.opencontainers.image.version"
# container name -> image
CLIENTS = {
    "fs-labelled": f"{lab.AGENT_IMAGE}:latest",
    "fs-pushed": f"{PUSHED}:latest",
    "fs-stable": f"{lab.AGENT_IMAGE}:stable",
    "fs-thing": "acme/thing:latest",
}

SETUP = rf"""
mkdir -p /var/lib/fs-registry
cat > /etc/fs-registry.yml <<'EOF'
version: 0.1
storage:
  filesystem:
    rootdirectory: /var/lib/fs-registry
http:
  addr: {REGISTRY}
EOF
systemd-run --unit fs-registry /usr/local/bin/docker-registry serve /etc/fs-registry.yml >/dev/null
for i in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/5000) 2>/dev/null && break; sleep 0.1; done
build() {{ printf 'FROM %s\n%s\n' "$2" "$3" | docker build -q -t "$1" - >/dev/null; }}
docker tag {lab.AGENT_IMAGE}:3.0.0 {lab.AGENT_IMAGE}:latest
# the same releases built without a version label (a label cannot be removed: an empty one hides the base's)
build {lab.AGENT_IMAGE}:stable {lab.AGENT_IMAGE}:2.0.0 'LABEL {OCI}="" fleetsafe.lab.tag=stable'
build acme/thing:latest busybox:lab 'LABEL org.opencontainers.image.title=thing'
for tag in 1.0.0 2.0.0; do
  build {PUSHED}:$tag {lab.AGENT_IMAGE}:$tag 'LABEL {OCI}=""'
  docker push {PUSHED}:$tag >/dev/null
done
docker tag {PUSHED}:2.0.0 {PUSHED}:latest
docker push {PUSHED}:latest >/dev/null
run() {{ docker run -d --name "$1" --restart unless-stopped -e AGENT_INTERVAL=1 \
  -v /var/run/docker.sock:/var/run/docker.sock "$2" "${{@:3}}" >/dev/null; }}
run fs-labelled {CLIENTS['fs-labelled']}
run fs-pushed {CLIENTS['fs-pushed']}
run fs-stable {CLIENTS['fs-stable']}
run fs-thing {CLIENTS['fs-thing']} sleep 86400
"""


def agent_knowledge() -> dict:
    """The lab agent's knowledge-base rows, naming the pushed image too."""
    knowledge = lab.agent_knowledge()
    for row in knowledge["clients"]:
        row["images"] = [*row["images"], PUSHED]
    return knowledge


def setup(host: lab.LabHost) -> None:
    """The clients above in a lab host that runs an engine (any set)."""
    if not shutil.which("docker-registry"):
        lab.ensure_apt_packages(["docker-registry"])  # Debian's distribution 2.8; its service is not started
    with open(shutil.which("docker-registry"), "rb") as binary:
        subprocess.run([lab.DOCKER, "exec", "-i", host.name, "sh", "-c",
                        "cat > /usr/local/bin/docker-registry && chmod 755 /usr/local/bin/docker-registry"],
                       stdin=binary, check=True)
    host.load_busybox()
    host.load_agent()
    host.sh(SETUP)
