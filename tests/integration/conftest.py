"""Fixtures for tests against real daemons: the machine's engine and lab hosts.

Every test here is marked `lab`; the lab (engine, image, offline repo) is built once per session
by tests/lab/lab.py, cached outside the clone.
"""
from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lab"))
import lab  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
# the checkout as ansible_collections.fleetsafe.container_engine (make venv makes the link)
sys.path.insert(0, str(ROOT / "build" / "collections"))


def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.lab)


@pytest.fixture(scope="session")
def lab_ready():
    lab.build()
    return lab


@pytest.fixture
def lab_host_factory(lab_ready, request):
    """Start lab hosts; each is removed with its volume when the test ends."""
    made: list[lab.LabHost] = []
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw")
    tag = uuid.uuid4().hex[:6]

    def make(set_name: str | None = None) -> lab.LabHost:
        """A lab host with no engine, or at SET_NAME (started from that set's image, made on first use)."""
        host = lab.LabHost(f"fleetsafe-it-{worker}-{tag}-{len(made) + 1}")
        made.append(host)
        host.start(set_name)
        return host

    yield make
    for host in made:
        host.remove()


@pytest.fixture
def ansible_env():
    """Environment for running ansible / ansible-playbook against lab hosts."""
    env = dict(os.environ)
    env["ANSIBLE_COLLECTIONS_PATH"] = str(ROOT / "build" / "collections")
    env.setdefault("ANSIBLE_FORCE_COLOR", "0")
    return env
