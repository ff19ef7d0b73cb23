"""The rule set README shows is one the service takes, and names every record field."""

from __future__ import annotations

import json
import re
from pathlib import Path

from chalicelib import dkt
from chalicelib.dkt.rules import RuleSet

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("A rule set, as `PUT /api/rules` takes it:")
    return text[start : text.index("## Performance on AWS", start)]


def test_the_readme_rule_set_validates_and_sets_its_fields() -> None:
    section = readme_section()
    found = re.search(r"```json\n(.*?)```", section, re.S)
    assert found is not None
    example = json.loads(found.group(1))

    ruleset = RuleSet.load(example["rules"], example["lookups"], dkt.RECORD_FIELDS)

    assert ruleset.fields_set() == (
        "cuentaContable",
        "nota",
        "centroCosto",
        "estacion",
        "proveedor",
    )


def test_the_readme_lists_every_record_field() -> None:
    section = readme_section()

    missing = [name for name in dkt.RECORD_FIELDS if f"`{name}`" not in section]

    assert missing == []
