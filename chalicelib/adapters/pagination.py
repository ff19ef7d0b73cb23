"""Opaque pagination cursors: DynamoDB's LastEvaluatedKey, checked on the way back in."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from chalicelib.core.errors import InvalidRequest


def encode(last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    return base64.urlsafe_b64encode(json.dumps(last_key, sort_keys=True).encode()).decode()


MAX_KEY_LENGTH = 1024  # DynamoDB's limit for a sort key; hash keys allow more


def decode(
    cursor: str | None, partition: tuple[str, str], schema: dict[str, str]
) -> dict[str, Any] | None:
    """The start key a cursor stands for.

    It must have exactly the attributes of `schema` (name -> DynamoDB type, S or N),
    so an edited cursor is a 400 rather than a DynamoDB error, and stay inside
    `partition` (name, value), so it cannot page through somebody else's items.
    """
    if not cursor:
        return None
    invalid = InvalidRequest("El cursor de paginación no es válido.", "bad cursor")
    try:
        key: Any = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, binascii.Error) as exc:
        raise invalid from exc
    if not isinstance(key, dict) or set(key) != set(schema):
        raise invalid
    for name, kind in schema.items():
        typed = key[name]
        if not isinstance(typed, dict) or list(typed) != [kind]:
            raise invalid
        value = typed[kind]
        if not isinstance(value, str) or not 0 < len(value) <= MAX_KEY_LENGTH:
            raise invalid
        if kind == "N" and not value.isdigit():
            raise invalid
    name, value = partition
    if key[name] != {"S": value}:
        raise invalid
    return key
