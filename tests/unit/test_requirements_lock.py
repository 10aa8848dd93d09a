"""The development environment is pinned whole: requirements-dev.txt names the tools at chosen versions, and
requirements-lock.txt (pip's constraints, make venv) holds every package they pull in at the version tested. The two
must agree, and pip itself is the Makefile's PIP_VERSION, so a fresh clone installs what the suite was run with."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s;#]+)$")


def pins(name: str) -> dict[str, str]:
    out = {}
    for line in (ROOT / name).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = PIN.match(line)
        assert m, f"{name}: {line!r} is not an exact pin (NAME==VERSION)"
        out[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
    return out


def test_every_chosen_pin_is_in_the_lock_at_the_same_version():
    chosen, locked = pins("requirements-dev.txt"), pins("requirements-lock.txt")
    assert {n: v for n, v in chosen.items() if locked.get(n) != v} == {}


def test_the_venv_installs_with_the_lock_and_pip_is_the_makefiles():
    makefile = (ROOT / "Makefile").read_text()
    assert "-r requirements-dev.txt -c requirements-lock.txt" in makefile
    assert re.search(r"^\$\(BIN\)/\.stamp: requirements-dev\.txt requirements-lock\.txt$", makefile, re.M)
    pip = re.search(r"^PIP_VERSION := (\S+)$", makefile, re.M).group(1)
    assert pins("requirements-lock.txt").get("pip", pip) == pip
