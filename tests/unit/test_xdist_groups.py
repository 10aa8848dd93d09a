"""The lab suite relies on pytest-xdist's --dist loadgroup keeping an xdist_group on one worker (files whose tests
share module-scoped lab hosts, chained tests). pytest 9.2 with pytest-xdist 3.8 silently split such a group across
workers: this runs a small group under -n 2 and fails when its tests do not all run on one worker."""
from __future__ import annotations

import subprocess
import sys
import textwrap

GROUPED = textwrap.dedent('''
    import os
    import pytest

    pytestmark = pytest.mark.xdist_group("together")

    @pytest.mark.parametrize("i", range(6))
    def test_member(i):
        with open(os.environ["WORKERS_LOG"], "a") as fh:
            fh.write(os.environ["PYTEST_XDIST_WORKER"] + "\\n")
''')
ALONE = textwrap.dedent('''
    import os

    def test_alone():
        with open(os.environ["WORKERS_LOG"] + ".alone", "a") as fh:
            fh.write(os.environ["PYTEST_XDIST_WORKER"] + "\\n")
''')


def test_loadgroup_keeps_an_xdist_group_on_one_worker(tmp_path):
    (tmp_path / "test_grouped.py").write_text(GROUPED)
    (tmp_path / "test_alone.py").write_text(ALONE)
    log = tmp_path / "workers.log"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadgroup",
         str(tmp_path)], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
        env={"WORKERS_LOG": str(log), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    workers = log.read_text().split()
    assert len(workers) == 6, workers
    assert len(set(workers)) == 1, (
        f"the xdist_group ran on {sorted(set(workers))}: pytest-xdist's loadgroup does not work with this pytest "
        "(see the pin in requirements-dev.txt)")
