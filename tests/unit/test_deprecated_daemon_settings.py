"""docker/cli docs/deprecated.md (tags v23.0.0 to v29.7.2) against the knowledge base: every entry that concerns a
daemon setting is covered by rows that exist and name the entry, every other entry says why no row covers it, and
every daemon_options row is on the checklist (tests/unit/data/deprecated_daemon_settings.yml)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils import _kb
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._versions import parse_version

CHECKLIST = Path(__file__).parent / "data" / "deprecated_daemon_settings.yml"
CONCERNS = ("daemon", "client", "api", "container", "builder", "host", "packaging", "registry", "windows")
FIRST_LINE = (23, 0)
# the key each referenced section is looked up by
KEYS = {"daemon_options": "id", "storage_drivers": "driver", "upgrade_rules": "id", "engines": "line"}


def load() -> dict:
    return yaml.safe_load(CHECKLIST.read_text(encoding="utf-8"))


def plain(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("`", "")).strip().lower()


def resolve(ref: str, sections: dict):
    """The row a reference names (section:key), or None."""
    section, _sep, key = ref.partition(":")
    if section not in KEYS:
        return None
    return next((row for row in sections.get(section, []) if str(row.get(KEYS[section])) == key), None)


def removal_in_window(entry: dict) -> bool:
    """A removal in 23.0 or later, or none yet: the knowledge base must speak about it."""
    remove = entry.get("remove")
    return remove is None or parse_version(remove.lstrip("v")).line >= FIRST_LINE


def problems(checklist: dict, sections: dict) -> list[str]:
    found = []
    seen = set()
    named = set()
    for entry in checklist["entries"] + checklist.get("from_moby_code", []):
        name = entry.get("heading") or entry.get("setting")
        if name in seen:
            found.append(f"{name}: listed twice")
        seen.add(name)
        rows, reason = entry.get("rows") or [], (entry.get("not_covered_because") or "").strip()
        if bool(rows) == bool(reason):
            found.append(f"{name}: needs either rows or not_covered_because (exactly one)")
        if "heading" in entry:
            if entry.get("concerns") not in CONCERNS:
                found.append(f"{name}: concerns must be one of {', '.join(CONCERNS)}, got {entry.get('concerns')!r}")
            if entry.get("concerns") == "daemon" and removal_in_window(entry) and not rows:
                found.append(f"{name}: a daemon setting removed in 23.0 or later (or not yet) needs rows, "
                             "not an excuse")
        for ref in rows:
            row = resolve(ref, sections)
            if row is None:
                found.append(f"{name}: no knowledge-base row {ref}")
                continue
            named.add(ref)
            section = ref.partition(":")[0]
            if "heading" in entry and section in ("daemon_options", "storage_drivers") \
                    and plain(entry["heading"]) not in plain(row["source"]):
                found.append(f"{name}: row {ref} does not name the deprecated.md entry in its source")
    for row in sections["daemon_options"]:
        if f"daemon_options:{row['id']}" not in named:
            found.append(f"daemon_options:{row['id']} is on no entry of the checklist")
    return found


def test_the_knowledge_base_covers_the_checklist():
    assert problems(load(), _kb.sections_copy()) == []


def test_the_checklist_reads_every_release_tag_of_the_window():
    tags = load()["deprecated_md_tags"]
    lines = {parse_version(t.lstrip("v")).line for t in tags}
    assert {(23, 0), (24, 0), (25, 0), (26, 0), (26, 1), (27, 0), (27, 5), (28, 5), (29, 0), (29, 7)} <= lines
    assert tags == sorted(tags, key=lambda t: parse_version(t.lstrip("v")).line)


@pytest.mark.parametrize("change,fragment", [
    (lambda c, s: c["entries"][0].pop("not_covered_because"), "needs either rows or not_covered_because"),
    (lambda c, s: c["entries"][0].update(rows=["daemon_options:daemon-json-graph"]), "exactly one"),
    (lambda c, s: next(e for e in c["entries"] if e["heading"] == "API CORS headers").update(
        rows=["daemon_options:no-such-row"]), "no knowledge-base row daemon_options:no-such-row"),
    (lambda c, s: next(e for e in c["entries"] if e["heading"] == "Logentries logging driver").update(
        rows=[], not_covered_because="client-side option"), "needs rows, not an excuse"),
    (lambda c, s: s["daemon_options"].append(dict(s["daemon_options"][0], id="daemon-json-new")),
     "daemon_options:daemon-json-new is on no entry"),
    (lambda c, s: s["daemon_options"][0].update(source="moby/moby@v23.0.0 somewhere"),
     "does not name the deprecated.md entry"),
    (lambda c, s: c["entries"][0].update(concerns="misc"), "concerns must be one of"),
    (lambda c, s: c["entries"].append(dict(c["entries"][0])), "listed twice"),
])
def test_the_check_fails_on_a_broken_checklist_or_knowledge_base(change, fragment):
    checklist, sections = load(), _kb.sections_copy()
    change(checklist, sections)
    assert any(fragment in p for p in problems(checklist, sections)), problems(checklist, sections)
