"""Business rules ("reglas de negocio") applied to every imported statement line.

A tenant keeps an ordered set of rules. Each rule has conditions on the line's
fields and actions that set fields (an account, a supplier...). The set is
validated and compiled once by :meth:`RuleSet.load`; :meth:`RuleSet.apply` then
runs it on one flat record without pydantic or any I/O on the way.

Semantics a rule author can rely on:

- Rules run by ``priority`` (lower first); ties keep the given order. Inactive
  rules are skipped. Each rule sees what earlier rules wrote. A matching rule
  with ``stopOnMatch`` ends the run for that line.
- Text comparisons ignore case, accents and the blanks around the record's
  value: "MUÑOZ " equals "munoz". EQUALS and IN also trim their constants;
  CONTAINS, STARTS_WITH and ENDS_WITH keep the constant's spaces, so
  ``CONTAINS " SA"`` does not match "CASA".
- REGEX searches (not full-matches) the folded text: lower-case and without
  accents. The pattern loses its accents too and is compiled case-insensitive,
  so ``^munoz`` and ``^MUÑOZ`` both match "Muñoz Juan".
- EXTRACT_REGEX, in contrast, searches the original text (case-insensitive), so
  what it copies keeps its accents and case.
- GREATER_THAN and the other orderings compare as decimals when the constant is
  a number ("1000", "-0.5") and as folded text otherwise, which orders ISO dates.
  Against a numeric constant an empty value never matches and a non-numeric
  value is a run-time error of the rule.
- A missing field is None; None and blank text are empty (IS_EMPTY).
- A rule that fails at run time is reported on the line, its actions are not
  applied, and later rules still run. Within ANY/ALL, conditions are evaluated
  in order and stop as soon as the result is known.
"""

from __future__ import annotations

import difflib
import math
import operator
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal, NamedTuple

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
    field_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

__all__ = [
    "ActionType",
    "Operator",
    "Outcome",
    "RuleError",
    "RuleSet",
    "RuleSetError",
]

Value = str | int | None
Record = dict[str, Value]


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


@dataclass(frozen=True, slots=True)
class RuleError:
    """A rule that could not be evaluated on one line."""

    rule_code: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"rule": self.rule_code, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Outcome:
    """The record after the rules, the codes of the rules applied, and failures."""

    record: Record
    fired: tuple[str, ...]
    errors: tuple[RuleError, ...]


# --- text and numbers as rules see them ---------------------------------------

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _fold(value: Value, *, strip: bool = True) -> str:
    """Text as rules compare it: lower-case, without accents, trimmed by default."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    text = text.lower() if text.isascii() else _strip_accents(text).casefold()
    return text.strip() if strip else text


def _as_number(text: str) -> Decimal | None:
    text = text.strip()
    return Decimal(text) if _NUMBER.fullmatch(text) else None


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
        raise _invalid(f"se esperaba texto o número, no {value!r}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _invalid(f"número inválido {value!r}")
        return format(Decimal(repr(value)), "f")
    return str(value)


Scalar = Annotated[str, BeforeValidator(_scalar)]
FieldName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=64)]
_VALUELESS = frozenset({Operator.IS_EMPTY, Operator.IS_NOT_EMPTY})
_LIST_OPS = frozenset({Operator.IN, Operator.NOT_IN})


def _compile(pattern: str, *, fold_accents: bool) -> re.Pattern[str]:
    try:
        return re.compile(_strip_accents(pattern) if fold_accents else pattern, re.IGNORECASE)
    except re.error as exc:
        raise _invalid(f"expresión regular inválida: {exc}") from exc


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
        if op in _VALUELESS:
            if value is not None:
                raise _invalid(f"el operador {op} no lleva valor")
            return None
        if value is None:
            raise _invalid(f"falta el valor que requiere el operador {op}")
        if op in _LIST_OPS or op is Operator.BETWEEN:
            return _list_value(op, value)
        if isinstance(value, list):
            raise _invalid(f"el operador {op} requiere un único valor, no una lista")
        text = _scalar(value)
        if not text.strip():
            raise _invalid("el valor no puede estar vacío (para eso está IS_EMPTY)")
        if op is Operator.REGEX:
            _compile(text, fold_accents=True)
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
        low, high = (_as_number(text) for text in texts)
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
        _compile(pattern, fold_accents=False)
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
        compiled = _compile(pattern, fold_accents=False)
        if isinstance(group, int) and not 0 <= group <= compiled.groups:
            raise _invalid(
                f"el patrón no tiene el grupo {group} (el grupo 0 es todo el texto hallado)"
            )
        if isinstance(group, str) and group not in compiled.groupindex:
            raise _invalid(f"el patrón no tiene el grupo {group!r}")
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
        return f"operador desconocido {given!r}"
    messages = {
        "missing": "falta este campo",
        "extra_forbidden": "campo no permitido",
        "enum": f"valor desconocido {given!r} (se espera {expected.replace(' or ', ' o ')})",
        "union_tag_invalid": f"tipo de acción desconocido {ctx.get('tag')!r}",
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
    who = f"regla {code}" if code else f"regla #{index + 1}"
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
                f"tabla {name}: debe ser un objeto clave -> valor", field=f"lookups.{name}"
            )
        try:
            tables[str(name)] = {str(key).strip(): _scalar(value) for key, value in table.items()}
        except PydanticCustomError as exc:
            detail = f"tabla {name}: {exc.message()}"
            raise RuleSetError(detail, field=f"lookups.{name}") from exc
    return tables


def _check_references(
    index: int, rule: RuleModel, fields: frozenset[str], tables: Mapping[str, object]
) -> None:
    """Fail on a field no line has and no action writes, or on an unknown table."""

    def known(path: str, name: str) -> None:
        if name not in fields:
            close = difflib.get_close_matches(name, fields, n=1)
            hint = f" (¿quiso decir {close[0]!r}?)" if close else ""
            raise _rule_error(index, rule.code, path, f"campo desconocido {name!r}{hint}")

    for i, condition in enumerate(rule.conditions):
        known(f"conditions[{i}].field", condition.field)
    for i, action in enumerate(rule.actions):
        if isinstance(action, ExtractRegexAction | LookupAction):
            known(f"actions[{i}].source", action.source)
        if isinstance(action, LookupAction) and action.table not in tables:
            detail = f"tabla de búsqueda desconocida {action.table!r}"
            raise _rule_error(index, rule.code, f"actions[{i}].table", detail)


# --- compiled form: closures over precomputed constants ----------------------------
#
# Every check and action takes (record, texts, numbers): the working copy of the
# line plus per-line caches of each field's folded text and decimal value, so a
# field is normalised at most once per apply() however many rules read it. An
# action that writes a field drops it from both caches.

_Texts = dict[str, str]
_Numbers = dict[str, Decimal | None]
_Check = Callable[[Record, _Texts, _Numbers], bool]
_Act = Callable[[Record, _Texts, _Numbers], None]


class _NotANumber(Exception):
    """A numeric comparison met a value that is not a number."""

    def __init__(self, field: str, value: Value) -> None:
        shown = repr(value if not isinstance(value, str) or len(value) <= 40 else value[:40] + "…")
        super().__init__(f"el campo {field} vale {shown}, que no es un número")


def _text(record: Record, texts: _Texts, field: str) -> str:
    text = texts.get(field)
    if text is None:
        text = texts[field] = _fold(record.get(field))
    return text


def _number(record: Record, numbers: _Numbers, field: str) -> Decimal | None:
    if field in numbers:
        return numbers[field]
    raw = record.get(field)
    if raw is None or isinstance(raw, int):
        number = None if raw is None else Decimal(raw)
    elif not raw.strip():
        number = None
    elif (number := _as_number(raw)) is None:
        raise _NotANumber(field, raw)
    numbers[field] = number
    return number


def _text_check(field: str, test: Callable[[str], object], negate: bool) -> _Check:
    # The cache lookup is inlined rather than a call to _text(): this runs for
    # every condition of every line.
    def check(record: Record, texts: _Texts, numbers: _Numbers) -> bool:
        text = texts.get(field)
        if text is None:
            text = texts[field] = _fold(record.get(field))
        return not test(text) if negate else bool(test(text))

    return check


_ORDER = {
    Operator.GREATER_THAN: operator.gt,
    Operator.LESS_THAN: operator.lt,
    Operator.GREATER_OR_EQUAL: operator.ge,
    Operator.LESS_OR_EQUAL: operator.le,
}


def _order_check(field: str, op: Operator, low: str, high: str) -> _Check:
    """Orderings and BETWEEN: decimal when the constants are numbers, else text."""
    compare = _ORDER.get(op)
    low_number, high_number = _as_number(low), _as_number(high)
    if low_number is not None and high_number is not None:
        low_n, high_n = low_number, high_number

        def numeric(record: Record, texts: _Texts, numbers: _Numbers) -> bool:
            number = _number(record, numbers, field)
            if number is None:
                return False
            return compare(number, low_n) if compare else low_n <= number <= high_n

        return numeric
    low_t, high_t = _fold(low), _fold(high)

    def textual(record: Record, texts: _Texts, numbers: _Numbers) -> bool:
        text = _text(record, texts, field)
        if not text:
            return False
        return compare(text, low_t) if compare else low_t <= text <= high_t

    return textual


def _condition(condition: Condition) -> _Check:
    field, op, value = condition.field, condition.op, condition.value
    if op in _ORDER:
        return _order_check(field, op, value, value)
    if op is Operator.BETWEEN:
        return _order_check(field, op, value[0], value[1])
    if op in _VALUELESS:
        return _text_check(field, operator.not_, op is Operator.IS_NOT_EMPTY)
    if op in _LIST_OPS:
        return _text_check(field, frozenset(map(_fold, value)).__contains__, op is Operator.NOT_IN)
    if op is Operator.REGEX:
        return _text_check(field, _compile(value, fold_accents=True).search, False)
    if op in (Operator.EQUALS, Operator.NOT_EQUALS):
        return _text_check(field, _fold(value).__eq__, op is Operator.NOT_EQUALS)
    constant = _fold(value, strip=False)
    if op is Operator.STARTS_WITH:
        return _text_check(field, lambda text: text.startswith(constant), False)
    if op is Operator.ENDS_WITH:
        return _text_check(field, lambda text: text.endswith(constant), False)
    return _text_check(field, lambda text: constant in text, op is Operator.NOT_CONTAINS)


def _is_empty(value: Value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _writer(field: str, compute: Callable[[Record], Value | _Unchanged]) -> _Act:
    def act(record: Record, texts: _Texts, numbers: _Numbers) -> None:
        value = compute(record)
        if not isinstance(value, _Unchanged):
            record[field] = value
            texts.pop(field, None)
            numbers.pop(field, None)

    return act


class _Unchanged:
    """Marks an action that leaves its field as it is."""


_UNCHANGED = _Unchanged()


def _action(action: ActionModel, tables: Mapping[str, Mapping[str, str]]) -> _Act:
    field = action.field
    if isinstance(action, SetAction):
        value = action.value

        def set_(record: Record, texts: _Texts, numbers: _Numbers) -> None:
            record[field] = value
            texts.pop(field, None)
            numbers.pop(field, None)

        return set_
    if isinstance(action, SetIfEmptyAction):
        filler = action.value
        return _writer(field, lambda r: filler if _is_empty(r.get(field)) else _UNCHANGED)
    if isinstance(action, AppendAction):
        tail, separator = action.value, action.separator

        def append(record: Record) -> Value:
            current = record.get(field)
            return tail if _is_empty(current) else f"{current}{separator}{tail}"

        return _writer(field, append)
    source = action.source
    if isinstance(action, LookupAction):
        table, default = tables[action.table], action.default

        def lookup(record: Record) -> Value:
            key = record.get(source)
            return default if key is None else table.get(str(key).strip(), default)

        return _writer(field, lookup)
    pattern, group = _compile(action.pattern, fold_accents=False), action.group

    def extract(record: Record) -> Value | _Unchanged:
        text = record.get(source)
        found = None if text is None else pattern.search(str(text))
        captured: str | None = found.group(group) if found else None
        return _UNCHANGED if captured is None else captured

    return _writer(field, extract)


def _matcher(match: Match, checks: tuple[_Check, ...]) -> _Check:
    if not checks:
        return lambda record, texts, numbers: True
    if len(checks) == 1:
        return checks[0]
    # Plain loops: any()/all() over a generator cost ~20% of apply() here.
    if match is Match.ANY:

        def any_(record: Record, texts: _Texts, numbers: _Numbers) -> bool:
            for check in checks:  # noqa: SIM110
                if check(record, texts, numbers):
                    return True
            return False

        return any_

    def all_(record: Record, texts: _Texts, numbers: _Numbers) -> bool:
        for check in checks:  # noqa: SIM110
            if not check(record, texts, numbers):
                return False
        return True

    return all_


class _Compiled(NamedTuple):
    code: str
    matches: _Check
    actions: tuple[_Act, ...]
    stop_on_match: bool


def _compile_rule(rule: RuleModel, tables: Mapping[str, Mapping[str, str]]) -> _Compiled:
    checks = tuple(_condition(condition) for condition in rule.conditions)
    actions = tuple(_action(action, tables) for action in rule.actions)
    return _Compiled(rule.code, _matcher(rule.match, checks), actions, rule.stop_on_match)


# --- the rule set ------------------------------------------------------------------


class RuleSet:
    """A tenant's validated rules and lookup tables, compiled for apply()."""

    __slots__ = ("_lookups", "_program", "_rules")

    def __init__(self, rules: tuple[RuleModel, ...], lookups: dict[str, dict[str, str]]) -> None:
        self._rules = rules
        self._lookups = lookups
        ordered = sorted(rules, key=lambda rule: rule.priority)  # stable: ties keep order
        self._program = tuple(_compile_rule(rule, lookups) for rule in ordered if rule.active)

    @classmethod
    def load(
        cls,
        rules: Sequence[Mapping[str, Any]],
        lookups: Mapping[str, Mapping[str, str]],
        known_fields: frozenset[str],
    ) -> RuleSet:
        """Validate and compile a rule set.

        Args:
            rules: the rules as the API sends them (camelCase JSON objects).
            lookups: lookup tables by name, each a mapping of key -> value.
            known_fields: the fields every statement line carries.

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
        return cls(parsed, tables)

    @classmethod
    def empty(cls) -> RuleSet:
        return cls((), {})

    def to_json(self) -> dict[str, Any]:
        """The normalised rules and lookups; load() of it gives the same set."""
        return {
            "rules": [rule.model_dump(mode="json", by_alias=True) for rule in self._rules],
            "lookups": {name: dict(table) for name, table in self._lookups.items()},
        }

    def apply(self, record: Mapping[str, Value]) -> Outcome:
        """Run the rules on a copy of one line; run-time failures go in the outcome."""
        line: Record = dict(record)
        texts: _Texts = {}
        numbers: _Numbers = {}
        fired: list[str] = []
        errors: list[RuleError] = []
        for code, matches, actions, stop_on_match in self._program:
            try:
                if not matches(line, texts, numbers):
                    continue
            except _NotANumber as exc:
                errors.append(RuleError(code, str(exc)))
                continue
            for act in actions:
                act(line, texts, numbers)
            fired.append(code)
            if stop_on_match:
                break
        return Outcome(line, tuple(fired), tuple(errors))

    def __len__(self) -> int:
        return len(self._rules)
