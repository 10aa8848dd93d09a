"""Fixtures for tests against real daemons: the machine's engine and lab hosts.

Every test here is marked `lab`; the lab (engine, image, offline repo) is built once per session
by tests/lab/lab.py, cached outside the clone.
"""
from __future__ import annotations

import json
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


# Longest first: xdist (--dist loadgroup) hands tests out in collection order, after the grouped files, so the
# long sequences start at once and the workers finish together on short tests instead of one worker running
# a five-minute sequence at the end. Seconds from a full run; a test not listed keeps its place after these.
DURATIONS = json.loads((Path(__file__).with_name("durations.json")).read_text())["durations"]


def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.lab)
    # a file's tests sharing module-scoped hosts (xdist_group) move as one, so they stay together
    unit = {item: (mark.args[0] if (mark := item.get_closest_marker("xdist_group")) else item.nodeid)
            for item in items}
    cost: dict[str, float] = {}
    for item in items:
        cost[unit[item]] = cost.get(unit[item], 0) + DURATIONS.get(f"{item.path.name}::{item.name}", 0)
    items.sort(key=lambda item: -cost[unit[item]])  # stable: the rest keep collection order


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

    def make(set_name: str | None = None, family: str = "debian") -> lab.LabHost:
        """A lab host with no engine, or at SET_NAME of FAMILY (started from that set's image, made on first use)."""
        host = lab.LabHost(f"{lab.IT_PREFIX}-{worker}-{tag}-{len(made) + 1}")
        made.append(host)
        host.start(set_name, family)
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
