"""A tenant's business rules and lookup tables in DynamoDB."""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import DoesNotExist

from chalicelib.dkt import RECORD_FIELDS
from chalicelib.models import RulesDocument
from chalicelib.rules import RuleSet


def _document(tenant_id: str) -> RulesDocument | None:
    try:
        return RulesDocument.get(tenant_id, consistent_read=True)
    except DoesNotExist:
        return None


def load(tenant_id: str) -> RuleSet:
    """The tenant's rules, validated (an empty set when it has none)."""
    document = _document(tenant_id)
    if document is None:
        return RuleSet.empty()
    return RuleSet.load(document.rules, document.lookups, RECORD_FIELDS)


def current_snapshot(tenant_id: str) -> dict[str, Any]:
    """The rules as they are now, frozen for one job (editing them later cannot mix sets)."""
    return load(tenant_id).to_json()
