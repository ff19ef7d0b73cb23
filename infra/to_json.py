"""Converts infra/template.yaml (short CloudFormation tags) to JSON for `chalice package`.

Chalice keeps the merge template's format for its output, and its YAML output uses
anchors for repeated nodes, which CloudFormation does not accept; JSON has none.

    python infra/to_json.py infra/template.yaml build/merge.json
"""

from __future__ import annotations

import json
import sys
from typing import Any

import yaml


class CloudFormationLoader(yaml.SafeLoader):
    """YAML with !Ref, !GetAtt, !Sub... read as their long forms."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


CloudFormationLoader.add_multi_constructor("!", _intrinsic)


def load(path: str) -> Any:
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=CloudFormationLoader)


if __name__ == "__main__":
    source, target = sys.argv[1:3]
    with open(target, "w", encoding="utf-8") as out:
        json.dump(load(source), out, indent=2)
