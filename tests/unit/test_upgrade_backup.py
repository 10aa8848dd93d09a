"""The upgrade's backup on the host (roles/upgrade/files/fleetsafe_upgrade_step.py): kept files have their
original mode and owner from the moment they are written, and old runs are pruned to the newest N."""
from __future__ import annotations

import importlib.util
import os
import stat
from pathlib import Path

import pytest

HELPER = Path(__file__).resolve().parents[2] / "roles/upgrade/files/fleetsafe_upgrade_step.py"
spec = importlib.util.spec_from_file_location("fleetsafe_upgrade_step_backup", HELPER)
step = importlib.util.module_from_spec(spec)
spec.loader.exec_module(step)


def test_write_as_gives_the_mode_before_the_content(tmp_path, monkeypatch):
    seen = []
    real_fchmod = os.fchmod

    def fchmod(fd, mode):
        seen.append(os.fstat(fd).st_size)     # nothing written yet when the mode is set
        return real_fchmod(fd, mode)
    monkeypatch.setattr(os, "fchmod", fchmod)
    target = tmp_path / "copy.conf"
    step.write_as(str(target), b"HTTPS_PROXY=http://u:pw@proxy:3128\n", 0o600, os.getuid(), os.getgid())
    assert seen == [0]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_bytes() == b"HTTPS_PROXY=http://u:pw@proxy:3128\n"
    assert not (tmp_path / "copy.conf.fleetsafe-tmp").exists()
    step.write_as(str(target), b"x", 0o640, os.getuid(), os.getgid())     # replaces, mode as asked
    assert stat.S_IMODE(target.stat().st_mode) == 0o640 and target.read_bytes() == b"x"


@pytest.mark.parametrize("keep,left", [(1, ["20261205T100000"]), (2, ["20261204T090000", "20261205T100000"]),
                                       (5, ["20261203T080000", "20261204T090000", "20261205T100000"])])
def test_prune_keeps_the_newest_runs_and_nothing_else_is_touched(tmp_path, keep, left):
    for name in ("20261203T080000", "20261204T090000", "20261205T100000", "notes"):
        (tmp_path / name).mkdir()
    (tmp_path / "20261201T000000").write_text("a file, not a run folder")
    pruned = step.prune_runs(str(tmp_path), keep, str(tmp_path / "20261205T100000"))
    runs = sorted(p.name for p in tmp_path.iterdir() if p.is_dir() and p.name != "notes")
    assert runs == left
    assert pruned == [str(tmp_path / n) for n in ("20261203T080000", "20261204T090000") if n not in left]
    assert (tmp_path / "notes").is_dir() and (tmp_path / "20261201T000000").is_file()


def test_prune_never_removes_the_current_run_even_when_a_later_name_exists(tmp_path):
    for name in ("20261205T100000", "20261206T000000"):
        (tmp_path / name).mkdir()
    assert step.prune_runs(str(tmp_path), 1, str(tmp_path / "20261205T100000")) == [str(tmp_path / "20261206T000000")]
    assert [p.name for p in tmp_path.iterdir()] == ["20261205T100000"]
