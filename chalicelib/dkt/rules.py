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

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from chalicelib.dkt.rule_schema import (
    LIST_OPS,
    VALUELESS_OPS,
    ActionModel,
    ActionType,
    AppendAction,
    Condition,
    LookupAction,
    Match,
    Operator,
    RuleModel,
    RuleSetError,
    SetAction,
    SetIfEmptyAction,
    compile_pattern,
    parse_rule_set,
)
from chalicelib.dkt.text import as_number, strip_accents

__all__ = [
    "ActionType",
    "Match",
    "Operator",
    "Outcome",
    "RuleError",
    "RuleSet",
    "RuleSetError",
]

Value = str | int | None
Record = dict[str, Value]


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


def _fold(value: Value, *, strip: bool = True) -> str:
    """Text as rules compare it: lower-case, without accents, trimmed by default."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    text = text.lower() if text.isascii() else strip_accents(text).casefold()
    return text.strip() if strip else text


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
    elif (number := as_number(raw)) is None:
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
    low_number, high_number = as_number(low), as_number(high)
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
    if op in VALUELESS_OPS:
        return _text_check(field, operator.not_, op is Operator.IS_NOT_EMPTY)
    if op in LIST_OPS:
        return _text_check(field, frozenset(map(_fold, value)).__contains__, op is Operator.NOT_IN)
    if op is Operator.REGEX:
        return _text_check(field, compile_pattern(value, fold_accents=True).found, False)
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
    pattern, group = compile_pattern(action.pattern, fold_accents=False), action.group

    def extract(record: Record) -> Value | _Unchanged:
        text = record.get(source)
        captured = None if text is None else pattern.captured(str(text), group)
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
        parsed, tables = parse_rule_set(rules, lookups, known_fields)
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

    def fields_set(self) -> tuple[str, ...]:
        """The fields the active rules' actions write, in the order they run."""
        ordered = sorted(self._rules, key=lambda rule: rule.priority)
        written = (action.field for rule in ordered if rule.active for action in rule.actions)
        return tuple(dict.fromkeys(written))

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
