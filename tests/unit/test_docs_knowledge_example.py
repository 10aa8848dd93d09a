"""The inventory example in docs/knowledge_base.md works as written."""
import re
from pathlib import Path

import lab_facts
import yaml
from ansible_collections.fleetsafe.container_engine.plugins.filter.compat_findings import compat_findings

DOC = Path(__file__).resolve().parents[2] / "docs" / "knowledge_base.md"


def test_documented_knowledge_example_changes_the_findings():
    block = re.search(r"```yaml\n# group_vars/all.yml\n(.*?)```", DOC.read_text(), re.S).group(1)
    knowledge = yaml.safe_load(block)["fleetsafe_knowledge"]
    facts = lab_facts.host(lab_facts.docker(), lab_facts.containerd())
    plain = {f["id"] for f in compat_findings(facts, {"engine": "28.3.0"})}
    mine = compat_findings(facts, {"engine": "28.3.0"}, knowledge=knowledge)
    added = [f for f in mine if f["id"] not in plain or "our log driver" in f["message"]]
    assert any(f["severity"] == "blocker" and "our log driver" in f["message"] for f in added), mine
