"""The knowledge base's judgement of a containerd version, for tests of the facts modules.

The facts report versions only (running daemon, installed binary, runc shim); which shim bootstrap
protocol a line accepts and produces is data/knowledge_base/containerd.yml's call. Tests that used to read
shim_protocol_* from the facts ask it here, from the same observed versions.
"""
from __future__ import annotations

from pathlib import Path

import yaml

CONTAINERD_KB = Path(__file__).resolve().parents[3] / "data" / "knowledge_base" / "containerd.yml"


def containerd_row(version: str | None) -> dict | None:
    """The knowledge-base row of the containerd line of version ('1.7.24' -> the "1.7" row), else None."""
    if not version:
        return None
    line = ".".join(str(version).split(".")[:2])
    rows = yaml.safe_load(CONTAINERD_KB.read_text())["containerd"]
    return next((row for row in rows if row["line"] == line), None)


def shim_protocols(version: str | None) -> tuple[list | None, int | None]:
    """(protocols a running daemon of that line accepts, protocol its runc shim produces), (None, None) unknown."""
    row = containerd_row(version)
    return (row["shim_protocol_accepted"], row["shim_protocol_produced"]) if row else (None, None)


def runc_shim_version(containerd: dict) -> str | None:
    """The normalised version the runc v2 shim printed, from containerd facts."""
    return next((shim["version_normalized"] for shim in containerd["shims"]
                 if shim["name"] == "containerd-shim-runc-v2"), None)
