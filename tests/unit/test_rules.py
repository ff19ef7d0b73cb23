"""The business-rules engine: what a rule author sees on each imported line."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.dkt.rules import (
    ActionType,
    Operator,
    Outcome,
    RuleError,
    RuleSet,
    RuleSetError,
)

KNOWN_FIELDS = frozenset(
    {
        "lineNo",
        "periodo",
        "tipoTransaccion",
        "tarjeta",
        "tarjetaHash",
        "apellidoNombreUsuario",
        "fechaTransaccion",
        "descripcionCupon",
        "cuota",
        "cuotasTotal",
        "numeroCupon",
        "moneda",
        "importe",
        "localidad",
        "grupoRubro",
        "descripcionRubro",
        "mcc",
        "cuit",
    }
)
LOOKUPS = {"proveedores": {"30999999991": "YPF SA", "30500000009": "SHELL CAPSA"}}
SET_FLAG = {"type": "SET", "field": "marca", "value": "SI"}


def a_line(**fields: str | int | None) -> dict[str, str | int | None]:
    line: dict[str, str | int | None] = {
        "lineNo": 1,
        "periodo": "2404",
        "tipoTransaccion": "C",
        "tarjeta": "411111******1111",
        "tarjetaHash": "9f2c",
        "apellidoNombreUsuario": "PEREZ/JUAN CARLOS",
        "fechaTransaccion": "2024-04-15",
        "descripcionCupon": "YPF SERVICENTRO SAN MARTIN C.01/03",
        "cuota": 1,
        "cuotasTotal": 3,
        "numeroCupon": "00012345",
        "moneda": "ARP",
        "importe": "1850.50",
        "localidad": "SAN MARTIN",
        "grupoRubro": "04",
        "descripcionRubro": "EST. SERVICIO",
        "mcc": "5541",
        "cuit": "30999999991",
    }
    line.update(fields)
    return line


def a_rule(code: str = "R1", **overrides: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {"code": code, "name": f"Regla {code}", "actions": [SET_FLAG]}
    rule.update(overrides)
    return rule


def load(*rules: Mapping[str, Any], lookups: Mapping[str, Mapping[str, str]] = LOOKUPS) -> RuleSet:
    return RuleSet.load(list(rules), lookups, KNOWN_FIELDS)


def apply(rules: list[dict[str, Any]], line: dict[str, str | int | None]) -> Outcome:
    return load(*rules).apply(line)


def condition_holds(op: str, value: Any, **fields: str | int | None) -> bool:
    condition: dict[str, Any] = {"field": "campo", "op": op, "value": value}
    ruleset = RuleSet.load([a_rule(conditions=[condition])], {}, KNOWN_FIELDS | {"campo"})
    outcome = ruleset.apply(a_line(**fields))
    assert outcome.errors == ()
    return outcome.fired == ("R1",)


def load_error(*rules: Any, lookups: Mapping[str, Any] = LOOKUPS) -> RuleSetError:
    with pytest.raises(RuleSetError) as caught:
        RuleSet.load(list(rules), lookups, KNOWN_FIELDS)
    return caught.value


# --- operators ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "value", "field_value", "expected"),
    [
        ("EQUALS", "YPF", "YPF", True),
        ("EQUALS", "YPF", "SHELL", False),
        ("EQUALS", "munoz", "MUÑOZ", True),
        ("EQUALS", "MUÑOZ", "munoz", True),
        ("EQUALS", "YPF", "  ypf  ", True),
        ("EQUALS", 5541, "5541", True),
        ("EQUALS", "1", 1, True),
        ("NOT_EQUALS", "YPF", "SHELL", True),
        ("NOT_EQUALS", "ypf", "YPF", False),
        ("CONTAINS", "pena", "CAFE LA PEÑA", True),
        ("CONTAINS", "Café", "CAFE LA PENA", True),
        ("CONTAINS", "shell", "CAFE LA PENA", False),
        ("CONTAINS", " SA", "CASA CENTRAL", False),
        ("CONTAINS", " SA", "YPF SA", True),
        ("NOT_CONTAINS", "devolucion", "DEVOLUCIÓN SUPER DIA", False),
        ("NOT_CONTAINS", "devolucion", "SUPER DIA", True),
        ("STARTS_WITH", "muñoz/", "MUNOZ/JOSE", True),
        ("STARTS_WITH", "JOSE", "MUNOZ/JOSE", False),
        ("ENDS_WITH", "c.01/03", "YPF SAN MARTIN C.01/03", True),
        ("ENDS_WITH", "C.02/03", "YPF SAN MARTIN C.01/03", False),
        ("REGEX", r"c\.\d{2}/\d{2}$", "YPF SAN MARTIN C.01/03", True),
        ("REGEX", r"^YPF", "SHELL YPF", False),
        ("REGEX", r"^munoz", "Muñoz Juan", True),
        ("REGEX", r"^MUÑOZ\b", "munoz juan", True),
        ("IN", ["5541", "5542"], "5542", True),
        ("IN", ["5541", "5542"], "5411", False),
        ("IN", ["Peña", "Gómez"], "GOMEZ", True),
        ("NOT_IN", ["ARP"], "USD", True),
        ("NOT_IN", ["arp"], "ARP", False),
    ],
)
def test_text_operator_compares_ignoring_case_and_accents(
    op: str, value: Any, field_value: str | int, expected: bool
) -> None:
    assert condition_holds(op, value, campo=field_value) is expected


@pytest.mark.parametrize(
    ("op", "field_value", "expected"),
    [
        ("IS_EMPTY", None, True),
        ("IS_EMPTY", "", True),
        ("IS_EMPTY", "   ", True),
        ("IS_EMPTY", "x", False),
        ("IS_EMPTY", 0, False),
        ("IS_NOT_EMPTY", "x", True),
        ("IS_NOT_EMPTY", "  ", False),
        ("IS_NOT_EMPTY", None, False),
    ],
)
def test_emptiness_treats_none_and_blank_as_empty(
    op: str, field_value: str | int | None, expected: bool
) -> None:
    assert condition_holds(op, None, campo=field_value) is expected


@pytest.mark.parametrize(
    ("op", "value", "field_value", "expected"),
    [
        ("GREATER_THAN", "1000", "1850.50", True),
        ("GREATER_THAN", "1000", "999.99", False),
        ("GREATER_THAN", "1000", "1000.00", False),
        ("GREATER_THAN", 9, "10", True),  # numeric, not "10" < "9" as text
        ("LESS_THAN", "0", "-129.99", True),
        ("LESS_THAN", "0", "0", False),
        ("GREATER_OR_EQUAL", "1000", "1000.00", True),
        ("GREATER_OR_EQUAL", 1000.5, "1000.49", False),
        ("LESS_OR_EQUAL", "2312", "2404", False),
        ("LESS_OR_EQUAL", "2404", 2404, True),
        ("GREATER_THAN", "2024-04-10", "2024-04-15", True),
        ("LESS_THAN", "2024-04-10", "2024-04-15", False),
        ("GREATER_OR_EQUAL", "b", "B", True),
        ("LESS_THAN", "peña", "PENA", False),
    ],
)
def test_ordering_is_numeric_for_numbers_and_textual_otherwise(
    op: str, value: Any, field_value: str | int, expected: bool
) -> None:
    assert condition_holds(op, value, campo=field_value) is expected


@pytest.mark.parametrize(
    ("bounds", "field_value", "expected"),
    [
        (["100", "200"], "100", True),
        (["100", "200"], "200.00", True),
        (["100", "200"], "150", True),
        (["100", "200"], "99.99", False),
        (["100", "200"], "200.01", False),
        ([-50, 0], "-50", True),
        (["2024-04-01", "2024-04-30"], "2024-04-30", True),
        (["2024-04-01", "2024-04-30"], "2024-05-01", False),
    ],
)
def test_between_includes_both_bounds(bounds: list[Any], field_value: str, expected: bool) -> None:
    assert condition_holds("BETWEEN", bounds, campo=field_value) is expected


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("EQUALS", "x", False),
        ("NOT_EQUALS", "x", True),
        ("CONTAINS", "x", False),
        ("NOT_CONTAINS", "x", True),
        ("STARTS_WITH", "x", False),
        ("ENDS_WITH", "x", False),
        ("REGEX", "^$", True),
        ("IN", ["x"], False),
        ("NOT_IN", ["x"], True),
        ("IS_EMPTY", None, True),
        ("IS_NOT_EMPTY", None, False),
        ("GREATER_THAN", "0", False),
        ("LESS_THAN", "0", False),
        ("LESS_OR_EQUAL", "zzz", False),
        ("BETWEEN", ["0", "10"], False),
    ],
)
def test_missing_field_behaves_as_none(op: str, value: Any, expected: bool) -> None:
    ruleset = RuleSet.load(
        [a_rule(conditions=[{"field": "ausente", "op": op, "value": value}])],
        {},
        KNOWN_FIELDS | {"ausente"},
    )

    outcome = ruleset.apply(a_line())

    assert (outcome.fired == ("R1",)) is expected
    assert outcome.errors == ()


def test_operator_enum_lists_the_sixteen_operators() -> None:
    assert len(Operator) == 16
    assert len(ActionType) == 5


# --- actions -------------------------------------------------------------------------


def test_set_writes_the_value_as_text() -> None:
    outcome = apply(
        [a_rule(actions=[{"type": "SET", "field": "cuentaContable", "value": 5102}])], a_line()
    )

    assert outcome.record["cuentaContable"] == "5102"


def test_set_overwrites_a_field_of_the_line() -> None:
    outcome = apply(
        [a_rule(actions=[{"type": "SET", "field": "localidad", "value": "CABA"}])], a_line()
    )

    assert outcome.record["localidad"] == "CABA"


@pytest.mark.parametrize(
    ("current", "action", "expected"),
    [
        ("YPF", {"value": "[USD]"}, "YPF [USD]"),
        ("a,b", {"value": "c", "separator": ","}, "a,b,c"),
        ("a", {"value": "b", "separator": ""}, "ab"),
        (None, {"value": "c", "separator": ","}, "c"),
        ("", {"value": "c", "separator": ","}, "c"),
        (7, {"value": "x", "separator": "-"}, "7-x"),
    ],
)
def test_append_adds_separator_only_after_existing_text(
    current: str | int | None, action: dict[str, str], expected: str
) -> None:
    rule = a_rule(actions=[{"type": "APPEND", "field": "notas", **action}])

    outcome = apply([rule], a_line(notas=current))

    assert outcome.record["notas"] == expected


@pytest.mark.parametrize(
    ("current", "expected"),
    [(None, "GENERICO"), ("", "GENERICO"), ("  ", "GENERICO"), ("YPF SA", "YPF SA")],
)
def test_set_if_empty_fills_only_empty_fields(current: str | None, expected: str) -> None:
    rule = a_rule(actions=[{"type": "SET_IF_EMPTY", "field": "proveedor", "value": "GENERICO"}])

    outcome = apply([rule], a_line(proveedor=current))

    assert outcome.record["proveedor"] == expected


def test_set_if_empty_leaves_a_missing_field_set() -> None:
    rule = a_rule(actions=[{"type": "SET_IF_EMPTY", "field": "proveedor", "value": "GENERICO"}])

    outcome = apply([rule], a_line())

    assert outcome.record["proveedor"] == "GENERICO"


def test_extract_regex_copies_a_named_group_keeping_original_text() -> None:
    action = {
        "type": "EXTRACT_REGEX",
        "field": "planCuotas",
        "source": "descripcionCupon",
        "pattern": r"c\.(?P<plan>\d{2}/\d{2})",
        "group": "plan",
    }

    outcome = apply([a_rule(actions=[action])], a_line())

    assert outcome.record["planCuotas"] == "01/03"


def test_extract_regex_defaults_to_group_one_and_keeps_accents() -> None:
    action = {
        "type": "EXTRACT_REGEX",
        "field": "apellido",
        "source": "apellidoNombreUsuario",
        "pattern": r"^([^/]+)/",
    }

    outcome = apply([a_rule(actions=[action])], a_line(apellidoNombreUsuario="MUÑOZ/JOSÉ"))

    assert outcome.record["apellido"] == "MUÑOZ"


def test_extract_regex_without_match_leaves_the_field_unchanged() -> None:
    action = {
        "type": "EXTRACT_REGEX",
        "field": "planCuotas",
        "source": "descripcionCupon",
        "pattern": r"C\.(\d{2}/\d{2})",
    }

    outcome = apply(
        [a_rule(actions=[action])], a_line(descripcionCupon="FARMACITY", planCuotas="previo")
    )

    assert outcome.record["planCuotas"] == "previo"
    assert outcome.fired == ("R1",)


def test_extract_regex_from_a_missing_source_leaves_the_field_unset() -> None:
    action = {"type": "EXTRACT_REGEX", "field": "x", "source": "cuit", "pattern": "(9)"}

    outcome = apply([a_rule(actions=[action])], a_line(cuit=None))

    assert "x" not in outcome.record


@pytest.mark.parametrize(
    ("cuit", "default", "expected"),
    [
        ("30999999991", "SIN-PROVEEDOR", "YPF SA"),
        (" 30500000009 ", "SIN-PROVEEDOR", "SHELL CAPSA"),
        ("20111111112", "SIN-PROVEEDOR", "SIN-PROVEEDOR"),
        (None, "SIN-PROVEEDOR", "SIN-PROVEEDOR"),
        ("20111111112", None, None),
        ("0030999999991", None, None),  # keys match exactly, not as numbers
    ],
)
def test_lookup_maps_source_through_table_or_uses_default(
    cuit: str | None, default: str | None, expected: str | None
) -> None:
    action = {
        "type": "LOOKUP",
        "field": "proveedor",
        "source": "cuit",
        "table": "proveedores",
        "default": default,
    }

    outcome = apply([a_rule(actions=[action])], a_line(cuit=cuit))

    assert outcome.record["proveedor"] == expected


def test_lookup_ignores_blanks_around_table_keys() -> None:
    action = {"type": "LOOKUP", "field": "proveedor", "source": "cuit", "table": "padron"}
    ruleset = RuleSet.load(
        [a_rule(actions=[action])], {"padron": {" 30999999991 ": "YPF SA"}}, KNOWN_FIELDS
    )

    outcome = ruleset.apply(a_line(cuit="30999999991"))

    assert outcome.record["proveedor"] == "YPF SA"


def test_lookup_default_is_null_when_not_given() -> None:
    action = {"type": "LOOKUP", "field": "proveedor", "source": "cuit", "table": "proveedores"}

    outcome = apply([a_rule(actions=[action])], a_line(cuit="1"))

    assert outcome.record["proveedor"] is None


def test_actions_of_one_rule_see_each_other() -> None:
    actions = [
        {
            "type": "EXTRACT_REGEX",
            "field": "cuitTexto",
            "source": "descripcionCupon",
            "pattern": r"CUIT (\d+)",
        },
        {
            "type": "LOOKUP",
            "field": "proveedor",
            "source": "cuitTexto",
            "table": "proveedores",
            "default": "?",
        },
    ]

    outcome = apply([a_rule(actions=actions)], a_line(descripcionCupon="PAGO CUIT 30500000009"))

    assert outcome.record["proveedor"] == "SHELL CAPSA"


# --- running the set -------------------------------------------------------------------


def appending(code: str, **extra: Any) -> dict[str, Any]:
    return a_rule(code, actions=[{"type": "APPEND", "field": "traza", "value": code}], **extra)


def test_rules_run_by_priority_with_ties_in_given_order() -> None:
    rules = [
        appending("C", priority=20),
        appending("A", priority=10),
        appending("D", priority=20),
        appending("B", priority=10),
        appending("Z", priority=-5),
    ]

    outcome = apply(rules, a_line())

    assert outcome.fired == ("Z", "A", "B", "C", "D")
    assert outcome.record["traza"] == "Z A B C D"


def test_all_needs_every_condition_and_any_needs_one() -> None:
    # GIVEN one condition that holds and one that does not
    conditions = [
        {"field": "mcc", "op": "EQUALS", "value": "5541"},
        {"field": "moneda", "op": "EQUALS", "value": "USD"},
    ]
    rules = [
        appending("TODAS", match="ALL", conditions=conditions),
        appending("ALGUNA", match="ANY", conditions=conditions),
    ]

    # WHEN the set runs on a peso fuel purchase
    outcome = apply(rules, a_line())

    # THEN only the ANY rule fires
    assert outcome.fired == ("ALGUNA",)


def test_rule_without_conditions_always_fires() -> None:
    assert apply([appending("SIEMPRE", match="ANY")], a_line()).fired == ("SIEMPRE",)


def test_inactive_rule_is_skipped() -> None:
    outcome = apply([appending("OFF", active=False), appending("ON")], a_line())

    assert outcome.fired == ("ON",)
    assert outcome.record["traza"] == "ON"


def test_stop_on_match_ends_the_run_only_when_the_rule_matches() -> None:
    # GIVEN a stopping rule for USD lines between two other rules
    rules = [
        appending("PRIMERA"),
        appending(
            "USD",
            stopOnMatch=True,
            conditions=[{"field": "moneda", "op": "EQUALS", "value": "USD"}],
        ),
        appending("ULTIMA"),
    ]
    ruleset = load(*rules)

    # WHEN a USD line and a peso line run
    usd = ruleset.apply(a_line(moneda="USD"))
    pesos = ruleset.apply(a_line(moneda="ARP"))

    # THEN the USD line stops after the stopping rule, the peso line runs them all
    assert usd.fired == ("PRIMERA", "USD")
    assert pesos.fired == ("PRIMERA", "ULTIMA")


def test_each_rule_sees_changes_of_earlier_rules() -> None:
    # GIVEN a rule that sets the account and a later one that reads it
    rules = [
        a_rule(
            "COMB",
            priority=1,
            conditions=[{"field": "mcc", "op": "IN", "value": ["5541", "5542"]}],
            actions=[{"type": "SET", "field": "cuentaContable", "value": "5.1.02"}],
        ),
        a_rule(
            "DEFECTO",
            priority=2,
            conditions=[{"field": "cuentaContable", "op": "IS_EMPTY"}],
            actions=[{"type": "SET", "field": "cuentaContable", "value": "5.9.99"}],
        ),
        a_rule(
            "ETIQUETA",
            priority=3,
            conditions=[{"field": "cuentaContable", "op": "STARTS_WITH", "value": "5.1"}],
            actions=[{"type": "SET", "field": "grupo", "value": "OPERATIVO"}],
        ),
    ]
    ruleset = load(*rules)

    # WHEN a fuel line and a grocery line run
    fuel = ruleset.apply(a_line(mcc="5541"))
    grocery = ruleset.apply(a_line(mcc="5411"))

    # THEN the later rules decide on what the earlier ones wrote
    assert fuel.fired == ("COMB", "ETIQUETA")
    assert grocery.fired == ("DEFECTO",)
    assert grocery.record["cuentaContable"] == "5.9.99"


def test_rule_sees_fields_rewritten_after_earlier_rules_read_them() -> None:
    # GIVEN conditions read before and after a rule that rewrites the fields they read
    reads = [
        {"field": "importe", "op": "GREATER_THAN", "value": "1000"},
        {"field": "importe", "op": "STARTS_WITH", "value": "5"},
        {"field": "localidad", "op": "EQUALS", "value": "CABA"},
        {"field": "periodo", "op": "LESS_THAN", "value": "3000"},
    ]
    rewrite = [
        {"type": "SET", "field": "importe", "value": "0"},
        {"type": "APPEND", "field": "localidad", "value": "NORTE"},
        {"type": "APPEND", "field": "periodo", "value": "0", "separator": ""},
    ]
    rules = [
        appending("ANTES", priority=1, conditions=reads),
        a_rule("REESCRIBE", priority=2, actions=rewrite),
        *(appending(f"DESPUES{i}", priority=3, conditions=[read]) for i, read in enumerate(reads)),
    ]

    # WHEN a line that meets every condition runs
    outcome = apply(rules, a_line(importe="5000", localidad="CABA", periodo="2404"))

    # THEN none of the conditions holds on the rewritten values
    assert outcome.fired == ("ANTES", "REESCRIBE")
    assert outcome.record["periodo"] == "24040"


def test_failing_rule_is_reported_and_later_rules_still_run() -> None:
    # GIVEN a numeric rule on a field that holds text, between two good rules
    rules = [
        appending("ANTES"),
        a_rule(
            "ROTA",
            conditions=[{"field": "localidad", "op": "GREATER_THAN", "value": "100"}],
            actions=[{"type": "SET", "field": "traza", "value": "pisado"}],
        ),
        appending("DESPUES"),
    ]

    # WHEN the line runs
    outcome = apply(rules, a_line(localidad="SAN MARTIN"))

    # THEN the failure is on the line, its actions are not applied, the rest ran
    assert outcome.errors == (
        RuleError("ROTA", "el campo localidad vale 'SAN MARTIN', que no es un número"),
    )
    assert outcome.fired == ("ANTES", "DESPUES")
    assert outcome.record["traza"] == "ANTES DESPUES"


def test_rule_error_serialises_for_the_api() -> None:
    assert RuleError("ROTA", "motivo").to_dict() == {"rule": "ROTA", "reason": "motivo"}


def test_any_rule_fails_only_if_the_failing_condition_is_reached() -> None:
    first_holds = [
        {"field": "mcc", "op": "EQUALS", "value": "5541"},
        {"field": "localidad", "op": "GREATER_THAN", "value": "1"},
    ]
    first_fails = list(reversed(first_holds))
    rules = [
        appending("CORTA", match="ANY", conditions=first_holds),
        appending("FALLA", match="ANY", conditions=first_fails),
    ]

    outcome = apply(rules, a_line())

    assert outcome.fired == ("CORTA",)
    assert [error.rule_code for error in outcome.errors] == ["FALLA"]


def test_fired_lists_exactly_the_matching_rules_in_run_order() -> None:
    rules = [
        appending(
            "USD", priority=3, conditions=[{"field": "moneda", "op": "EQUALS", "value": "USD"}]
        ),
        appending(
            "COMB", priority=2, conditions=[{"field": "mcc", "op": "EQUALS", "value": "5541"}]
        ),
        appending("NUNCA", priority=1, conditions=[{"field": "mcc", "op": "EQUALS", "value": "0"}]),
        appending("TODO", priority=4),
    ]

    outcome = apply(rules, a_line(moneda="USD"))

    assert outcome.fired == ("COMB", "USD", "TODO")


def test_apply_never_mutates_the_input_record() -> None:
    line = a_line()
    before = copy.deepcopy(line)

    outcome = apply([a_rule(actions=[{"type": "SET", "field": "importe", "value": "0"}])], line)

    assert line == before
    assert outcome.record["importe"] == "0"


def test_empty_rule_set_returns_the_line_as_is() -> None:
    ruleset = RuleSet.empty()

    outcome = ruleset.apply(a_line())

    assert len(ruleset) == 0
    assert outcome == Outcome(a_line(), (), ())
    assert ruleset.to_json() == {"rules": [], "lookups": {}}


def test_len_counts_inactive_rules_too() -> None:
    assert len(load(appending("A"), appending("B", active=False))) == 2


# --- to_json ---------------------------------------------------------------------------


def test_to_json_fills_defaults_and_writes_values_as_text() -> None:
    ruleset = load(
        {
            "code": " COMB ",
            "name": "Combustible",
            "conditions": [{"field": "importe", "op": "BETWEEN", "value": [1000, 2000.5]}],
            "actions": [
                {"type": "APPEND", "field": "notas", "value": 1},
                {"type": "LOOKUP", "field": "p", "source": "cuit", "table": "proveedores"},
            ],
        }
    )

    assert ruleset.to_json() == {
        "rules": [
            {
                "code": "COMB",
                "name": "Combustible",
                "active": True,
                "priority": 0,
                "match": "ALL",
                "conditions": [{"field": "importe", "op": "BETWEEN", "value": ["1000", "2000.5"]}],
                "actions": [
                    {"type": "APPEND", "field": "notas", "value": "1", "separator": " "},
                    {
                        "type": "LOOKUP",
                        "field": "p",
                        "source": "cuit",
                        "table": "proveedores",
                        "default": None,
                    },
                ],
                "stopOnMatch": False,
            }
        ],
        "lookups": LOOKUPS,
    }


def test_to_json_round_trips_through_load() -> None:
    # GIVEN a set using every operator and action
    rules = [
        a_rule(
            f"OP{i}",
            priority=i % 3,
            match="ANY",
            conditions=[{"field": "descripcionCupon", "op": op, "value": value}],
        )
        for i, (op, value) in enumerate(
            [
                ("EQUALS", "x"),
                ("NOT_EQUALS", "x"),
                ("CONTAINS", "ypf"),
                ("NOT_CONTAINS", "x"),
                ("STARTS_WITH", "ypf"),
                ("ENDS_WITH", "03"),
                ("REGEX", r"c\.\d+"),
                ("IN", ["a", "b"]),
                ("NOT_IN", ["a"]),
                ("IS_EMPTY", None),
                ("IS_NOT_EMPTY", None),
                ("GREATER_THAN", "a"),
                ("LESS_THAN", "z"),
                ("GREATER_OR_EQUAL", "a"),
                ("LESS_OR_EQUAL", "z"),
                ("BETWEEN", ["a", "z"]),
            ]
        )
    ]
    rules.append(
        a_rule(
            "ACC",
            stopOnMatch=True,
            active=False,
            actions=[
                {"type": "SET", "field": "a", "value": "1"},
                {"type": "APPEND", "field": "a", "value": "2", "separator": "|"},
                {"type": "SET_IF_EMPTY", "field": "b", "value": "3"},
                {
                    "type": "EXTRACT_REGEX",
                    "field": "c",
                    "source": "descripcionCupon",
                    "pattern": r"(?P<n>\d+)",
                    "group": "n",
                },
                {
                    "type": "LOOKUP",
                    "field": "d",
                    "source": "cuit",
                    "table": "proveedores",
                    "default": "?",
                },
            ],
        )
    )
    original = load(*rules)

    # WHEN its JSON is loaded again
    snapshot = original.to_json()
    reloaded = RuleSet.load(snapshot["rules"], snapshot["lookups"], KNOWN_FIELDS)

    # THEN it is the same set and behaves the same
    assert reloaded.to_json() == snapshot
    assert reloaded.apply(a_line()) == original.apply(a_line())
    assert len(reloaded) == len(rules)


# --- validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        (
            {"conditions": [{"field": "mcc", "op": "LIKE", "value": "x"}]},
            "conditions[0].op",
            "regla COMB: conditions[0].op: operador desconocido 'LIKE'",
        ),
        (
            {"actions": [{"type": "DELETE", "field": "x"}]},
            "actions[0].type",
            "regla COMB: actions[0].type: tipo de acción desconocido 'DELETE'",
        ),
        (
            {"actions": [{"field": "x", "value": "1"}]},
            "actions[0].type",
            "regla COMB: actions[0].type: falta el tipo de acción",
        ),
        (
            {"conditions": [{"field": "mcc", "op": "EQUALS"}]},
            "conditions[0].value",
            "regla COMB: conditions[0].value: falta el valor que requiere el operador EQUALS",
        ),
        (
            {"conditions": [{"field": "mcc", "op": "CONTAINS", "value": "  "}]},
            "conditions[0].value",
            "regla COMB: conditions[0].value: el valor no puede estar vacío"
            " (para eso está IS_EMPTY)",
        ),
        (
            {"conditions": [{"field": "cuit", "op": "IS_EMPTY", "value": "0"}]},
            "conditions[0].value",
            "regla COMB: conditions[0].value: el operador IS_EMPTY no lleva valor",
        ),
        (
            {"conditions": [{"field": "importe", "op": "BETWEEN", "value": ["1"]}]},
            "conditions[0].value",
            "regla COMB: conditions[0].value: el operador BETWEEN requiere exactamente 2 valores"
            " [desde, hasta]",
        ),
        (
            {"conditions": [{"field": "importe", "op": "BETWEEN", "value": ["1", "2", "3"]}]},
            "conditions[0].value",
            "regla COMB: conditions[0].value: el operador BETWEEN requiere exactamente 2 valores"
            " [desde, hasta]",
        ),
        (
            {"conditions": [{"field": "importe", "op": "BETWEEN", "value": ["9", "1"]}]},
            "conditions[0].value",
            "regla COMB: conditions[0].value: el límite inferior 9 es mayor que el superior 1",
        ),
        (
            {"conditions": [{"field": "importe", "op": "BETWEEN", "value": ["1", "abc"]}]},
            "conditions[0].value",
            "regla COMB: conditions[0].value: los límites de BETWEEN deben ser ambos números o"
            " ambos texto",
        ),
        (
            {"conditions": [{"field": "mcc", "op": "IN", "value": "5541"}]},
            "conditions[0].value",
            "regla COMB: conditions[0].value: el operador IN requiere una lista de valores",
        ),
        (
            {"conditions": [{"field": "mcc", "op": "NOT_IN", "value": []}]},
            "conditions[0].value",
            "regla COMB: conditions[0].value: la lista de valores del operador NOT_IN está vacía",
        ),
        (
            {"conditions": [{"field": "mcc", "op": "EQUALS", "value": ["5541"]}]},
            "conditions[0].value",
            "regla COMB: conditions[0].value: el operador EQUALS requiere un único valor, no una"
            " lista",
        ),
        (
            {"conditions": [{"field": "mcc", "op": "EQUALS", "value": True}]},
            "conditions[0].value",
            "regla COMB: conditions[0].value: se esperaba texto o número, no True",
        ),
        (
            {
                "conditions": [
                    {"field": "x", "op": "EQUALS", "value": "1"},
                    {"field": "mcc", "op": "REGEX", "value": "(55"},
                ]
            },
            "conditions[1].value",
            "regla COMB: conditions[1].value: expresión regular inválida o no admitida:"
            " missing ): (55",
        ),
        (
            {"conditions": [{"field": "imprte", "op": "GREATER_THAN", "value": "1"}]},
            "conditions[0].field",
            "regla COMB: conditions[0].field: campo desconocido 'imprte' (¿quiso decir 'importe'?)",
        ),
        (
            {
                "actions": [
                    {"type": "LOOKUP", "field": "p", "source": "cuitt", "table": "proveedores"}
                ]
            },
            "actions[0].source",
            "regla COMB: actions[0].source: campo desconocido 'cuitt' (¿quiso decir 'cuit'?)",
        ),
        (
            {"actions": [{"type": "LOOKUP", "field": "p", "source": "cuit", "table": "bancos"}]},
            "actions[0].table",
            "regla COMB: actions[0].table: tabla de búsqueda desconocida 'bancos'",
        ),
        (
            {"actions": [{"type": "LOOKUP", "field": "p", "source": "cuit"}]},
            "actions[0].table",
            "regla COMB: actions[0].table: falta este campo",
        ),
        (
            {
                "actions": [
                    {"type": "EXTRACT_REGEX", "field": "p", "source": "cuit", "pattern": "[0-"}
                ]
            },
            "actions[0].pattern",
            "regla COMB: actions[0].pattern: expresión regular inválida o no admitida:"
            " missing ]: [0-",
        ),
        (
            {
                "actions": [
                    {"type": "EXTRACT_REGEX", "field": "p", "source": "cuit", "pattern": "30"}
                ]
            },
            "actions[0].group",
            "regla COMB: actions[0].group: el patrón no tiene el grupo 1 (el grupo 0 es todo el"
            " texto hallado)",
        ),
        (
            {
                "actions": [
                    {
                        "type": "EXTRACT_REGEX",
                        "field": "p",
                        "source": "cuit",
                        "pattern": "(?P<a>30)",
                        "group": "b",
                    }
                ]
            },
            "actions[0].group",
            "regla COMB: actions[0].group: el patrón no tiene el grupo 'b'",
        ),
        (
            {"actions": [{"type": "SET", "field": "cuenta contable", "value": "1"}]},
            "actions[0].field",
            "regla COMB: actions[0].field: nombre de campo inválido (letras, dígitos y _)",
        ),
        (
            {"actions": [{"type": "SET", "field": "x", "value": None}]},
            "actions[0].value",
            "regla COMB: actions[0].value: falta el valor",
        ),
        ({"actions": []}, "actions", "regla COMB: actions: debe tener al menos 1 elemento"),
        (
            {"match": "SOME"},
            "match",
            "regla COMB: match: valor desconocido 'SOME' (se espera 'ALL' o 'ANY')",
        ),
        ({"priority": "10"}, "priority", "regla COMB: priority: debe ser un número entero"),
        ({"active": "yes"}, "active", "regla COMB: active: debe ser true o false"),
        ({"stopOnMAtch": True}, "stopOnMAtch", "regla COMB: stopOnMAtch: campo no permitido"),
        ({"name": ""}, "name", "regla COMB: name: no puede estar vacío"),
    ],
)
def test_invalid_rule_is_rejected_naming_rule_and_field(
    overrides: dict[str, Any], field: str, message: str
) -> None:
    error = load_error(a_rule("OK"), a_rule("COMB", **overrides))

    assert (error.rule_code, error.rule_index, error.field) == ("COMB", 1, field)
    assert error.message == message
    assert str(error) == message


def test_duplicate_code_is_rejected_on_the_second_rule() -> None:
    error = load_error(a_rule("COMB"), a_rule("OTRA"), a_rule(" COMB"))

    assert (error.rule_code, error.rule_index, error.field) == ("COMB", 2, "code")
    assert error.message == "regla COMB: code: código duplicado (ya lo usa la regla #1)"


def test_rule_without_usable_code_is_named_by_its_position() -> None:
    error = load_error(a_rule("A"), {"name": "sin código", "actions": [SET_FLAG]})

    assert (error.rule_code, error.rule_index, error.field) == (None, 1, "code")
    assert error.message == "regla #2: code: falta este campo"


def test_code_longer_than_forty_characters_is_rejected() -> None:
    error = load_error(a_rule("C" * 41))

    assert error.field == "code"
    assert error.message.endswith("code: admite como máximo 40 caracteres")


def test_rule_that_is_not_an_object_is_rejected() -> None:
    error = load_error("COMB")

    assert (error.rule_index, error.rule_code) == (0, None)
    assert error.message == "regla #1: la regla debe ser un objeto"


def test_condition_may_read_a_field_written_by_any_rule_of_the_set() -> None:
    reader = a_rule(
        "LEE", priority=1, conditions=[{"field": "cuentaContable", "op": "IS_NOT_EMPTY"}]
    )
    writer = a_rule(
        "ESCRIBE", priority=2, actions=[{"type": "SET", "field": "cuentaContable", "value": "1"}]
    )

    ruleset = load(reader, writer)

    assert ruleset.apply(a_line()).fired == ("ESCRIBE",)


def test_lookup_table_with_non_text_values_is_rejected() -> None:
    error = load_error(a_rule(), lookups={"proveedores": {"1": ["YPF"]}})

    assert (error.rule_code, error.field) == (None, "lookups.proveedores")
    assert error.message == "tabla proveedores: se esperaba texto o número, no ['YPF']"


# --- properties -----------------------------------------------------------------------

AMOUNTS = st.integers(-(10**8), 10**8).map(lambda cents: str(Decimal(cents).scaleb(-2)))
FIELD_VALUES = st.one_of(st.none(), st.text(max_size=20), st.integers(), AMOUNTS)

EVERY_OPERATOR_SET = load(
    *[
        a_rule(
            f"R{i}{field[:3]}",
            conditions=[{"field": field, "op": op, "value": value}],
            actions=[
                {"type": "APPEND", "field": "traza", "value": str(i)},
                {"type": "EXTRACT_REGEX", "field": "ex", "source": field, "pattern": r"(\w+)"},
                {"type": "LOOKUP", "field": "prov", "source": field, "table": "proveedores"},
            ],
        )
        for i, (op, value) in enumerate(
            [
                ("EQUALS", "ypf"),
                ("NOT_EQUALS", "Ñ"),
                ("CONTAINS", "a"),
                ("NOT_CONTAINS", "é"),
                ("STARTS_WITH", "1"),
                ("ENDS_WITH", "0"),
                ("REGEX", r"\d+"),
                ("IN", ["1", "a"]),
                ("NOT_IN", ["b"]),
                ("IS_EMPTY", None),
                ("IS_NOT_EMPTY", None),
                ("GREATER_THAN", "10"),
                ("LESS_THAN", "m"),
                ("GREATER_OR_EQUAL", "-1.5"),
                ("LESS_OR_EQUAL", "2024-04-01"),
                ("BETWEEN", ["0", "100"]),
                ("BETWEEN", ["a", "n"]),
            ]
        )
        for field in ("importe", "descripcionCupon")
    ]
)


@settings(max_examples=300)
@given(values=st.dictionaries(st.sampled_from(sorted(KNOWN_FIELDS)), FIELD_VALUES))
def test_apply_never_raises_and_reports_only_non_numeric_values(
    values: dict[str, str | int | None],
) -> None:
    before = dict(values)

    outcome = EVERY_OPERATOR_SET.apply(values)

    assert values == before
    assert set(outcome.fired).isdisjoint(error.rule_code for error in outcome.errors)
    assert all("no es un número" in error.reason for error in outcome.errors)
    assert len(outcome.fired) + len(outcome.errors) <= len(EVERY_OPERATOR_SET)


SCALARS = st.one_of(
    st.text(alphabet="abcñÁ 019", min_size=1, max_size=6).filter(str.strip),
    st.integers(-(10**6), 10**6),
)


@st.composite
def conditions(draw: st.DrawFn) -> dict[str, Any]:
    op = draw(st.sampled_from(list(Operator)))
    value: Any
    if op in (Operator.IS_EMPTY, Operator.IS_NOT_EMPTY):
        value = None
    elif op in (Operator.IN, Operator.NOT_IN):
        value = draw(st.lists(SCALARS, min_size=1, max_size=3))
    elif op is Operator.BETWEEN:
        value = sorted(draw(st.lists(st.integers(-1000, 1000), min_size=2, max_size=2)))
    elif op is Operator.REGEX:
        value = draw(st.sampled_from([r"^\d+$", "c\\.0[1-3]", "ñ|n"]))
    else:
        value = draw(SCALARS)
    return {
        "field": draw(st.sampled_from(["importe", "mcc", "moneda"])),
        "op": op.value,
        "value": value,
    }


@st.composite
def rules(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(1, 5))
    return [
        a_rule(
            f"R{i}",
            priority=draw(st.integers(-3, 3)),
            active=draw(st.booleans()),
            match=draw(st.sampled_from(["ALL", "ANY"])),
            stopOnMatch=draw(st.booleans()),
            conditions=draw(st.lists(conditions(), max_size=3)),
            actions=[{"type": "APPEND", "field": "traza", "value": f"R{i}"}],
        )
        for i in range(count)
    ]


@settings(max_examples=200)
@given(rule_list=rules(), importe=FIELD_VALUES)
def test_to_json_round_trip_preserves_behaviour(
    rule_list: list[dict[str, Any]], importe: str | int | None
) -> None:
    original = load(*rule_list)

    snapshot = original.to_json()
    reloaded = RuleSet.load(snapshot["rules"], snapshot["lookups"], KNOWN_FIELDS)

    assert reloaded.to_json() == snapshot
    assert reloaded.apply(a_line(importe=importe)) == original.apply(a_line(importe=importe))


# --- user patterns run on RE2 ---------------------------------------------------------------


def test_a_catastrophic_pattern_matches_in_linear_time() -> None:
    # Backtracking takes 2^n steps on n "a"s and a non-matching end: 30,000 would never end.
    rule = a_rule(conditions=[{"field": "descripcionCupon", "op": "REGEX", "value": "(a+)+$"}])
    grab = {"type": "EXTRACT_REGEX", "field": "g", "source": "descripcionCupon"}
    extract = a_rule("R2", actions=[{**grab, "pattern": "(x+x+)+y"}])
    text = "a" * 30_000 + "!"
    outcome = apply([rule, extract], a_line(descripcionCupon=text))
    assert outcome.fired == ("R2",) and "g" not in outcome.record
    assert apply([rule], a_line(descripcionCupon="a" * 30_000)).fired == ("R1",)


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"(a)\1", "invalid escape sequence"),  # a backreference
        (r"YPF(?=\s)", "invalid perl operator"),  # lookahead
        ("a" * 501, "más de 500 caracteres"),
    ],
)
def test_what_only_backtracking_can_match_is_refused_when_stored(pattern: str, reason: str) -> None:
    error = load_error(
        a_rule(conditions=[{"field": "descripcionCupon", "op": "REGEX", "value": pattern}])
    )
    assert error.field == "conditions[0].value"
    assert "no admitida" in error.message or "500" in error.message
    assert reason in error.message


def test_patterns_keep_named_groups_case_and_accent_folding() -> None:
    grab = {"type": "EXTRACT_REGEX", "field": "sucursal", "source": "descripcionCupon"}
    rules = [
        a_rule(
            conditions=[{"field": "descripcionCupon", "op": "REGEX", "value": "SAN MARTÍN"}],
            actions=[{**grab, "pattern": r"c\.(?P<n>\d+)", "group": "n"}],
        )
    ]
    outcome = apply(rules, a_line(descripcionCupon="ypf servicentro San Martin C.01/03"))
    assert outcome.fired == ("R1",)
    assert outcome.record["sucursal"] == "01"


@pytest.mark.parametrize(
    ("pattern", "group", "text", "expected"),
    [
        (r"(\d+)$", 1, "ÑANDÚ ÓPTICA ÁLAMOS 1234", "1234"),  # after 2-byte letters
        (r"ó\w+", 0, "PAGO ÓPTICA € 12", "ÓPTICA"),  # the whole match, case folded
        (r"x(\d)?", 1, "EXTRA", "previo"),  # the group took no part in the match
        (r"(\d+)", 1, "ab\udcff 77", "77"),  # a lone surrogate is searched as "?"
    ],
)
def test_extraction_reads_characters_whatever_their_bytes(
    pattern: str, group: int, text: str, expected: str
) -> None:
    action = {"type": "EXTRACT_REGEX", "field": "planCuotas", "source": "descripcionCupon"}
    rules = [a_rule(actions=[{**action, "pattern": pattern, "group": group}])]
    outcome = apply(rules, a_line(descripcionCupon=text, planCuotas="previo"))
    assert outcome.record["planCuotas"] == expected
