"""An item's size as DynamoDB counts it for capacity units, and the write units it costs.

From the DynamoDB developer guide, "Item sizes and formats": the size is the sum of the
UTF-8 lengths of attribute names and the sizes of their values. A string is its UTF-8
length; a binary its raw length (not its base64); a number about one byte per two
significant digits (leading and trailing zeros trimmed) plus one; a boolean or null one
byte; a list or map 3 bytes, plus one byte per element, plus its elements (a map's keys
count like attribute names); a set the sum of its elements.

Pure: it reads the wire form (`Model.serialize()`, or a request's `Item`), no AWS.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from typing import Any

WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096


def number_size(text: str) -> int:
    """Bytes of a DynamoDB number given as its decimal text."""
    mantissa = text.strip().lstrip("+-").lower().split("e")[0]
    digits = mantissa.replace(".", "").strip("0")
    return math.ceil(len(digits) / 2) + 1


def _binary_size(data: Any) -> int:
    if isinstance(data, bytes | bytearray | memoryview):
        return len(data)
    return len(base64.b64decode(data))  # the JSON wire form carries base64 text


def value_size(value: Mapping[str, Any]) -> int:
    """Bytes of one attribute value in DynamoDB's typed form ({"S": ...}, {"N": ...})."""
    [(kind, data)] = value.items()
    if kind == "S":
        return len(data.encode("utf-8"))
    if kind == "N":
        return number_size(data)
    if kind == "B":
        return _binary_size(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(text.encode("utf-8")) for text in data)
    if kind == "NS":
        return sum(number_size(text) for text in data)
    if kind == "BS":
        return sum(_binary_size(blob) for blob in data)
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in data)
    if kind == "M":
        return 3 + sum(
            1 + len(name.encode("utf-8")) + value_size(element) for name, element in data.items()
        )
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    """Bytes of an item: attribute name -> typed value."""
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def write_units(item: Mapping[str, Mapping[str, Any]], *, transactional: bool = False) -> int:
    """Write units one write of `item` costs: 1 per KB, rounded up (doubled in a transaction)."""
    units = max(1, math.ceil(item_size(item) / WRITE_UNIT_BYTES))
    return 2 * units if transactional else units
