"""A tenant's business rules and lookup tables: immutable versions in DynamoDB.

Every edit writes the next version; a job records the version it started with and
reads exactly that one, so editing rules mid-import cannot mix two sets in a lote.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError

from chalicelib import dkt
from chalicelib.adapters.auth import Identity
from chalicelib.adapters.dynamo import condition_failed
from chalicelib.core.clock import SYSTEM_CLOCK, Clock, iso
from chalicelib.core.errors import InvalidRequest, JobConflict, LookupNotFound
from chalicelib.core.models import RuleSetVersion
from chalicelib.dkt.rules import RuleSet, RuleSetError

# A version is one DynamoDB item (400 KB at most), lookups included.
MAX_DOCUMENT_BYTES = 350_000
MAX_TEST_LINES = 100


def _latest(tenant_id: str) -> RuleSetVersion | None:
    for item in RuleSetVersion.query(
        tenant_id, scan_index_forward=False, limit=1, consistent_read=True
    ):
        return item
    return None


def current_version(tenant_id: str) -> int:
    """The tenant's newest version (0 when the tenant never defined rules)."""
    latest = _latest(tenant_id)
    return 0 if latest is None else int(latest.version)


def load_version(tenant_id: str, version: int) -> RuleSet:
    """The compiled rules of one version (the empty set for version 0)."""
    if version == 0:
        return RuleSet.empty()
    try:
        item = RuleSetVersion.get(tenant_id, version, consistent_read=True)
    except DoesNotExist as exc:
        raise ValueError(f"tenant {tenant_id} has no rules version {version}") from exc
    return RuleSet.load(item.rules, item.lookups, dkt.RECORD_FIELDS)


def _to_api(item: RuleSetVersion | None) -> dict[str, Any]:
    if item is None:
        return {"version": 0, "rules": [], "lookups": {}, "updatedAt": None, "updatedBy": None}
    return {
        "version": int(item.version),
        "rules": item.rules,
        "lookups": item.lookups,
        "updatedAt": iso(item.created_at),
        "updatedBy": item.created_by,
    }


def get_current(owner: Identity) -> dict[str, Any]:
    return _to_api(_latest(owner.tenant_id))


def _validated(rules: Any, lookups: Any) -> RuleSet:
    if not isinstance(rules, list):
        raise InvalidRequest("El campo rules debe ser una lista de reglas.")
    if not isinstance(lookups, dict):
        raise InvalidRequest("El campo lookups debe ser un objeto {nombre: {clave: valor}}.")
    try:
        return RuleSet.load(rules, lookups, dkt.RECORD_FIELDS)
    except RuleSetError as exc:
        raise InvalidRequest(exc.message, f"invalid rule set: {exc.message}") from exc


def _write(
    owner: Identity, ruleset: RuleSet, expected_version: int, clock: Clock = SYSTEM_CLOCK
) -> dict[str, Any]:
    document = ruleset.to_json()
    if len(json.dumps(document)) > MAX_DOCUMENT_BYTES:
        raise InvalidRequest(
            f"Las reglas y tablas superan los {MAX_DOCUMENT_BYTES // 1000} KB permitidos."
        )
    item = RuleSetVersion(
        tenant_id=owner.tenant_id,
        version=expected_version + 1,
        rules=document["rules"],
        lookups=document["lookups"],
        created_at=clock.now(),
        created_by=owner.user_id,
    )
    try:
        item.save(condition=RuleSetVersion.version.does_not_exist())
    except PutError as exc:
        if not condition_failed(exc):
            raise
        raise JobConflict(
            f"rules of tenant {owner.tenant_id} changed concurrently",
            "Otra persona modificó las reglas al mismo tiempo; vuelva a cargarlas.",
        ) from exc
    return _to_api(item)


def replace_rules(owner: Identity, body: Any) -> dict[str, Any]:
    """PUT /api/rules: the whole rule set (and, if given, the lookup tables) as a new version."""
    if not isinstance(body, dict):
        raise InvalidRequest("Envíe un objeto con rules (y opcionalmente lookups).")
    latest = _latest(owner.tenant_id)
    lookups = body.get("lookups", latest.lookups if latest else {})
    ruleset = _validated(body.get("rules"), lookups)
    return _write(owner, ruleset, 0 if latest is None else int(latest.version))


_LOOKUP_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _lookup_name(name: str) -> str:
    if not _LOOKUP_NAME.match(name):
        raise InvalidRequest(
            "El nombre de una tabla lleva de 1 a 64 letras, números, '_' o '-'.",
            "bad lookup table name",
        )
    return name


def get_lookup(owner: Identity, name: str) -> dict[str, Any]:
    if not _LOOKUP_NAME.match(name):
        raise LookupNotFound(name[:64])
    latest = _latest(owner.tenant_id)
    if latest is None or name not in latest.lookups:
        raise LookupNotFound(name)
    return {"name": name, "entries": latest.lookups[name], "version": int(latest.version)}


def put_lookup(owner: Identity, name: str, body: Any) -> dict[str, Any]:
    """PUT /api/rules/lookups/{name}: replaces one lookup table, keeping the rules."""
    _lookup_name(name)
    entries = body.get("entries") if isinstance(body, dict) else None
    if not isinstance(entries, dict):
        raise InvalidRequest('Envíe {"entries": {clave: valor, ...}}.')
    latest = _latest(owner.tenant_id)
    rules = latest.rules if latest else []
    lookups = {**(latest.lookups if latest else {}), name: entries}
    return _write(owner, _validated(rules, lookups), 0 if latest is None else int(latest.version))


def delete_lookup(owner: Identity, name: str) -> dict[str, Any]:
    """Removes a lookup table; refused (400) while a rule still reads it."""
    latest = _latest(owner.tenant_id)
    if latest is None or name not in latest.lookups:
        raise LookupNotFound(name)
    lookups = {key: value for key, value in latest.lookups.items() if key != name}
    return _write(owner, _validated(latest.rules, lookups), int(latest.version))


def try_rules(owner: Identity, body: Any, card_key: bytes) -> dict[str, Any]:
    """POST /api/rules/test: applies rules to the given lines and writes nothing.

    `lines` are DKT lines as text or records (camelCase fields); `rules` and `lookups`,
    if given, are tried instead of the stored ones.
    """
    if not isinstance(body, dict) or not isinstance(body.get("lines"), list):
        raise InvalidRequest('Envíe {"lines": [...]} con líneas DKT o registros.')
    lines: Sequence[Any] = body["lines"]
    if not 1 <= len(lines) <= MAX_TEST_LINES:
        raise InvalidRequest(f"Envíe entre 1 y {MAX_TEST_LINES} líneas.")
    if "rules" in body:
        ruleset = _validated(body["rules"], body.get("lookups", {}))
    else:
        ruleset = load_version(owner.tenant_id, current_version(owner.tenant_id))
    results = []
    for number, line in enumerate(lines, start=1):
        record = _as_record(line, number, card_key)
        if isinstance(record, dkt.LineError):
            results.append({"lineNo": number, "error": record.to_dict()})
            continue
        outcome = ruleset.apply(record)
        results.append(
            {
                "lineNo": number,
                "record": outcome.record,
                "fired": list(outcome.fired),
                "errors": [error.to_dict() for error in outcome.errors],
            }
        )
    return {"results": results}


def _as_record(
    line: Any, number: int, card_key: bytes
) -> Mapping[str, str | int | None] | dkt.LineError:
    if isinstance(line, str):
        parsed = dkt.parse_line(line.encode(), number, dkt.Encoding.UTF8, card_key)
        if parsed is None:
            return dkt.LineError(number, None, None, "la línea está vacía")
        return parsed if isinstance(parsed, dkt.LineError) else parsed.to_record()
    if isinstance(line, dict) and all(
        isinstance(value, str | int | type(None)) for value in line.values()
    ):
        return line
    raise InvalidRequest(
        f"La línea {number} debe ser texto DKT o un objeto de campos con valores simples."
    )
