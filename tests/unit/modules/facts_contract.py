"""The facts contract written once: docs/facts.yml -> the RETURN docs of the five facts modules and the
key tables of docs/facts.md.

    .venv/bin/python tests/unit/modules/facts_contract.py           # check: exit 1 and name what is stale
    .venv/bin/python tests/unit/modules/facts_contract.py --write   # rewrite the RETURN blocks and the tables

ansible-doc and ansible-test read RETURN as a literal string in each module file, so the generated text is
committed there; test_facts_contract.py fails when a module's RETURN or docs/facts.md is out of step with
docs/facts.yml, and when a value the modules return does not fit the type the contract gives it.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
SOURCE = ROOT / "docs" / "facts.yml"
FACTS_MD = ROOT / "docs" / "facts.md"
MODULES_DIR = ROOT / "plugins" / "modules"
PARTS = ("docker", "containerd", "rootless", "clients")
# module -> the parts of ansible_facts.container_engine it returns
MODULES = {"docker_facts": ("docker",), "containerd_facts": ("containerd",), "rootless_facts": ("rootless",),
           "clients_facts": ("clients",), "container_engine_facts": PARTS}
AGGREGATE = "container_engine_facts"
KEY_ORDER = ("description", "returned", "type", "elements", "sample", "contains")
RETURN_RE = re.compile(r'^RETURN = r"""\n(.*?)^"""$', re.DOTALL | re.MULTILINE)
MD_BEGIN = "<!-- BEGIN generated from docs/facts.yml by tests/unit/modules/facts_contract.py: do not edit -->"
MD_END = "<!-- END generated -->"
HEADER = ("# Generated from docs/facts.yml (the facts contract) by tests/unit/modules/facts_contract.py --write;\n"
          "# edit that file, not this block.\n")


LINE_WIDTH = 118  # the module files' line limit (ruff) is 120


class _Dumper(yaml.SafeDumper):
    """Block YAML with list items indented under their key, as Ansible's own docs are written, and plain text
    folded before a word that would pass LINE_WIDTH (PyYAML folds only after passing it)."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)

    def write_plain(self, text, split=True):
        if not split or " " not in text or "\n" in text:
            return super().write_plain(text, split)
        if self.root_context:
            self.open_ended = True
        for index, word in enumerate(text.split(" ")):
            if index == 0 and self.whitespace:
                data = word
            elif self.column + 1 + len(word) > self.best_width and index > 0 and word:
                self.write_indent()
                data = word
            else:
                data = " " + word
            self.whitespace = self.indention = False
            self.column += len(data)
            self.stream.write(data)


def dump(data) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=LINE_WIDTH, default_flow_style=False,
                     allow_unicode=True)


def load() -> dict:
    return yaml.safe_load(SOURCE.read_text())


def _return_spec(spec: dict, returned: str = "always") -> dict:
    """A contract entry as an Ansible RETURN entry: `returned` filled in, keys in the usual order."""
    out = {}
    for key in KEY_ORDER:
        if key == "returned":
            out[key] = spec.get("returned", returned)
        elif key == "contains" and "contains" in spec:
            out[key] = {name: _return_spec(child) for name, child in spec["contains"].items()}
        elif key in spec:
            out[key] = spec[key]
    return out


def module_return(contract: dict, module: str) -> dict:
    """The RETURN of one module, built from the contract."""
    parts = MODULES[module]
    aggregate = module == AGGREGATE
    doc = {}
    if "docker" in parts:
        top = dict(contract["can_talk_to_docker"])
        if aggregate:
            top["returned"] = "when O(gather) includes V(docker) or V(all), " + top["returned"]
        doc["can_talk_to_docker"] = _return_spec(top)
    container_engine = {}
    for part in parts:
        spec = {k: v for k, v in contract["parts"][part].items() if k != "module"}
        if aggregate:
            # each part once, in its own module's documentation: the aggregate points there
            description = spec["description"] if isinstance(spec["description"], list) else [spec["description"]]
            module_name = contract["parts"][part]["module"]
            spec = {"description": description + [
                f"The same dict as M({module_name}) returns; its RETURN documentation lists every key."],
                "returned": "when gathered (O(gather))", "type": "dict"}
        container_engine[part] = _return_spec(spec)
    doc["ansible_facts"] = _return_spec({
        "description": "Facts to add to the host.",
        "type": "dict",
        "contains": {"container_engine": {
            "description": "The container engine facts (C(docs/facts.md) of the collection is their contract).",
            "type": "dict", "contains": container_engine}},
    })
    return doc


def module_return_text(contract: dict, module: str) -> str:
    return HEADER + dump(module_return(contract, module))


# --- docs/facts.md ------------------------------------------------------------------------------------
_MARKUP = re.compile(r"\b([CVOEMIUP])\(((?:[^()]|\([^()]*\))*)\)")


def _code(match) -> str:
    kind, inner = match.group(1), match.group(2).strip()
    if kind == "O":
        inner = inner.split(":")[-1]  # O(fqcn#module:name) -> name
    elif kind == "P":
        inner = inner.split("#")[0]  # P(fqcn#filter) -> fqcn
    return f"`{inner}`"


def markdown_text(text) -> str:
    """Ansible doc markup -> Markdown: C(x), V(x), O(x), E(x), M(x), P(x) -> `x`."""
    if isinstance(text, list):
        text = " ".join(text)
    return " ".join(_MARKUP.sub(_code, str(text)).split()).replace("|", "\\|")


def _sample(spec: dict) -> str:
    if "sample" not in spec:
        return ""
    value = spec["sample"]
    text = value if isinstance(value, str) else json.dumps(value)
    return "`{}`".format(text.replace("|", "\\|").replace("`", "'"))


def _rows(contains: dict, prefix: str = ""):
    for name, spec in contains.items():
        path = prefix + name
        kind = spec["type"] + (f"[{spec['elements']}]" if spec.get("elements") else "")
        yield f"| `{path}` | {kind} | {markdown_text(spec['description'])} | {_sample(spec)} |"
        if "contains" in spec:
            yield from _rows(spec["contains"], path + ("[]." if spec["type"] == "list" else "."))


def facts_md_block(contract: dict) -> str:
    lines = [MD_BEGIN, ""]
    for part in PARTS:
        spec = contract["parts"][part]
        lines += [f"### `container_engine.{part}`", "",
                  f"Returned by `{spec['module']}` and `fleetsafe.container_engine.{AGGREGATE}`. "
                  f"{markdown_text(spec['description'])}", "",
                  "| key | type | what it is | sample |", "|---|---|---|---|"]
        lines += list(_rows(spec["contains"]))
        lines.append("")
    lines.append(MD_END)
    return "\n".join(lines)


def _replace_md_block(text: str, block: str) -> str:
    start, end = text.index(MD_BEGIN), text.index(MD_END) + len(MD_END)
    return text[:start] + block + text[end:]


# --- check and write ----------------------------------------------------------------------------------
def expected_files(contract: dict | None = None) -> dict[Path, str]:
    """Every generated file with the content it must have."""
    contract = contract or load()
    files = {}
    for module in MODULES:
        path = MODULES_DIR / f"{module}.py"
        text = path.read_text()
        if not RETURN_RE.search(text):
            raise ValueError(f"{path}: no RETURN = r\"\"\" ... \"\"\" block")
        new = module_return_text(contract, module)
        files[path] = RETURN_RE.sub(lambda _m, new=new: 'RETURN = r"""\n' + new + '"""', text, count=1)
    files[FACTS_MD] = _replace_md_block(FACTS_MD.read_text(), facts_md_block(contract))
    return files


def stale_files() -> list[Path]:
    return [path for path, text in expected_files().items() if path.read_text() != text]


def main(argv: list[str]) -> int:
    if "--write" in argv:
        for path, text in expected_files().items():
            if path.read_text() != text:
                path.write_text(text)
                print(f"wrote {path.relative_to(ROOT)}")
        return 0
    stale = stale_files()
    for path in stale:
        print(f"{path.relative_to(ROOT)} is out of step with docs/facts.yml: run "
              f"tests/unit/modules/facts_contract.py --write", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
