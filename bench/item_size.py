"""An item's size as DynamoDB counts it for capacity units, from its wire form.

DynamoDB developer guide, "Item sizes and formats": the size is the sum of the UTF-8
lengths of attribute names and the sizes of their values; strings are their UTF-8
length, binary its byte length, a number about one byte per two significant digits plus
one, booleans and nulls one byte, and lists and maps 3 bytes plus one byte per element
plus their elements (map keys count like attribute names).

The bench's own, small version: the service is getting one of its own in chalicelib
(issue 10's write path); this one reads only the wire form, so it measures whatever
the service sends.
"""

from __future__ import annotations

from typing import Any


def _number_size(text: str) -> int:
    digits = text.lstrip("-").replace(".", "").split("e")[0].split("E")[0]
    significant = digits.strip("0") or "0"
    return (len(significant) + 1) // 2 + 1


def value_size(value: dict[str, Any]) -> int:
    """The size of one attribute value in DynamoDB's JSON form ({"S": ...}, {"N": ...})."""
    kind, data = next(iter(value.items()))
    if kind == "S":
        return len(data.encode("utf-8"))
    if kind == "N":
        return _number_size(data)
    if kind == "B":
        return len(data) if isinstance(data, bytes | bytearray) else len(data) * 3 // 4
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(text.encode("utf-8")) for text in data)
    if kind == "NS":
        return sum(_number_size(text) for text in data)
    if kind == "BS":
        return sum(len(blob) for blob in data)
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in data)
    if kind == "M":
        return 3 + sum(
            1 + len(name.encode("utf-8")) + value_size(element) for name, element in data.items()
        )
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: dict[str, Any]) -> int:
    """Bytes of an item (a dict of attribute name -> DynamoDB JSON value)."""
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())
