"""The export's spreadsheet: columns, cells, formula neutralising, CSV bytes."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from test_settings import REQUIRED

from chalicelib.core.settings import Settings, SettingsError
from chalicelib.dkt import sheet
from chalicelib.dkt.layout import RECORD_FIELDS
from chalicelib.dkt.rules import RuleSet


@pytest.mark.parametrize("text", ["=1+1", "+54 11", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_text_a_spreadsheet_would_run_gets_an_apostrophe(text: str) -> None:
    assert sheet.neutralised(text) == f"'{text}"


@pytest.mark.parametrize("text", ["FARMACITY", "a=b", "1-2", "", "'=x"])
def test_other_text_is_left_as_it_is(text: str) -> None:
    assert sheet.neutralised(text) == text


def test_amounts_counts_and_dates_are_typed_and_only_text_is_neutralised_in_csv() -> None:
    columns = sheet.columns_for([])
    record = {
        "lineNo": 7,
        "importe": "-1234.50",
        "cuota": "3",
        "descripcionCupon": "-OFERTA",
        "fechaTransaccion": "2024-03-26",
    }
    cells = dict(zip(sheet.header(columns), sheet.row(record, [], [], columns), strict=True))
    assert cells["Línea"] == 7
    assert cells["Importe"] == Decimal("-1234.50")
    assert cells["Cuota"] == 3
    assert cells["Fecha"] == date(2024, 3, 26)
    assert cells["Comercio"] == "-OFERTA"  # as read: an XLSX string cell is never run
    assert cells["Titular"] is None
    [line] = csv.reader(io.StringIO(sheet.csv_bytes([list(cells.values())]).decode()))
    values = dict(zip(cells, line, strict=True))
    assert (values["Importe"], values["Fecha"], values["Comercio"]) == (
        "-1234.50",
        "2024-03-26",
        "'-OFERTA",
    )


def test_fields_the_rules_set_get_columns_of_their_own_after_the_line_columns() -> None:
    columns = sheet.columns_for(["cuentaContable", "descripcionCupon", "cuentaContable"])
    headers = sheet.header(columns)
    assert headers[len(sheet.LINE_COLUMNS) :] == [
        "cuentaContable",
        "Reglas aplicadas",
        "Errores de reglas",
    ]
    record = {"cuentaContable": "5.1.02"}
    errors = [{"rule": "PROV", "reason": "no es un número"}]
    cells = sheet.row(record, ["COMB", "RESTO"], errors, columns)
    assert cells[-3:] == ["5.1.02", "COMB, RESTO", "PROV: no es un número"]


def test_csv_is_comma_separated_quoted_where_needed_and_utf8() -> None:
    data = sheet.csv_bytes([["Peña, Ñandú", Decimal("10.00"), None, 'dice "hola"']])
    assert data == '"Peña, Ñandú",10.00,,"dice ""hola"""\r\n'.encode()
    [row] = csv.reader(io.StringIO(data.decode(), newline=""))
    assert row == ["Peña, Ñandú", "10.00", "", 'dice "hola"']


def test_a_rule_set_names_the_fields_its_active_rules_write_in_the_order_they_run() -> None:
    rules = [
        {
            "code": "B",
            "name": "b",
            "priority": 20,
            "actions": [{"type": "SET", "field": "centro", "value": "x"}],
        },
        {
            "code": "A",
            "name": "a",
            "priority": 10,
            "actions": [{"type": "SET", "field": "cuenta", "value": "y"}],
        },
        {
            "code": "C",
            "name": "c",
            "priority": 5,
            "active": False,
            "actions": [{"type": "SET", "field": "nunca", "value": "z"}],
        },
    ]
    assert RuleSet.load(rules, {}, RECORD_FIELDS).fields_set() == ("cuenta", "centro")


def test_an_export_part_smaller_than_the_stores_least_part_is_refused() -> None:
    with pytest.raises(SettingsError, match="EXPORT_PART_BYTES must be at least"):
        Settings.from_env({**REQUIRED, "EXPORT_PART_BYTES": str(1024 * 1024)})
    lowered = {**REQUIRED, "EXPORT_PART_BYTES": "65536", "S3_MIN_PART_BYTES": "65536"}
    assert Settings.from_env(lowered).export_part_bytes == 65536


def test_an_error_value_read_from_the_file_is_neutralised_too() -> None:
    error = {"lineNo": 12, "field": "importe", "value": "=cmd|'/c calc'!A1", "reason": "no es"}
    data = sheet.csv_bytes([sheet.error_row(error)])
    assert data == b"12,importe,'=cmd|'/c calc'!A1,no es\r\n"


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-inf"])
def test_a_number_column_that_a_rule_filled_with_no_number_keeps_the_text(value: str) -> None:
    columns = sheet.columns_for([])
    cells = dict(
        zip(sheet.header(columns), sheet.row({"importe": value}, [], [], columns), strict=True)
    )
    assert cells["Importe"] == value


def test_a_fractional_count_stays_a_number_rather_than_being_cut() -> None:
    columns = sheet.columns_for([])
    cells = dict(
        zip(sheet.header(columns), sheet.row({"cuota": "1.5"}, [], [], columns), strict=True)
    )
    assert cells["Cuota"] == Decimal("1.5")
