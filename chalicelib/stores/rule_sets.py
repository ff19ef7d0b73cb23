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
from chalicelib.adapters import pagination
from chalicelib.adapters.auth import Identity
from chalicelib.adapters.dynamo import condition_failed
from chalicelib.core.clock import SYSTEM_CLOCK, Clock
from chalicelib.core.errors import (
    InvalidRequest,
    InvalidRuleSet,
    JobConflict,
    LookupNotFound,
    RuleVersionNotFound,
)
from chalicelib.core.models import RuleSetVersion
from chalicelib.core.redact import card_numbers
from chalicelib.dkt.rules import RuleSet, RuleSetError
from chalicelib.stores.page import Page

# A version is one DynamoDB item (400 KB at most), lookups included.
MAX_DOCUMENT_BYTES = 350_000


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


def get_current(owner: Identity) -> RuleSetVersion | None:
    """The tenant's newest version; None when the tenant never defined rules."""
    return _latest(owner.tenant_id)


def list_versions(owner: Identity, limit: int, cursor: str | None) -> Page[RuleSetVersion]:
    """The tenant's versions, newest first."""
    results = RuleSetVersion.query(
        owner.tenant_id,
        scan_index_forward=False,
        limit=limit,
        last_evaluated_key=pagination.decode(
            cursor, ("tenant_id", owner.tenant_id), {"tenant_id": "S", "version": "N"}
        ),
    )
    items = list(results)
    return Page(items, pagination.encode(results.last_evaluated_key))


def get_version(owner: Identity, version: int) -> RuleSetVersion:
    """One of the tenant's versions; RuleVersionNotFound for any other."""
    try:
        return RuleSetVersion.get(owner.tenant_id, version)
    except DoesNotExist as exc:
        raise RuleVersionNotFound(version) from exc


def validated(rules: Sequence[Any], lookups: Mapping[str, Any]) -> RuleSet:
    """The rule set compiled; raises InvalidRequest naming the rule and field at fault.

    Rules are stored and shown in clear, so they may not hold a card number (lines carry
    the card masked anyway: a rule matches on its last four digits).
    """
    if card_numbers(json.dumps([rules, lookups], ensure_ascii=False)):
        raise InvalidRequest(
            "Las reglas y tablas no pueden contener números de tarjeta completos; "
            "use los últimos 4 dígitos.",
            "card number in a rule set",
        )
    try:
        return RuleSet.load(rules, lookups, dkt.RECORD_FIELDS)
    except RuleSetError as exc:
        raise InvalidRuleSet(
            exc.message, rule_index=exc.rule_index, rule_code=exc.rule_code, field=exc.field
        ) from exc


def _write(
    owner: Identity, ruleset: RuleSet, expected_version: int, clock: Clock = SYSTEM_CLOCK
) -> RuleSetVersion:
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
    return item


def replace_rules(
    owner: Identity, rules: Sequence[Any], lookups: Mapping[str, Any] | None
) -> RuleSetVersion:
    """The whole rule set as a new version, with `lookups` or, if None, the current tables."""
    latest = _latest(owner.tenant_id)
    if lookups is None:
        lookups = latest.lookups if latest else {}
    ruleset = validated(rules, lookups)
    return _write(owner, ruleset, 0 if latest is None else int(latest.version))


_LOOKUP_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _lookup_name(name: str) -> str:
    if not _LOOKUP_NAME.match(name):
        raise InvalidRequest(
            "El nombre de una tabla lleva de 1 a 64 letras, números, '_' o '-'.",
            "bad lookup table name",
        )
    return name


def get_lookup(owner: Identity, name: str) -> RuleSetVersion:
    """The tenant's newest version, which holds lookup table `name`; else LookupNotFound."""
    if not _LOOKUP_NAME.match(name):
        raise LookupNotFound(name)
    latest = _latest(owner.tenant_id)
    if latest is None or name not in latest.lookups:
        raise LookupNotFound(name)
    return latest


def put_lookup(owner: Identity, name: str, entries: Mapping[str, Any]) -> RuleSetVersion:
    """Replaces one lookup table as a new version, keeping the rules."""
    _lookup_name(name)
    latest = _latest(owner.tenant_id)
    rules = latest.rules if latest else []
    lookups = {**(latest.lookups if latest else {}), name: entries}
    return _write(owner, validated(rules, lookups), 0 if latest is None else int(latest.version))


def delete_lookup(owner: Identity, name: str) -> RuleSetVersion:
    """Removes a lookup table; refused (400) while a rule still reads it."""
    latest = _latest(owner.tenant_id) if _LOOKUP_NAME.match(name) else None
    if latest is None or name not in latest.lookups:
        raise LookupNotFound(name)
    lookups = {key: value for key, value in latest.lookups.items() if key != name}
    return _write(owner, validated(latest.rules, lookups), int(latest.version))
