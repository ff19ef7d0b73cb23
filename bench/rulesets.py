"""A realistic 20-rule set of a finance team, for benchmarks and the local demo."""

from __future__ import annotations

from typing import Any


def _rule(
    code: str,
    priority: int,
    conditions: list[dict[str, Any]],
    actions: list[dict[str, Any]],
    match: str = "ALL",
) -> dict[str, Any]:
    return {
        "code": code,
        "name": code.title(),
        "priority": priority,
        "match": match,
        "conditions": conditions,
        "actions": actions,
    }


def _set(field: str, value: str) -> dict[str, Any]:
    return {"type": "SET", "field": field, "value": value}


def _when(field: str, op: str, value: Any = None) -> dict[str, Any]:
    condition = {"field": field, "op": op}
    if value is not None:
        condition["value"] = value
    return condition


TWENTY_RULES: list[dict[str, Any]] = [
    _rule(
        "COMB",
        10,
        [_when("mcc", "IN", ["5541", "5542"]), _when("importe", "GREATER_THAN", "1000")],
        [
            _set("cuentaContable", "5.1.02"),
            {
                "type": "LOOKUP",
                "field": "proveedor",
                "source": "cuit",
                "table": "proveedores",
                "default": "SIN-PROVEEDOR",
            },
        ],
    ),
    _rule("SUPER", 20, [_when("grupoRubro", "EQUALS", "01")], [_set("cuentaContable", "5.1.05")]),
    _rule(
        "RESTO",
        20,
        [_when("descripcionRubro", "CONTAINS", "restau")],
        [_set("cuentaContable", "5.1.07")],
    ),
    _rule(
        "USD",
        30,
        [_when("moneda", "EQUALS", "USD")],
        [{"type": "APPEND", "field": "observaciones", "value": "[USD]"}],
    ),
    _rule("DEVOL", 30, [_when("tipoTransaccion", "EQUALS", "D")], [_set("tipoAsiento", "REVERSO")]),
    _rule(
        "ADELANTO",
        30,
        [_when("tipoTransaccion", "EQUALS", "A")],
        [_set("cuentaContable", "1.1.09")],
    ),
    _rule(
        "CUOTAS",
        40,
        [_when("descripcionCupon", "REGEX", r"c\.\d{2}/\d{2}$")],
        [
            {
                "type": "EXTRACT_REGEX",
                "field": "planCuotas",
                "source": "descripcionCupon",
                "pattern": r"C\.(?P<plan>\d{2}/\d{2})",
                "group": "plan",
            }
        ],
    ),
    _rule(
        "GRANDE",
        40,
        [_when("importe", "GREATER_OR_EQUAL", "50000")],
        [_set("requiereAprobacion", "SI")],
    ),
    _rule(
        "ABRIL",
        50,
        [_when("fechaTransaccion", "BETWEEN", ["2024-04-01", "2024-04-30"])],
        [_set("mesContable", "2024-04")],
    ),
    _rule(
        "CABA",
        50,
        [_when("localidad", "STARTS_WITH", "CABA"), _when("localidad", "ENDS_WITH", "AIRES")],
        [_set("jurisdiccion", "CABA")],
        match="ANY",
    ),
    _rule(
        "SINCUIT",
        60,
        [_when("cuit", "IS_EMPTY")],
        [{"type": "SET_IF_EMPTY", "field": "proveedor", "value": "CONSUMIDOR-FINAL"}],
    ),
    _rule(
        "MUNOZ",
        60,
        [_when("apellidoNombreUsuario", "STARTS_WITH", "MUÑOZ")],
        [_set("centroCosto", "CC-VENTAS")],
    ),
    _rule(
        "PEREZ",
        60,
        [_when("apellidoNombreUsuario", "STARTS_WITH", "PEREZ/")],
        [_set("centroCosto", "CC-ADMIN")],
    ),
    _rule("FARMACIA", 70, [_when("mcc", "EQUALS", "5912")], [_set("cuentaContable", "5.1.11")]),
    _rule(
        "NOPESOS",
        70,
        [_when("moneda", "NOT_IN", ["ARP"]), _when("importe", "LESS_THAN", "0")],
        [_set("revisar", "SI")],
    ),
    _rule("CHICO", 80, [_when("importe", "BETWEEN", ["0", "100"])], [_set("menor", "SI")]),
    _rule(
        "NODEV",
        80,
        [
            _when("descripcionCupon", "NOT_CONTAINS", "DEVOLUCION"),
            _when("tipoTransaccion", "NOT_EQUALS", "C"),
        ],
        [_set("revisar", "SI")],
    ),
    _rule("ATRASADO", 90, [_when("periodo", "LESS_OR_EQUAL", "2312")], [_set("atrasado", "SI")]),
    _rule("DEFCTA", 95, [_when("cuentaContable", "IS_EMPTY")], [_set("cuentaContable", "5.9.99")]),
    _rule(
        "ETIQUETA",
        99,
        [],
        [{"type": "APPEND", "field": "etiquetas", "value": "importado", "separator": ","}],
    ),
]

LOOKUPS: dict[str, dict[str, str]] = {
    "proveedores": {"0030999999991": "YPF", "0030500000009": "SHELL"}
}
