"""The lab's set images are keyed by what they are made of, and the integration suite's longest-first order
names tests that exist. No engine needed: the engine calls are stood in for, only the tag is looked at."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE / "lab"))
import lab  # noqa: E402


@pytest.fixture
def engine(tmp_path, monkeypatch):
    """An engine that has every image asked for, with base image id BASE['id']; a repository index in tmp_path."""
    base = {"id": "sha256:aaa"}
    (tmp_path / "Release").write_text("index 1\n")
    monkeypatch.setattr(lab, "repo_dir", lambda: tmp_path)
    monkeypatch.setattr(lab, "ok", lambda cmd: True)
    monkeypatch.setattr(lab, "run", lambda cmd, **kw: subprocess.CompletedProcess(cmd, 0, base["id"] + "\n", ""))
    monkeypatch.setattr(lab, "MANIFEST", json.loads(json.dumps(lab.MANIFEST)))
    return base, tmp_path


def test_set_image_tag_follows_what_the_image_is_made_of(engine):
    base, repo = engine
    first = lab.set_image("old")
    assert first.startswith(f"{lab.SET_IMAGE_REPO}:{lab.KEY}-old-") and lab.set_image("old") == first
    assert lab.set_image("mid") != first
    base["id"] = "sha256:bbb"                                   # the base image rebuilt
    rebuilt = lab.set_image("old")
    assert rebuilt != first
    (repo / "Release").write_text("index 2\n")                  # the repository's index changed
    reindexed = lab.set_image("old")
    assert reindexed not in (first, rebuilt)
    lab.MANIFEST["sets"]["old"]["runc"] = "9.9.9"              # a pin changed
    assert lab.set_image("old") not in (first, rebuilt, reindexed)


def test_set_image_installs_what_install_set_installs():
    for name, pins in lab.MANIFEST["sets"].items():
        script = lab._set_image_script(name)
        assert lab.install_script(name) in script
        assert all(f"{p}={v}" in script for p, v in pins.items())
        # no daemon starts while the image is made, and the guard is gone from the image
        assert script.index("policy-rc.d") < script.index("apt-get install")
        assert script.rstrip().endswith("rm -f /usr/sbin/policy-rc.d")


def test_durations_name_tests_that_exist():
    durations = json.loads((HERE / "integration" / "durations.json").read_text())["durations"]
    assert durations
    for test_id, seconds in durations.items():
        file, name = test_id.split("::")
        path = HERE / "integration" / file
        assert path.exists(), f"durations.json: {file} is gone (remove {test_id!r})"
        defined = {n.name for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.FunctionDef)}
        assert name.split("[")[0] in defined, f"durations.json: {test_id!r} names no test (remove or rename it)"
        assert seconds > 0


def test_prune_removes_only_the_images_of_keys_this_cache_held(tmp_path, monkeypatch):
    ours, foreign = "0123456789ab", "ba9876543210"
    for key in (ours, lab.KEY):
        (tmp_path / f"image-{key}.tar").write_text("")
    images = {lab.IMAGE.split(":")[0]: [f"{lab.IMAGE.split(':')[0]}:{k}" for k in (ours, foreign, lab.KEY)],
              lab.SET_IMAGE_REPO: [f"{lab.SET_IMAGE_REPO}:{k}-old-d1" for k in (ours, foreign, lab.KEY)]}
    removed = []

    def run(cmd, **kw):
        if cmd[1] == "images":
            return subprocess.CompletedProcess(cmd, 0, "\n".join(images[cmd[-1]]) + "\n", "")
        removed.append(cmd[-1])
        return subprocess.CompletedProcess(cmd, 0, "", "")
    monkeypatch.setattr(lab, "CACHE", tmp_path)
    monkeypatch.setattr(lab, "APT_DIR", tmp_path / "apt")
    monkeypatch.setattr(lab, "run", run)
    lab.prune_stale()
    assert removed == [f"{lab.IMAGE.split(':')[0]}:{ours}", f"{lab.SET_IMAGE_REPO}:{ours}-old-d1"]
    assert [p.name for p in tmp_path.glob("image-*")] == [f"image-{lab.KEY}.tar"]
