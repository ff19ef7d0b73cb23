"""The tenant's business rules and lookup tables, and trying rules on sample lines.

The request models check only the envelope (a list of rules, an object of tables);
each rule's own validation, with its Spanish messages, is the pure rule schema's
(`chalicelib.dkt.rule_schema`), reached through the rule store.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    WithJsonSchema,
)
from pydantic_core import ErrorDetails

from chalicelib import dkt
from chalicelib.adapters.auth import Identity
from chalicelib.api.jobs import LineErrorView
from chalicelib.api.queries import RuleVersionsQuery
from chalicelib.api.schema import ApiModel, Request, Timestamp
from chalicelib.core.errors import InvalidRequest
from chalicelib.core.models import RuleSetVersion
from chalicelib.dkt.rule_schema import RuleModel
from chalicelib.stores import rule_sets

MAX_TEST_LINES = 100

# Rules travel as the raw list the rule schema validates; the document still shows their shape.
RULES_SCHEMA = WithJsonSchema(
    {"type": "array", "items": {"$ref": "#/components/schemas/RuleModel"}}
)
RawRules = Annotated[list[Any], Field(strict=True), RULES_SCHEMA]
TABLES_SCHEMA = {
    "type": "object",
    "additionalProperties": {"type": "object", "additionalProperties": {"type": "string"}},
}
Tables = Annotated[dict[str, Any], Field(strict=True)]
# Models the document describes that no route names directly.
SCHEMA_MODELS = (RuleModel,)


def _not_null(value: Any) -> Any:
    if value is None:
        raise ValueError("null")
    return value


# Absent means "the stored ones" (or none); an explicit null is a mistake, not that.
NotNull = BeforeValidator(_not_null)


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)  # "absent" is not a value a client could send


class RulesBody(Request):
    """PUT /api/rules: the whole rule set and, if given, every lookup table."""

    model_config = ConfigDict(extra="ignore")

    rules: RawRules
    # Absent keeps the stored tables; null is refused, so the document shows no null.
    lookups: Annotated[Tables | None, NotNull, WithJsonSchema(TABLES_SCHEMA)] = Field(
        default=None, json_schema_extra=_no_default
    )

    @classmethod
    def problem(cls, error: ErrorDetails) -> str:
        if error["loc"] == ():
            return "Envíe un objeto con rules (y opcionalmente lookups)."
        if error["loc"][0] == "rules":
            return "El campo rules debe ser una lista de reglas."
        return "El campo lookups debe ser un objeto {nombre: {clave: valor}}."


class LookupBody(Request):
    """PUT /api/rules/lookups/{name}: the table's entries, key -> value."""

    model_config = ConfigDict(extra="ignore")

    entries: Tables

    @classmethod
    def problem(cls, error: ErrorDetails) -> str:
        return 'Envíe {"entries": {clave: valor, ...}}.'


# A sample line: DKT text, or a record of camelCase fields with plain values.
SampleLine = StrictStr | dict[str, StrictStr | StrictInt | StrictBool | None]


class RulesTestBody(Request):
    """POST /api/rules/test: lines to try; `rules` (and `lookups`) instead of the stored ones."""

    model_config = ConfigDict(extra="ignore")

    lines: Annotated[list[SampleLine], Field(strict=True, min_length=1, max_length=MAX_TEST_LINES)]
    rules: Annotated[RawRules | None, NotNull] = None
    lookups: Annotated[Tables, NotNull] = Field(default_factory=dict)

    messages: ClassVar[dict[str, str]] = {
        "rules": "El campo rules debe ser una lista de reglas.",
        "lookups": "El campo lookups debe ser un objeto {nombre: {clave: valor}}.",
    }

    @classmethod
    def problem(cls, error: ErrorDetails) -> str:
        loc = error["loc"]
        if loc and loc[0] in cls.messages:
            return cls.messages[str(loc[0])]
        if len(loc) >= 2 and isinstance(loc[1], int):
            return (
                f"La línea {loc[1] + 1} debe ser texto DKT o un objeto de campos con valores "
                "simples."
            )
        if loc == ("lines",) and error["type"] in ("too_short", "too_long"):
            return f"Envíe entre 1 y {MAX_TEST_LINES} líneas."
        return 'Envíe {"lines": [...]} con líneas DKT o registros.'


class RuleSetView(ApiModel):
    """A version of the tenant's rules (version 0: none defined yet)."""

    version: int
    rules: Annotated[list[dict[str, Any]], RULES_SCHEMA]
    lookups: dict[str, dict[str, Any]]
    updated_at: Timestamp | None
    updated_by: str | None

    @classmethod
    def of(cls, item: RuleSetVersion | None) -> RuleSetView:
        if item is None:
            return cls(version=0, rules=[], lookups={}, updated_at=None, updated_by=None)
        return cls(
            version=int(item.version),
            rules=item.rules,
            lookups=item.lookups,
            updated_at=item.created_at,
            updated_by=item.created_by,
        )


class RuleVersionSummary(ApiModel):
    """One version of the rules, as the version history lists it."""

    version: int
    rule_count: int
    lookup_names: list[str]
    updated_at: Timestamp
    updated_by: str

    @classmethod
    def of(cls, item: RuleSetVersion) -> RuleVersionSummary:
        return cls(
            version=int(item.version),
            rule_count=len(item.rules),
            lookup_names=sorted(item.lookups),
            updated_at=item.created_at,
            updated_by=item.created_by,
        )


class RuleVersionList(ApiModel):
    """GET /api/rules/versions: the tenant's versions, newest first."""

    versions: list[RuleVersionSummary]
    next_cursor: str | None


class LookupView(ApiModel):
    """One lookup table and the rules version it belongs to."""

    name: str
    entries: dict[str, Any]
    version: int


class RuleErrorView(ApiModel):
    """A rule that could not be evaluated on a line."""

    rule: str
    reason: str


class TestedLine(ApiModel):
    """A sample line after the rules: its record, the rules that fired, those that failed."""

    line_no: int
    record: dict[str, Any]
    fired: list[str]
    errors: list[RuleErrorView]


class UnreadableLine(ApiModel):
    """A sample line that is not a DKT line, so no rule ran on it."""

    line_no: int
    error: LineErrorView


class RulesTestResult(ApiModel):
    """What the rules did to each sample line, in order; nothing was written."""

    results: list[TestedLine | UnreadableLine]


# --- use cases ------------------------------------------------------------------------------


def get_rules(owner: Identity) -> RuleSetView:
    return RuleSetView.of(rule_sets.get_current(owner))


def put_rules(owner: Identity, body: RulesBody) -> RuleSetView:
    return RuleSetView.of(rule_sets.replace_rules(owner, body.rules, body.lookups))


def list_versions(owner: Identity, query: RuleVersionsQuery) -> RuleVersionList:
    page = rule_sets.list_versions(owner, query.limit, query.cursor or None)
    return RuleVersionList(
        versions=[RuleVersionSummary.of(item) for item in page.items],
        next_cursor=page.next_cursor,
    )


def get_version(owner: Identity, version: str) -> RuleSetView:
    """One version of the tenant's rules, as it was saved."""
    if not version.isascii() or not version.isdigit() or not 0 < len(version) <= 9:
        raise InvalidRequest("La versión debe ser un número entero positivo.", "bad rules version")
    return RuleSetView.of(rule_sets.get_version(owner, int(version)))


def get_lookup(owner: Identity, name: str) -> LookupView:
    version = rule_sets.get_lookup(owner, name)
    return LookupView(name=name, entries=version.lookups[name], version=int(version.version))


def put_lookup(owner: Identity, name: str, body: LookupBody) -> RuleSetView:
    return RuleSetView.of(rule_sets.put_lookup(owner, name, body.entries))


def delete_lookup(owner: Identity, name: str) -> RuleSetView:
    return RuleSetView.of(rule_sets.delete_lookup(owner, name))


def try_rules(owner: Identity, body: RulesTestBody, card_key: bytes) -> RulesTestResult:
    """Applies the given rules (or the stored ones) to sample lines; writes nothing."""
    if body.rules is not None:
        ruleset = rule_sets.validated(body.rules, body.lookups)
    else:
        tenant = owner.tenant_id
        ruleset = rule_sets.load_version(tenant, rule_sets.current_version(tenant))
    results: list[TestedLine | UnreadableLine] = []
    for number, line in enumerate(body.lines, start=1):
        record = _as_record(line, number, card_key)
        if isinstance(record, dkt.LineError):
            results.append(UnreadableLine(line_no=number, error=_line_error(record)))
            continue
        outcome = ruleset.apply(record)
        results.append(
            TestedLine(
                line_no=number,
                record=dict(outcome.record),
                fired=list(outcome.fired),
                errors=[RuleErrorView(rule=e.rule_code, reason=e.reason) for e in outcome.errors],
            )
        )
    return RulesTestResult(results=results)


def _line_error(error: dkt.LineError) -> LineErrorView:
    return LineErrorView(
        line_no=error.line_no, field=error.field, value=error.value, reason=error.reason
    )


def _as_record(
    line: str | Mapping[str, str | int | bool | None], number: int, card_key: bytes
) -> Mapping[str, str | int | None] | dkt.LineError:
    if not isinstance(line, str):
        return line
    parsed = dkt.parse_line(line.encode(), number, dkt.Encoding.UTF8, card_key)
    if parsed is None:
        return dkt.LineError(number, None, None, "la línea está vacía")
    return parsed if isinstance(parsed, dkt.LineError) else parsed.to_record()
