"""The facts contract is written once (docs/facts.yml): the modules' RETURN docs and docs/facts.md are in step
with it, and what the modules return from real hosts (the recorded fixtures) fits it, key by key and type by type."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import facts_contract as FC
import pytest
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _gather as G

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TYPES = {"str": str, "int": int, "bool": bool, "dict": dict, "list": list, "float": (int, float)}


def test_generated_docs_are_in_step_with_the_contract():
    stale = FC.stale_files()
    assert stale == [], f"run tests/unit/modules/facts_contract.py --write: {[str(p) for p in stale]}"


def test_a_change_to_the_contract_shows_as_stale():
    """The check can fail: one description changed in the contract changes a module's RETURN and docs/facts.md."""
    contract = copy.deepcopy(FC.load())
    contract["parts"]["containerd"]["contains"]["config_version"]["description"] = "changed"
    changed = {path.name for path, text in FC.expected_files(contract).items() if path.read_text() != text}
    assert changed == {"containerd_facts.py", "facts.md"}


def test_every_module_return_is_generated_and_parses():
    for module in FC.MODULES:
        text = (FC.MODULES_DIR / f"{module}.py").read_text()
        block = FC.RETURN_RE.search(text).group(1)
        assert block.startswith(FC.HEADER)
        assert FC.yaml.safe_load(block) == FC.module_return(FC.load(), module)


@pytest.mark.parametrize("part,empty", [("docker", G.empty_docker("/var/run/docker.sock")),
                                        ("containerd", G.empty_containerd("/run/containerd/containerd.sock"))])
def test_every_key_a_gatherer_starts_with_is_in_the_contract(part, empty):
    assert list(empty) == list(FC.load()["parts"][part]["contains"])


def check_types(value, spec: dict, path: str, problems: list) -> None:
    if value is None:
        return
    expected = TYPES[spec["type"]]
    if not isinstance(value, expected) or (spec["type"] == "int" and isinstance(value, bool)):
        problems.append(f"{path}: {value!r} is not {spec['type']}")
        return
    if spec["type"] == "list":
        for index, item in enumerate(value):
            item_spec = {"type": spec.get("elements", "str")}
            if "contains" in spec:
                item_spec["contains"] = spec["contains"]
            check_types(item, item_spec, f"{path}[{index}]", problems)
    elif spec["type"] == "dict" and "contains" in spec:
        for key, item in value.items():
            if key not in spec["contains"]:
                problems.append(f"{path}.{key}: returned but not in docs/facts.yml")
            else:
                check_types(item, spec["contains"][key], f"{path}.{key}", problems)
        problems += [f"{path}.{key}: in docs/facts.yml but not returned" for key in spec["contains"]
                     if key not in value and spec["contains"][key].get("returned", "always") == "always"]


@pytest.mark.parametrize("fixture", sorted(p.stem for p in FIXTURES.glob("*.json")))
def test_recorded_facts_fit_the_contract(fixture):
    facts = json.loads((FIXTURES / f"{fixture}.json").read_text())["facts"]
    contract = FC.load()
    problems: list = []
    for part, value in facts.items():
        check_types(value, contract["parts"][part], part, problems)
    assert problems == []


def test_type_check_catches_a_wrong_type():
    """The contract check can fail: a version returned as a number, an unknown key, a missing key."""
    facts = json.loads((FIXTURES / "mid.json").read_text())["facts"]["docker"]
    facts = dict(facts, api_version=1.45, surprise=True)
    del facts["stale"]
    problems: list = []
    check_types(facts, FC.load()["parts"]["docker"], "docker", problems)
    assert problems == ["docker.api_version: 1.45 is not str", "docker.surprise: returned but not in docs/facts.yml",
                        "docker.stale: in docs/facts.yml but not returned"]


def test_the_example_in_facts_md_fits_the_contract():
    """docs/facts.md's hand-written example shows every key of the contract, each with a value of its type."""
    text = FC.FACTS_MD.read_text()
    block = text[text.index("```yaml\ncontainer_engine:") + len("```yaml\n"):]
    example = FC.yaml.safe_load(block[:block.index("```")])["container_engine"]
    contract = FC.load()
    problems: list = []
    for part in FC.PARTS:
        check_types(example[part], contract["parts"][part], part, problems)
    assert problems == []
