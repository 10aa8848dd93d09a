"""Record what the facts gatherers read from a real host, and replay it in unit tests.

RecordingHost wraps the real Host (plugins/module_utils/_host.py) inside a lab host and writes every
answer (command output, file contents, Engine API JSON, raised errors) into a fixture;
ReplayHost answers the same calls from that fixture, so the gatherers' parsing is tested against
responses recorded from real daemons. Stdlib only: RecordingHost also runs on lab hosts.
"""
from __future__ import annotations

import json

from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _host
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._host import EngineError

METHODS = ("run", "which", "read", "listdir", "readlink", "exists", "processes", "user_name", "current_user",
           "socket_state", "sdk_available", "sdk_missing_message", "api", "own_pid", "process_sockets",
           "unix_peers", "file_owner", "registry_tags", "registry_digest")


def call_key(method: str, args: tuple, kwargs: dict) -> str:
    return json.dumps([method, list(args), {k: v for k, v in sorted(kwargs.items()) if v is not None}],
                      sort_keys=True)


def encode(value):
    if isinstance(value, bytes):
        return {"__bytes__": value.decode("utf-8", "surrogateescape")}
    if isinstance(value, tuple):
        return list(value)
    return value


def decode(value):
    if isinstance(value, dict) and set(value) == {"__bytes__"}:
        return value["__bytes__"].encode("utf-8", "surrogateescape")
    return value


class RecordingHost(_host.Host):
    """The real host; every answer is also kept in self.calls."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls: dict[str, dict] = {}

    def __getattribute__(self, name):
        attr = super().__getattribute__(name)
        if name not in METHODS:
            return attr
        calls = super().__getattribute__("calls")

        def wrapper(*args, **kwargs):
            key = call_key(name, args, kwargs)
            try:
                result = attr(*args, **kwargs)
            except EngineError as exc:
                calls[key] = {"engine_error": [exc.kind, exc.detail, exc.status]}
                raise
            except PermissionError as exc:
                calls[key] = {"permission_error": str(exc)}
                raise
            calls[key] = {"result": encode(result)}
            return result

        return wrapper


class ReplayHost:
    """Answers from a fixture's calls; an unrecorded call fails the test."""

    timeout = 10  # what the recordings were made with

    def __init__(self, calls: dict):
        self.calls = calls
        self.used: set[str] = set()

    def close(self):
        pass

    def __getattr__(self, name):
        if name not in METHODS:
            raise AttributeError(name)

        def replay(*args, **kwargs):
            key = call_key(name, args, kwargs)
            if key not in self.calls:
                raise AssertionError(f"call not in the recording: {key}")
            self.used.add(key)
            entry = self.calls[key]
            if "engine_error" in entry:
                kind, detail, status = entry["engine_error"]
                raise EngineError(kind, detail, status)
            if "permission_error" in entry:
                raise PermissionError(entry["permission_error"])
            return decode(entry["result"])

        return replay
