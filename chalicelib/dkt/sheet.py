"""A lote's lines as a finance user's spreadsheet: the columns, in Spanish, and one row per
line; the CSV's text neutralised against formula injection. Pure, stdlib only.

Amounts and counts are numbers (Decimal, int): CSV writes them with a dot and no
thousands separator whatever the reader's locale, XLSX as numeric cells. Dates are
`date`s: ISO 8601 (aaaa-mm-dd) in CSV, which every spreadsheet reads as a date, and date
cells in XLSX. Text is as read; `csv_bytes` neutralises what a spreadsheet would run (an
XLSX string cell is never a formula, so it is written as it is).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal

from chalicelib.dkt.layout import RECORD_FIELDS

Kind = Literal["text", "number", "integer", "date"]
Cell = str | int | Decimal | date | None

# A cell whose text starts with one of these is a formula to Excel, LibreOffice and Google
# Sheets (OWASP's "CSV injection"): such text gets a leading apostrophe.
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Column:
    header: str
    field: str
    kind: Kind = "text"


LINE_COLUMNS: Final = (
    Column("Línea", "lineNo", "integer"),
    Column("Fecha", "fechaTransaccion", "date"),
    Column("Titular", "apellidoNombreUsuario"),
    Column("Tarjeta", "tarjeta"),
    Column("Cuenta", "numeroCuenta"),
    Column("Comercio", "descripcionCupon"),
    Column("Rubro", "descripcionRubro"),
    Column("Localidad", "localidad"),
    Column("Cupón", "numeroCupon"),
    Column("Cuota", "cuota", "integer"),
    Column("Cuotas", "cuotasTotal", "integer"),
    Column("Moneda", "moneda"),
    Column("Importe", "importe", "number"),
    Column("Tipo de transacción", "tipoTransaccion"),
    Column("Periodo", "periodo"),
    Column("CUIT", "cuit"),
    Column("MCC", "mcc"),
)
ERROR_COLUMNS: Final = (
    Column("Línea", "lineNo", "integer"),
    Column("Campo", "field"),
    Column("Valor leído", "value"),
    Column("Motivo", "reason"),
)
RULES_FIRED: Final = Column("Reglas aplicadas", "_rulesFired")
RULE_ERRORS: Final = Column("Errores de reglas", "_ruleErrors")


def columns_for(rule_fields: Iterable[str]) -> tuple[Column, ...]:
    """The line columns, then one per field the rules set that is not a DKT field, then
    which rules applied and which failed."""
    extra = [Column(name, name) for name in dict.fromkeys(rule_fields) if name not in RECORD_FIELDS]
    return (*LINE_COLUMNS, *extra, RULES_FIRED, RULE_ERRORS)


def header(columns: Sequence[Column]) -> list[Cell]:
    return [column.header for column in columns]


def row(
    record: Mapping[str, Any],
    rules_fired: Sequence[str],
    rule_errors: Sequence[Mapping[str, Any]],
    columns: Sequence[Column],
) -> list[Cell]:
    """One line's cells, in `columns` order."""
    values = {
        **record,
        RULES_FIRED.field: ", ".join(rules_fired),
        RULE_ERRORS.field: "; ".join(
            f"{error.get('rule', '')}: {error.get('reason', '')}" for error in rule_errors
        ),
    }
    return [_cell(values.get(column.field), column.kind) for column in columns]


def error_row(error: Mapping[str, Any]) -> list[Cell]:
    """One line error's cells, in ERROR_COLUMNS order."""
    return [_cell(error.get(column.field), column.kind) for column in ERROR_COLUMNS]


def _cell(value: Any, kind: Kind) -> Cell:
    if value is None or value == "":
        return None
    text = str(value)
    if kind == "date":
        try:
            return date.fromisoformat(text)
        except ValueError:
            return text  # a rule wrote something else: kept as text
    if kind != "text":
        try:
            number = Decimal(text)
        except InvalidOperation:
            return text
        if not number.is_finite():  # "NaN", "Infinity": text a rule wrote, not a number
            return text
        return int(number) if kind == "integer" and number == number.to_integral_value() else number
    return text


def neutralised(text: str) -> str:
    """`text` as a spreadsheet shows it and never runs it: "=1+1" becomes "'=1+1"."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def csv_bytes(rows: Iterable[Sequence[Cell]]) -> bytes:
    """Rows as CSV (comma, CRLF, quoted where needed), UTF-8, text neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for cells in rows:
        writer.writerow(_csv_value(cell) for cell in cells)
    return out.getvalue().encode("utf-8")


def _csv_value(cell: Cell) -> str | int | Decimal:
    if cell is None:
        return ""
    if isinstance(cell, str):
        return neutralised(cell)
    if isinstance(cell, date):
        return cell.isoformat()
    return cell
