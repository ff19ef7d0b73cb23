"""What a rule may name, for an editor that offers it rather than have it typed from
memory: the record's fields with Spanish labels, the operators and what value each takes,
the action types and their parameters (GET /api/rules/vocabulary)."""

from __future__ import annotations

from typing import Literal

from chalicelib import dkt
from chalicelib.api.schema import ApiModel
from chalicelib.dkt.rule_schema import ActionType, Match, Operator


class FieldTerm(ApiModel):
    name: str
    label: str


class OperatorTerm(ApiModel):
    op: Operator
    label: str
    # What the condition's value is: none, one text or number, a list, or [desde, hasta].
    value: Literal["none", "one", "list", "range"]


class ActionTerm(ApiModel):
    type: ActionType
    label: str
    # The action's parameters besides `type` and `field`, in the order an editor asks them.
    params: list[str]


class RuleVocabulary(ApiModel):
    """GET /api/rules/vocabulary: what a rule may name, so an editor offers it rather
    than have it typed from memory."""

    fields: list[FieldTerm]
    operators: list[OperatorTerm]
    actions: list[ActionTerm]
    matches: list[FieldTerm]


FIELD_LABELS: dict[str, str] = {
    "fechaTransaccion": "Fecha de la transacción",
    "apellidoNombreUsuario": "Titular",
    "tarjeta": "Tarjeta (enmascarada)",
    "descripcionCupon": "Comercio",
    "importe": "Importe",
    "moneda": "Moneda",
    "cuota": "Cuota",
    "cuotasTotal": "Cuotas en total",
    "numeroCupon": "Número de cupón",
    "mcc": "MCC (rubro del comercio)",
    "cuit": "CUIT del comercio",
    "grupoRubro": "Grupo de rubro",
    "descripcionRubro": "Rubro",
    "localidad": "Localidad",
    "tipoTransaccion": "Tipo de transacción",
    "tipoConsumo": "Tipo de consumo",
    "numeroCuenta": "Número de cuenta",
    "periodo": "Periodo",
    "empresa": "Empresa",
    "codigoPlanta": "Código de planta",
    "codigoArea": "Código de área",
    "codigoSector": "Código de sector",
    "cartera": "Cartera",
    "codigoSucursal": "Código de sucursal",
    "grupoAfinidad": "Grupo de afinidad",
    "codigoGeograficoUsuario": "Código geográfico del titular",
    "codigoGeograficoEstablecimiento": "Código geográfico del comercio",
    "debitoAutomatico": "Débito automático",
    "movimientoCajero": "Movimiento de cajero",
    "limiteCompra": "Límite de compra",
    "limiteCuotas": "Límite en cuotas",
    "limiteAdelanto": "Límite de adelanto",
    "fechaVigenciaCompra": "Vigencia del límite de compra",
    "fechaVigenciaAdelanto": "Vigencia del límite de adelanto",
    "lineNo": "Número de línea",
    "layout": "Formato de la línea (36 o 38)",
    "tarjetaHash": "Huella de la tarjeta",
}
OPERATOR_TERMS: tuple[tuple[Operator, str, Literal["none", "one", "list", "range"]], ...] = (
    (Operator.EQUALS, "es igual a", "one"),
    (Operator.NOT_EQUALS, "no es igual a", "one"),
    (Operator.CONTAINS, "contiene", "one"),
    (Operator.NOT_CONTAINS, "no contiene", "one"),
    (Operator.STARTS_WITH, "empieza con", "one"),
    (Operator.ENDS_WITH, "termina con", "one"),
    (Operator.REGEX, "coincide con el patrón", "one"),
    (Operator.IN, "es uno de", "list"),
    (Operator.NOT_IN, "no es ninguno de", "list"),
    (Operator.IS_EMPTY, "está vacío", "none"),
    (Operator.IS_NOT_EMPTY, "no está vacío", "none"),
    (Operator.GREATER_THAN, "es mayor que", "one"),
    (Operator.LESS_THAN, "es menor que", "one"),
    (Operator.GREATER_OR_EQUAL, "es mayor o igual que", "one"),
    (Operator.LESS_OR_EQUAL, "es menor o igual que", "one"),
    (Operator.BETWEEN, "está entre", "range"),
)
ACTION_TERMS: tuple[tuple[ActionType, str, list[str]], ...] = (
    (ActionType.SET, "Asignar el valor", ["value"]),
    (ActionType.SET_IF_EMPTY, "Asignar si está vacío", ["value"]),
    (ActionType.APPEND, "Agregar al final", ["value", "separator"]),
    (ActionType.EXTRACT_REGEX, "Extraer con un patrón", ["source", "pattern", "group"]),
    (ActionType.LOOKUP, "Buscar en una tabla", ["source", "table", "default"]),
)


def vocabulary() -> RuleVocabulary:
    ordered = [name for name in FIELD_LABELS if name in dkt.RECORD_FIELDS]
    return RuleVocabulary(
        fields=[FieldTerm(name=name, label=FIELD_LABELS[name]) for name in ordered],
        operators=[
            OperatorTerm(op=op, label=label, value=kind) for op, label, kind in OPERATOR_TERMS
        ],
        actions=[
            ActionTerm(type=t, label=label, params=params) for t, label, params in ACTION_TERMS
        ],
        matches=[
            FieldTerm(name=Match.ALL, label="Todas las condiciones"),
            FieldTerm(name=Match.ANY, label="Alguna condición"),
        ],
    )
