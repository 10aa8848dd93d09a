"""docs/incidents.md stays true to the repository: the anchors other pages link to exist, every link
to one of its anchors resolves, every finding id it names is one the code emits, and every test it
cites exists with the function it names."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "incidents.md"
TEXT = DOC.read_text()
ANCHORS = set(re.findall(r'<a id="([^"]+)"></a>', TEXT))

# Linked from the README, the other docs and the plugins' documentation.
REQUIRED = {
    "client-api-too-new", "containerd-shim-v3", "unpublished-image-tag", "agent-api-too-old",
    "rootless-slirp4netns-28-0-0", "lab", "lab-api-ranges", "lab-min-api-override", "lab-containerd-shim-v3",
    "lab-containerd-downgrade", "lab-engine-package-no-restart", "lab-live-restore",
    "lab-storage-driver-removed", "lab-rootless-port-drivers",
}
FINDING_PREFIXES = ("client_api_", "min_api_override_", "containerd_", "engine_", "storage_driver_",
                    "live_restore_", "known_bad_", "image_tag_", "daemon_option_")


def shipped_text_files():
    for top in ("README.md", "docs", "plugins", "roles", "data", "playbooks", "meta"):
        path = ROOT / top
        for f in [path] if path.is_file() else sorted(path.rglob("*")):
            if f.is_file() and f.suffix in (".md", ".py", ".yml", ".yaml", ".j2"):
                yield f


def test_required_anchors_exist_once():
    assert REQUIRED <= ANCHORS, sorted(REQUIRED - ANCHORS)
    for anchor in ANCHORS:
        assert TEXT.count(f'<a id="{anchor}"></a>') == 1, anchor


def test_every_link_to_an_incident_anchor_resolves():
    links = []
    for f in shipped_text_files():
        for anchor in re.findall(r"incidents\.md#([A-Za-z0-9_-]+)", f.read_text()):
            links.append((f.relative_to(ROOT), anchor))
    links += [(DOC.relative_to(ROOT), a) for a in re.findall(r"\]\(#([A-Za-z0-9_-]+)\)", TEXT)]
    assert links, "no links found: the pattern is wrong"
    broken = [(str(f), a) for f, a in links if a not in ANCHORS]
    assert broken == []


def test_finding_ids_named_are_emitted_by_the_code():
    code = "\n".join(p.read_text() for p in (ROOT / "plugins" / "plugin_utils").rglob("*.py"))
    known = set(re.findall(r"""['"]([a-z][a-z0-9]*(?:_[a-z0-9]+)+)['"]""", code))
    named = {t for t in re.findall(r"`([a-z0-9_]+)`", TEXT) if t.startswith(FINDING_PREFIXES)}
    assert len(named) >= 20, sorted(named)
    assert sorted(named - known) == []


def test_each_incident_names_the_findings_that_catch_it():
    sections = re.split(r'\n<a id="', TEXT)
    for anchor in ("client-api-too-new", "containerd-shim-v3", "unpublished-image-tag", "agent-api-too-old",
                   "rootless-slirp4netns-28-0-0"):
        [section] = [s for s in sections if s.startswith(anchor + '"')]
        assert "**What catches it.**" in section and re.search(r"\*\*`[a-z_]+`\*\*", section), anchor
        assert "https://github.com/" in section, anchor


def test_cited_tests_exist_with_the_functions_named():
    files = set(re.findall(r"`(tests/[\w/.]+)`", TEXT))
    for path in files:
        assert (ROOT / path.rstrip("/")).exists(), path
    sources = "\n".join((ROOT / p).read_text() for p in files if p.endswith(".py"))
    functions = set(re.findall(r"`(test_\w+)`", TEXT))
    assert len(functions) >= 8, functions
    missing = [f for f in sorted(functions) if not re.search(rf"^def {f}\(", sources, re.M)]
    assert missing == []


def test_each_lab_answer_names_the_real_engine_test_that_checks_it():
    sections = re.split(r'\n<a id="', TEXT)
    for anchor in sorted(a for a in REQUIRED if a.startswith("lab-")):
        [section] = [s for s in sections if s.startswith(anchor + '"')]
        assert re.search(r"Tests?:\s*`tests/integration/test_\w+\.py`", section), anchor
