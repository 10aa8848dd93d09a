"""`lab.py engine-stop` stops only the daemons the lab started itself, identified by the pid and the
start time it recorded, never a process that merely has that pid now or one it did not start.
Harmless `sleep` processes stand in for the daemons: the machine's own engine is never touched."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lab"))
import lab  # noqa: E402


@pytest.fixture
def log_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(lab, "LOG_DIR", tmp_path)
    return tmp_path


def test_stops_what_the_lab_started(log_dir):
    lab._daemon(["sleep", "300"], log_dir / "sleep.log")
    pid = int((log_dir / "sleep.lab-pid").read_text().split()[0])
    assert lab._start_time(pid) is not None
    assert lab.engine_stop(("sleep",), timeout=10) == ["sleep"]
    assert lab._start_time(pid) is None                       # gone (or a zombie of this test)
    assert not (log_dir / "sleep.lab-pid").exists()


def test_leaves_a_process_that_reuses_the_pid_alone(log_dir):
    """The record names a live pid, but with another start time: that is not the lab's daemon."""
    other = subprocess.Popen(["sleep", "300"])  # noqa: S607
    try:
        start = lab._start_time(other.pid)
        (log_dir / "dockerd.lab-pid").write_text(f"{other.pid} {int(start) - 1}\n")
        assert lab.engine_stop(("dockerd",), timeout=10) == []
        assert other.poll() is None and lab._start_time(other.pid) == start   # still running
        assert not (log_dir / "dockerd.lab-pid").exists()                       # stale record dropped
    finally:
        other.kill()
        other.wait()


def test_without_a_record_nothing_is_stopped(log_dir, capsys):
    assert lab.engine_stop(timeout=10) == []
    err = capsys.readouterr()
    assert "dockerd: no record that the lab started one" in err.out + err.err
    assert "containerd: no record that the lab started one" in err.out + err.err
