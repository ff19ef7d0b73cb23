"""The JSON shape of a business rule set, and its validation.

A rule set arrives from the API as camelCase JSON: ordered rules, each with
conditions on a line's fields and actions that set fields, plus lookup tables.
The pydantic models here check that shape and normalise its values (a JSON
number becomes its text, a REGEX pattern must compile); :func:`parse_rule_set`
adds the checks no single model can make (duplicate codes, unknown fields and
tables) and reports the first problem as a :class:`RuleSetError` whose Spanish
message names the rule and the field.

The engine, :mod:`chalicelib.dkt.rules`, compiles what this module validated and
re-exports its public names; this module never imports the engine.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from chalicelib.dkt import patterns
from chalicelib.dkt.text import as_number, clipped, quoted


class Operator(StrEnum):
    EQUALS = "EQUALS"
    NOT_EQUALS = "NOT_EQUALS"
    CONTAINS = "CONTAINS"
    NOT_CONTAINS = "NOT_CONTAINS"
    STARTS_WITH = "STARTS_WITH"
    ENDS_WITH = "ENDS_WITH"
    REGEX = "REGEX"
    IN = "IN"
    NOT_IN = "NOT_IN"
    IS_EMPTY = "IS_EMPTY"
    IS_NOT_EMPTY = "IS_NOT_EMPTY"
    GREATER_THAN = "GREATER_THAN"
    LESS_THAN = "LESS_THAN"
    GREATER_OR_EQUAL = "GREATER_OR_EQUAL"
    LESS_OR_EQUAL = "LESS_OR_EQUAL"
    BETWEEN = "BETWEEN"


class ActionType(StrEnum):
    SET = "SET"
    APPEND = "APPEND"
    SET_IF_EMPTY = "SET_IF_EMPTY"
    EXTRACT_REGEX = "EXTRACT_REGEX"
    LOOKUP = "LOOKUP"


class Match(StrEnum):
    ALL = "ALL"
    ANY = "ANY"


class RuleSetError(ValueError):
    """The rule set cannot be loaded; the message names the rule and the field."""

    def __init__(
        self,
        message: str,
        *,
        rule_index: int | None = None,
        rule_code: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.rule_index = rule_index
        self.rule_code = rule_code
        self.field = field


# --- the JSON shape ------------------------------------------------------------


def _invalid(message: str) -> PydanticCustomError:
    # The message goes in the context: regex patterns carry braces.
    return PydanticCustomError("regla", "{detalle}", {"detalle": message})


def _scalar(value: object) -> str:
    """A rule constant as text: strings as given, JSON numbers written out."""
    if isinstance(value, str):
        return value
    if value is None:
        raise _invalid("falta el valor")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(f"se esperaba texto o número, no {quoted(value)}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _invalid(f"número inválido {quoted(value)}")
        return format(Decimal(repr(value)), "f")
    return str(value)


Scalar = Annotated[
    str,
    BeforeValidator(_scalar),
    WithJsonSchema({"type": ["string", "number"], "description": "A number is kept as text."}),
]
FieldName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=64)]
VALUELESS_OPS = frozenset({Operator.IS_EMPTY, Operator.IS_NOT_EMPTY})
LIST_OPS = frozenset({Operator.IN, Operator.NOT_IN})


def compile_pattern(pattern: str, *, fold_accents: bool) -> patterns.UserPattern:
    """A rule's pattern (see patterns.py); REGEX conditions drop its accents first."""
    try:
        return patterns.compile_user_pattern(pattern, fold_accents=fold_accents)
    except patterns.InvalidPattern as exc:
        raise _invalid(str(exc)) from exc


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Condition(_Model):
    field: FieldName
    op: Operator
    value: Any = Field(default=None, validate_default=True)

    @field_validator("value")
    @classmethod
    def _value_fits_op(cls, value: Any, info: ValidationInfo) -> str | list[str] | None:
        op = info.data.get("op")
        if op is None:  # the op itself is invalid and reported
            return None
        if op in VALUELESS_OPS:
            if value is not None:
                raise _invalid(f"el operador {op} no lleva valor")
            return None
        if value is None:
            raise _invalid(f"falta el valor que requiere el operador {op}")
        if op in LIST_OPS or op is Operator.BETWEEN:
            return _list_value(op, value)
        if isinstance(value, list):
            raise _invalid(f"el operador {op} requiere un único valor, no una lista")
        text = _scalar(value)
        if not text.strip():
            raise _invalid("el valor no puede estar vacío (para eso está IS_EMPTY)")
        if op is Operator.REGEX:
            compile_pattern(text, fold_accents=True)
        return text


def _list_value(op: Operator, value: Any) -> list[str]:
    if op is Operator.BETWEEN and (not isinstance(value, list) or len(value) != 2):
        raise _invalid("el operador BETWEEN requiere exactamente 2 valores [desde, hasta]")
    if not isinstance(value, list):
        raise _invalid(f"el operador {op} requiere una lista de valores")
    if not value:
        raise _invalid(f"la lista de valores del operador {op} está vacía")
    texts = [_scalar(item) for item in value]
    if any(not text.strip() for text in texts):
        raise _invalid("la lista no puede tener valores vacíos")
    if op is Operator.BETWEEN:
        low, high = (as_number(text) for text in texts)
        if (low is None) != (high is None):
            raise _invalid("los límites de BETWEEN deben ser ambos números o ambos texto")
        if low is not None and high is not None and low > high:
            raise _invalid(f"el límite inferior {texts[0]} es mayor que el superior {texts[1]}")
    return texts


class SetAction(_Model):
    type: Literal[ActionType.SET]
    field: FieldName
    value: Scalar


class AppendAction(_Model):
    type: Literal[ActionType.APPEND]
    field: FieldName
    value: Scalar
    separator: Scalar = " "


class SetIfEmptyAction(_Model):
    type: Literal[ActionType.SET_IF_EMPTY]
    field: FieldName
    value: Scalar


class ExtractRegexAction(_Model):
    type: Literal[ActionType.EXTRACT_REGEX]
    field: FieldName
    source: FieldName
    pattern: str
    group: int | str = Field(default=1, validate_default=True)

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, pattern: str) -> str:
        compile_pattern(pattern, fold_accents=False)
        return pattern

    @field_validator("group", mode="before")
    @classmethod
    def _group_exists(cls, group: Any, info: ValidationInfo) -> int | str:
        pattern = info.data.get("pattern")
        if isinstance(group, str) and group.isdigit():
            group = int(group)
        if isinstance(group, bool) or not isinstance(group, int | str):
            raise _invalid("el grupo debe ser un número o un nombre de grupo")
        if pattern is None:  # the pattern itself is invalid and reported
            return group
        compiled = compile_pattern(pattern, fold_accents=False)
        if isinstance(group, int) and not 0 <= group <= compiled.groups:
            raise _invalid(
                f"el patrón no tiene el grupo {group} (el grupo 0 es todo el texto hallado)"
            )
        if isinstance(group, str) and group not in compiled.groupindex:
            raise _invalid(f"el patrón no tiene el grupo {quoted(group)}")
        return group


class LookupAction(_Model):
    type: Literal[ActionType.LOOKUP]
    field: FieldName
    source: FieldName
    table: Annotated[str, StringConstraints(min_length=1)]
    default: Scalar | None = None


ActionModel = Annotated[
    SetAction | AppendAction | SetIfEmptyAction | ExtractRegexAction | LookupAction,
    Field(discriminator="type"),
]


class RuleModel(_Model):
    code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    active: StrictBool = True
    priority: StrictInt = 0
    match: Match = Match.ALL
    conditions: list[Condition] = Field(default_factory=list)
    actions: Annotated[list[ActionModel], Field(min_length=1)]
    stop_on_match: StrictBool = Field(default=False, alias="stopOnMatch")


# --- translating validation errors for the user ----------------------------------


def _path(loc: tuple[int | str, ...], error_type: str) -> str:
    path = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            path += f"[{part}]"
        elif i >= 2 and loc[i - 2] == "actions" and part in ActionType.__members__:
            continue  # pydantic's tag of the discriminated union, not a JSON key
        else:
            path += f".{part}" if path else part
    if error_type.startswith("union_tag"):
        path += ".type"
    return path


def _spanish(error: ErrorDetails) -> str:
    kind, ctx, given, loc = error["type"], error.get("ctx") or {}, error["input"], error["loc"]
    if kind == "regla":
        return str(ctx["detalle"])
    expected = str(ctx.get("expected", ""))
    if kind == "enum" and loc[-1] == "op":
        return f"operador desconocido {quoted(given)}"
    messages = {
        "missing": "falta este campo",
        "extra_forbidden": "campo no permitido",
        "enum": f"valor desconocido {quoted(given)} (se espera {expected.replace(' or ', ' o ')})",
        "union_tag_invalid": f"tipo de acción desconocido {quoted(ctx.get('tag'))}",
        "union_tag_not_found": "falta el tipo de acción",
        "string_type": "debe ser texto",
        "string_too_short": "no puede estar vacío",
        "string_too_long": f"admite como máximo {ctx.get('max_length')} caracteres",
        "string_pattern_mismatch": "nombre de campo inválido (letras, dígitos y _)",
        "int_type": "debe ser un número entero",
        "bool_type": "debe ser true o false",
        "list_type": "debe ser una lista",
        "too_short": f"debe tener al menos {ctx.get('min_length')} elemento",
        "model_type": "debe ser un objeto",
        "model_attributes_type": "debe ser un objeto",
    }
    return messages.get(kind, f"valor inválido ({error['msg']})")


def _rule_error(index: int, code: str | None, field: str, detail: str) -> RuleSetError:
    who = f"regla {clipped(code)}" if code else f"regla #{index + 1}"
    return RuleSetError(f"{who}: {field}: {detail}", rule_index=index, rule_code=code, field=field)


def _parse(index: int, raw: object) -> RuleModel:
    if not isinstance(raw, Mapping):
        raise RuleSetError(f"regla #{index + 1}: la regla debe ser un objeto", rule_index=index)
    code = raw.get("code")
    code = (code.strip() or None) if isinstance(code, str) else None
    try:
        return RuleModel.model_validate(dict(raw))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise _rule_error(index, code, _path(first["loc"], first["type"]), _spanish(first)) from exc


def _parse_lookups(lookups: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    tables: dict[str, dict[str, str]] = {}
    for name, table in lookups.items():
        if not isinstance(table, Mapping):
            raise RuleSetError(
                f"tabla {clipped(name)}: debe ser un objeto clave -> valor",
                field=f"lookups.{clipped(name)}",
            )
        try:
            tables[str(name)] = {str(key).strip(): _scalar(value) for key, value in table.items()}
        except PydanticCustomError as exc:
            detail = f"tabla {clipped(name)}: {exc.message()}"
            raise RuleSetError(detail, field=f"lookups.{clipped(name)}") from exc
    return tables


def _check_references(
    index: int, rule: RuleModel, fields: frozenset[str], tables: Mapping[str, object]
) -> None:
    """Fail on a field no line has and no action writes, or on an unknown table."""

    def known(path: str, name: str) -> None:
        if name not in fields:
            close = difflib.get_close_matches(name, fields, n=1)
            hint = f" (¿quiso decir {quoted(close[0])}?)" if close else ""
            raise _rule_error(index, rule.code, path, f"campo desconocido {quoted(name)}{hint}")

    for i, condition in enumerate(rule.conditions):
        known(f"conditions[{i}].field", condition.field)
    for i, action in enumerate(rule.actions):
        if isinstance(action, ExtractRegexAction | LookupAction):
            known(f"actions[{i}].source", action.source)
        if isinstance(action, LookupAction) and action.table not in tables:
            detail = f"tabla de búsqueda desconocida {quoted(action.table)}"
            raise _rule_error(index, rule.code, f"actions[{i}].table", detail)


# --- the whole set -----------------------------------------------------------------


def parse_rule_set(
    rules: Sequence[Mapping[str, Any]],
    lookups: Mapping[str, Mapping[str, str]],
    known_fields: frozenset[str],
) -> tuple[tuple[RuleModel, ...], dict[str, dict[str, str]]]:
    """Validate a rule set as the API sends it, for the engine to compile.

    Args:
        rules: the rules as the API sends them (camelCase JSON objects).
        lookups: lookup tables by name, each a mapping of key -> value.
        known_fields: the fields every statement line carries.

    Returns:
        The validated rules in the given order, and the normalised lookup tables.

    Raises:
        RuleSetError: the first problem found, naming the rule and the field.
    """
    tables = _parse_lookups(lookups)
    parsed = tuple(_parse(index, raw) for index, raw in enumerate(rules))
    seen: dict[str, int] = {}
    for index, rule in enumerate(parsed):
        if rule.code in seen:
            detail = f"código duplicado (ya lo usa la regla #{seen[rule.code] + 1})"
            raise _rule_error(index, rule.code, "code", detail)
        seen[rule.code] = index
    written = frozenset(action.field for rule in parsed for action in rule.actions)
    for index, rule in enumerate(parsed):
        _check_references(index, rule, known_fields | written, tables)
    return parsed, tables
