"""Opaque pagination cursors: DynamoDB's LastEvaluatedKey, checked on the way back in."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from chalicelib.errors import InvalidRequest


def encode(last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    return base64.urlsafe_b64encode(json.dumps(last_key, sort_keys=True).encode()).decode()


def decode(cursor: str | None, partition: tuple[str, str]) -> dict[str, Any] | None:
    """The start key a cursor stands for; it must stay inside `partition` (name, value),
    so a cursor cannot page through somebody else's items."""
    if not cursor:
        return None
    invalid = InvalidRequest("El cursor de paginación no es válido.", f"bad cursor {cursor!r}")
    try:
        key: Any = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, binascii.Error) as exc:
        raise invalid from exc
    name, value = partition
    if not isinstance(key, dict) or not isinstance(key.get(name), dict):
        raise invalid
    if next(iter(key[name].values()), None) != value:
        raise invalid
    return key
