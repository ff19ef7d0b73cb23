"""chalicelib.dkt: one DKT line in, a typed coupon or a line error out."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import re
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from chalicelib.dkt import (
    RECORD_FIELDS,
    UTF8_BOM,
    Encoding,
    Layout,
    LineError,
    Moneda,
    StatementLine,
    TipoTransaccion,
    parse_line,
    sniff_encoding,
)
from localdev.dktgen import Coupon, random_coupon, render_line

KEY = b"test-card-hash-key"
PAN = "4111111111111111"

# The two synthetic lines of DKT_FORMAT.md, verbatim (the first one's description is
# 34 chars, one short of its width: trimmed padding must still parse).
LINE_36 = (
    "0072660,001,   ,   ,2404,01,C,053,   0,0123456789,B2000,4111111111111111,"
    "PEREZ/JUAN CARLOS  ,150424,YPF SERVICENTRO SAN MARTIN C.01/03,00012345,ARP,"
    "0000001850050,I,SAN MARTIN   ,0,0,04,EST. SERVICIO  ,B1650,0000000000000,"
    "0000000000000,0000000000000,000000,000000,000000,5541,0030999999991,"
    "                   ,,"
)
REFUND_36 = (
    "0072660,001,   ,   ,2404,01,D,053,   0,0123456789,B2000,4000056655665556,"
    "GOMEZ/ANA MARIA    ,160424,DEVOLUCION SUPERMERCADO DIA        ,00012346,ARP,"
    "0000000012999,I,CABA         ,0,0,01,SUPERMERCADOS  ,C1000,0000000000000,"
    "0000000000000,0000000000000,000000,000000,000000,5411,0000000000000,"
    "                   ,,"
)
# The same purchase in the 38-field layout: description cut 10 + 25, reserved tail.
LINE_38 = (
    "0072660,001,   ,   ,2404,01,C,053,   0,0123456789,B2000,4111111111111111,"
    "PEREZ/JUAN CARLOS  ,150424,YPF SERVIC,ENTRO SAN MARTIN C.01/03 ,00012345,ARP,"
    "0000001850050,I,SAN MARTIN   ,0,0,04,EST. SERVICIO  ,B1650,0000000000000,"
    "0000000000000,0000000000000,     0,000,00,000000,000,,000,,"
)
FIELD_INDEX_36 = {
    "periodo": 4,
    "tipoTransaccion": 6,
    "numeroTarjeta": 11,
    "fechaTransaccion": 13,
    "descripcionCupon": 14,
    "moneda": 16,
    "importe": 17,
    "limiteCompra": 25,
    "limiteAdelanto": 27,
    "fechaVigenciaCompra": 28,
    "fechaVigenciaAdelanto": 29,
    "mcc": 31,
    "cuit": 32,
}


def parse(
    line: str | bytes, encoding: Encoding = Encoding.UTF8, key: bytes = KEY
) -> StatementLine | LineError | None:
    raw = line.encode(encoding.value) if isinstance(line, str) else line
    return parse_line(raw, 7, encoding, key)


def parse_ok(
    line: str | bytes, encoding: Encoding = Encoding.UTF8, key: bytes = KEY
) -> StatementLine:
    result = parse(line, encoding, key)
    assert isinstance(result, StatementLine), result
    return result


def parse_error(line: str | bytes, encoding: Encoding = Encoding.UTF8) -> LineError:
    result = parse(line, encoding)
    assert isinstance(result, LineError), result
    return result


def with_field(line: str, index: int, value: str) -> str:
    parts = line.split(",")
    parts[index] = value
    return ",".join(parts)


def card_hash(pan: str, key: bytes = KEY) -> str:
    return hmac.new(key, pan.encode(), hashlib.sha256).hexdigest()


def a_coupon(**changes: Any) -> Coupon:
    return replace(random_coupon(random.Random(1)), **changes)


# --- layouts -------------------------------------------------------------------------


def test_layout_36_line_parses_to_typed_fields() -> None:
    line = parse_ok(LINE_36)

    assert line.layout is Layout.CON_CUIT
    assert line.line_no == 7
    assert line.periodo == "2404"
    assert line.tipo_transaccion is TipoTransaccion.COMPRA
    assert line.grupo_afinidad == "0"
    assert line.codigo_area is None
    assert line.apellido_nombre_usuario == "PEREZ/JUAN CARLOS"
    assert line.fecha_transaccion == date(2024, 4, 15)
    assert line.descripcion_cupon == "YPF SERVICENTRO SAN MARTIN C.01/03"
    assert line.moneda is Moneda.ARP
    assert line.importe == Decimal("18500.50")
    assert line.localidad == "SAN MARTIN"
    assert line.descripcion_rubro == "EST. SERVICIO"
    assert line.mcc == "5541"
    assert line.cuit == "0030999999991"
    assert line.fecha_vigencia_compra is None


def test_layout_38_joins_the_description_pieces() -> None:
    line = parse_ok(LINE_38)

    assert line.layout is Layout.SIN_CUIT
    assert line.descripcion_cupon == "YPF SERVICENTRO SAN MARTIN C.01/03"
    assert (line.cuota, line.cuotas_total) == (1, 3)
    assert line.importe == Decimal("18500.50")


def test_layout_38_has_no_mcc_cuit_or_validity_dates() -> None:
    line = parse_ok(LINE_38)

    assert (line.mcc, line.cuit) == (None, None)
    assert (line.fecha_vigencia_compra, line.fecha_vigencia_adelanto) == (None, None)


def test_record_has_exactly_the_record_fields_and_is_json_safe() -> None:
    record = parse_ok(LINE_36).to_record()

    assert set(record) == RECORD_FIELDS
    assert json.loads(json.dumps(record)) == record
    assert record["layout"] == "36"
    assert record["fechaTransaccion"] == "2024-04-15"
    assert record["importe"] == "18500.50"
    assert record["limiteCompra"] == "0.00"
    assert record["tipoTransaccion"] == "C"
    assert record["moneda"] == "ARP"
    assert (record["cuota"], record["cuotasTotal"]) == (1, 3)


# --- commas inside the merchant text ------------------------------------------------


@pytest.mark.parametrize("layout", list(Layout))
@pytest.mark.parametrize(
    "comercio",
    [
        "ORACLE AMERICA, INC",  # comma in the 25-char piece of layout 38
        "DIA, SUPERMERCADOS",  # comma in the 10-char piece
        "LA ANONIMA, SUC 12",  # comma right where layout 38 cuts
        "GOOGLE, LLC, CLOUD",  # two commas: 36 + 2 == 38 fields in layout 36
        "A,B,C,D,E,F,G,H",
    ],
)
def test_comma_in_description_is_kept_in_the_text(layout: Layout, comercio: str) -> None:
    coupon = a_coupon(comercio=comercio, cuota=None, cuotas_total=None)

    line = parse_ok(render_line(coupon, layout))

    assert line.layout is layout
    assert line.descripcion_cupon == comercio
    assert line.importe == coupon.importe_con_signo
    assert line.numero_cupon == coupon.numero_cupon


def test_two_commas_in_a_36_line_are_not_taken_for_layout_38() -> None:
    line = with_field(LINE_36, 14, "ORACLE, AMERICA, INC".ljust(35))
    assert len(line.split(",")) == 38

    parsed = parse_ok(line)

    assert parsed.layout is Layout.CON_CUIT
    assert parsed.descripcion_cupon == "ORACLE, AMERICA, INC"
    assert parsed.mcc == "5541"


def test_comma_without_matching_widths_is_a_field_count_error() -> None:
    error = parse_error(with_field(LINE_36, 14, "YPF, SERVICENTRO".ljust(36)))

    assert error.field is None
    assert error.value is None
    assert error.reason == "la línea tiene 37 campos; se esperaban 36 o 38"


# --- encodings, line endings, blank lines ---------------------------------------------


def test_cp1252_file_reads_names_with_enye_and_accents() -> None:
    raw = LINE_36.replace("PEREZ/JUAN CARLOS  ", "MUÑOZ/JOSÉ LUIS    ").encode("cp1252")
    assert sniff_encoding(raw) is Encoding.CP1252

    line = parse_ok(raw, Encoding.CP1252)

    assert line.apellido_nombre_usuario == "MUÑOZ/JOSÉ LUIS"


def test_utf8_resaved_file_reads_the_same_names() -> None:
    raw = LINE_36.replace("PEREZ/JUAN CARLOS  ", "PEÑA/MARÍA INÉS    ").encode("utf-8")
    assert sniff_encoding(raw) is Encoding.UTF8

    line = parse_ok(raw, Encoding.UTF8)

    assert line.apellido_nombre_usuario == "PEÑA/MARÍA INÉS"
    assert line.importe == Decimal("18500.50")


@pytest.mark.parametrize("byte", [0x81, 0x8D, 0x8F, 0x90, 0x9D])
def test_bytes_undefined_in_cp1252_decode_as_latin1(byte: int) -> None:
    raw = LINE_36.replace("PEREZ/JUAN CARLOS  ", "PEREZ/JUAN CARLOS @").encode("cp1252")
    raw = raw.replace(b"@", bytes([byte]))

    line = parse_ok(raw, Encoding.CP1252)

    assert line.apellido_nombre_usuario == "PEREZ/JUAN CARLOS " + chr(byte)


def test_invalid_utf8_line_is_an_error_naming_the_encoding() -> None:
    raw = LINE_36.replace("PEREZ", "MUÑOZ").encode("cp1252")

    error = parse_error(raw, Encoding.UTF8)

    assert error.line_no == 7
    assert (error.field, error.value) == (None, None)
    assert "UTF-8" in error.reason
    assert PAN not in error.reason


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"0072660,001", None),
        ("MUÑOZ".encode(), Encoding.UTF8),
        ("MUÑOZ".encode("cp1252"), Encoding.CP1252),
    ],
)
def test_sniff_encoding_tells_ascii_utf8_and_cp1252_apart(
    raw: bytes, expected: Encoding | None
) -> None:
    assert sniff_encoding(raw) is expected


def test_crlf_line_parses_like_lf() -> None:
    assert parse_ok(LINE_36 + "\r") == parse_ok(LINE_36)


def test_leading_bom_does_not_leak_into_the_first_field() -> None:
    line = parse_ok(UTF8_BOM + LINE_36.encode())

    assert line.empresa == "0072660"


@pytest.mark.parametrize("raw", [b"", b"   ", b"\r", b" \t \r", b"\x0c"])
def test_blank_or_whitespace_line_is_skipped(raw: bytes) -> None:
    assert parse_line(raw, 1, Encoding.CP1252, KEY) is None
    assert parse_line(raw, 1, Encoding.UTF8, KEY) is None


# --- amounts, installments, optional fields -------------------------------------------


def test_refund_amount_is_negative() -> None:
    line = parse_ok(REFUND_36)

    assert line.tipo_transaccion is TipoTransaccion.DEVOLUCION
    assert line.importe == Decimal("-129.99")
    assert line.to_record()["importe"] == "-129.99"


def test_refund_of_zero_is_not_negative_zero() -> None:
    line = parse_ok(with_field(REFUND_36, 17, "0" * 13))

    assert line.to_record()["importe"] == "0.00"


def test_amount_is_an_exact_decimal_never_a_float() -> None:
    line = parse_ok(with_field(LINE_36, 17, "9999999999999"))

    assert line.importe == Decimal("99999999999.99")
    assert line.to_record()["importe"] == "99999999999.99"


def test_usd_coupon_keeps_its_currency() -> None:
    line = parse_ok(with_field(LINE_36, 16, "USD"))

    assert line.moneda is Moneda.USD
    assert line.to_record()["moneda"] == "USD"


def test_installments_come_from_the_end_of_the_description() -> None:
    line = parse_ok(LINE_36.replace("SAN MARTIN C.01/03", "SAN MARTIN C.03/06 "))

    assert (line.cuota, line.cuotas_total) == (3, 6)
    assert line.descripcion_cupon == "YPF SERVICENTRO SAN MARTIN C.03/06"


@pytest.mark.parametrize(
    "text",
    [
        "YPF SERVICENTRO SAN MARTIN C.01/0X",
        "YPF SERVICENTRO SAN MARTIN C.01-03",
        "C.01/03 YPF SERVICENTRO",
        "YPF SERVICENTRO SAN MARTIN",
    ],
)
def test_description_without_trailing_installment_has_none(text: str) -> None:
    line = parse_ok(with_field(LINE_36, 14, text.ljust(35)))

    assert (line.cuota, line.cuotas_total) == (None, None)


def test_all_zero_cuit_is_unknown() -> None:
    assert parse_ok(REFUND_36).cuit is None


def test_validity_dates_are_read_when_set() -> None:
    line = parse_ok(with_field(with_field(LINE_36, 28, "300424"), 29, "310524"))

    assert line.fecha_vigencia_compra == date(2024, 4, 30)
    assert line.to_record()["fechaVigenciaAdelanto"] == "2024-05-31"


def test_blank_validity_dates_are_unknown() -> None:
    line = parse_ok(with_field(LINE_36, 29, " " * 6))

    assert line.fecha_vigencia_adelanto is None


def test_blank_limits_read_as_zero() -> None:
    line = parse_ok(with_field(LINE_36, 26, " " * 13))

    assert line.limite_cuotas == Decimal("0.00")


# --- the card number --------------------------------------------------------------------


def test_card_is_masked_and_hashed_with_the_key() -> None:
    line = parse_ok(LINE_36)

    assert line.tarjeta_enmascarada == "411111******1111"
    assert line.tarjeta_hash == card_hash(PAN)
    assert line.to_record()["tarjeta"] == "411111******1111"


def test_same_card_and_key_give_the_same_hash_and_another_key_another() -> None:
    first, again = parse_ok(LINE_36), parse_ok(LINE_38)
    other_key = parse_ok(LINE_36, key=b"another-key")
    other_card = parse_ok(REFUND_36)

    assert first.tarjeta_hash == again.tarjeta_hash
    assert other_key.tarjeta_hash != first.tarjeta_hash
    assert other_card.tarjeta_hash != first.tarjeta_hash


def test_card_number_never_appears_in_record_or_repr() -> None:
    line = parse_ok(LINE_36)

    assert PAN not in json.dumps(line.to_record())
    assert PAN not in repr(line)
    assert PAN not in str(line)


# --- validation errors --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "bad", "shown", "reason"),
    [
        (
            "tipoTransaccion",
            "X",
            "X",
            "tipo de transacción inválido: X no es C (compra), D (devolución) ni A (adelanto)",
        ),
        ("periodo", "2413", "2413", "período inválido: 2413 no es un período YYMM"),
        ("periodo", "24A4", "24A4", "período inválido: 24A4 no es un período YYMM"),
        (
            "numeroTarjeta",
            "411111111111111",
            "411111*****1111",
            "número de tarjeta inválido: 411111*****1111 no son 16 dígitos",
        ),
        (
            "numeroTarjeta",
            "4111 1111 1111 1",
            "4111 1******11 1",
            "número de tarjeta inválido: 4111 1******11 1 no son 16 dígitos",
        ),
        ("fechaTransaccion", "310224", "310224", "fecha inválida: 310224 no es una fecha DDMMYY"),
        ("fechaTransaccion", "15042", "15042", "fecha inválida: 15042 no es una fecha DDMMYY"),
        ("moneda", "EUR", "EUR", "moneda inválida: EUR no es ARP ni USD"),
        (
            "importe",
            "000000185005X",
            "000000185005X",
            "importe inválido: 000000185005X no es un importe de 13 dígitos en centavos",
        ),
        (
            "importe",
            "000000185005",
            "000000185005",
            "importe inválido: 000000185005 no es un importe de 13 dígitos en centavos",
        ),
        (
            "importe",
            "-000001850050",
            "-000001850050",
            "importe inválido: -000001850050 no es un importe de 13 dígitos en centavos",
        ),
        (
            "limiteAdelanto",
            "00000000000O0",
            "00000000000O0",
            "importe inválido: 00000000000O0 no es un importe de 13 dígitos en centavos",
        ),
        (
            "fechaVigenciaCompra",
            "320424",
            "320424",
            "fecha inválida: 320424 no es una fecha DDMMYY",
        ),
        ("mcc", "55A1", "55A1", "código MCC inválido: 55A1 no son 4 dígitos"),
        ("cuit", "003099999999", "003099999999", "CUIT inválido: 003099999999 no son 13 dígitos"),
    ],
)
def test_invalid_field_is_reported_with_its_name_value_and_reason(
    field: str, bad: str, shown: str, reason: str
) -> None:
    error = parse_error(with_field(LINE_36, FIELD_INDEX_36[field], bad))

    assert error == LineError(7, field, shown, reason)


def test_card_number_is_masked_wherever_an_error_shows_it() -> None:
    error = parse_error(with_field(LINE_36, FIELD_INDEX_36["moneda"], PAN))

    assert error.field == "moneda"
    assert error.value == "411111******1111"
    assert PAN not in error.reason


def test_first_invalid_field_in_file_order_is_reported() -> None:
    line = with_field(with_field(LINE_36, 6, "X"), 16, "EUR")

    assert parse_error(line).field == "tipoTransaccion"


def test_truncated_line_is_an_error_not_a_shifted_parse() -> None:
    error = parse_error(LINE_36[:200])

    assert error == LineError(7, None, None, "la línea tiene 24 campos; se esperaban 36 o 38")


def test_line_missing_its_trailing_empty_fields_is_an_error() -> None:
    assert parse_error(LINE_36[:-2]).reason == "la línea tiene 34 campos; se esperaban 36 o 38"


def test_wrong_field_count_is_a_whole_line_error() -> None:
    error = parse_error("a,b,c")

    assert error.to_dict() == {
        "lineNo": 7,
        "field": None,
        "value": None,
        "reason": "la línea tiene 3 campos; se esperaban 36 o 38",
    }


def test_description_wider_than_its_field_is_a_width_error() -> None:
    error = parse_error(with_field(LINE_36, 14, "X" * 36))

    assert error.field == "descripcionCupon"
    assert (
        error.reason == f"descripción con ancho inválido: {'X' * 36} tiene 36 caracteres; "
        "se esperaban 35"
    )


def test_38_line_with_a_misplaced_cut_is_a_width_error() -> None:
    error = parse_error(LINE_38.replace("YPF SERVIC,ENTRO", "YPF SERVICE,NTRO"))

    assert error.field == "descripcionCupon"
    assert "se esperaban 10 + 25" in error.reason


def test_shifted_tail_fails_on_the_currency() -> None:
    # A 38 line that lost its last two commas has 36 fields and a description that
    # fits layout 36: the currency check catches the shift.
    error = parse_error(LINE_38[:-2])

    assert error.field == "moneda"


# --- properties ---------------------------------------------------------------------------

UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"
CODE_CHARS = UPPER + DIGITS
TEXT_CHARS = UPPER + DIGITS + "ÑÁÉÍÓÚÜ /.'*&-"
INSTALLMENT_AT_END = re.compile(r"C\.[0-9]{2}/[0-9]{2}$")


def codes(width: int) -> st.SearchStrategy[str]:
    return st.text(CODE_CHARS, max_size=width)


def texts(width: int, chars: str = TEXT_CHARS) -> st.SearchStrategy[str]:
    return st.text(chars, max_size=width).map(str.rstrip)


def cents(digits: int = 13) -> st.SearchStrategy[Decimal]:
    return st.integers(0, 10**digits - 1).map(lambda value: Decimal(value).scaleb(-2))


dates = st.dates(date(2000, 1, 1), date(2099, 12, 31))


@st.composite
def coupons(draw: st.DrawFn) -> Coupon:
    cuotas_total = draw(st.none() | st.integers(0, 99))
    cuota = None if cuotas_total is None else draw(st.integers(0, 99))
    comercio = draw(texts(35 if cuota is None else 27, TEXT_CHARS + ","))
    assume(cuota is not None or not INSTALLMENT_AT_END.search(comercio))
    return Coupon(
        empresa=draw(codes(7)),
        codigo_planta=draw(st.none() | codes(3)),
        codigo_area=draw(st.none() | codes(3)),
        codigo_sector=draw(st.none() | codes(3)),
        periodo=f"{draw(st.integers(0, 99)):02d}{draw(st.integers(1, 12)):02d}",
        cartera=draw(codes(2)),
        tipo_transaccion=draw(st.sampled_from(TipoTransaccion)),
        codigo_sucursal=draw(codes(3)),
        grupo_afinidad=draw(st.text(DIGITS, max_size=4)),
        numero_cuenta=draw(codes(10)),
        codigo_geografico_usuario=draw(codes(5)),
        numero_tarjeta=draw(st.text(DIGITS, min_size=16, max_size=16)),
        apellido_nombre_usuario=draw(texts(19)),
        fecha_transaccion=draw(dates),
        comercio=comercio,
        cuota=cuota,
        cuotas_total=cuotas_total,
        numero_cupon=draw(codes(8)),
        moneda=draw(st.sampled_from(Moneda)),
        importe=draw(cents()),
        tipo_consumo=draw(codes(1)),
        localidad=draw(texts(13)),
        debito_automatico=draw(st.none() | codes(1)),
        movimiento_cajero=draw(codes(1)),
        grupo_rubro=draw(codes(2)),
        descripcion_rubro=draw(texts(15)),
        codigo_geografico_establecimiento=draw(codes(5)),
        limite_compra=draw(cents()),
        limite_cuotas=draw(cents()),
        limite_adelanto=draw(cents()),
        fecha_vigencia_compra=draw(st.none() | dates),
        fecha_vigencia_adelanto=draw(st.none() | dates),
        mcc=draw(st.none() | st.integers(1, 9999).map("{:04d}".format)),
        cuit=draw(st.none() | st.integers(1, 10**13 - 1).map("{:013d}".format)),
    )


def expected_line(c: Coupon, layout: Layout, line_no: int) -> StatementLine:
    """What parse_line must return for render_line(c, layout), derived from the coupon."""
    con_cuit = layout is Layout.CON_CUIT
    return StatementLine(
        line_no=line_no,
        layout=layout,
        empresa=c.empresa or None,
        codigo_planta=c.codigo_planta or None,
        codigo_area=c.codigo_area or None,
        codigo_sector=c.codigo_sector or None,
        periodo=c.periodo,
        cartera=c.cartera or None,
        tipo_transaccion=c.tipo_transaccion,
        codigo_sucursal=c.codigo_sucursal or None,
        grupo_afinidad=c.grupo_afinidad or None,
        numero_cuenta=c.numero_cuenta or None,
        codigo_geografico_usuario=c.codigo_geografico_usuario or None,
        tarjeta_enmascarada=f"{c.numero_tarjeta[:6]}******{c.numero_tarjeta[-4:]}",
        tarjeta_hash=card_hash(c.numero_tarjeta),
        apellido_nombre_usuario=c.apellido_nombre_usuario or None,
        fecha_transaccion=c.fecha_transaccion,
        descripcion_cupon=c.descripcion_cupon or None,
        cuota=c.cuota,
        cuotas_total=c.cuotas_total,
        numero_cupon=c.numero_cupon or None,
        moneda=c.moneda,
        importe=c.importe_con_signo,
        tipo_consumo=c.tipo_consumo or None,
        localidad=c.localidad or None,
        debito_automatico=c.debito_automatico or None,
        movimiento_cajero=c.movimiento_cajero or None,
        grupo_rubro=c.grupo_rubro or None,
        descripcion_rubro=c.descripcion_rubro or None,
        codigo_geografico_establecimiento=c.codigo_geografico_establecimiento or None,
        limite_compra=c.limite_compra,
        limite_cuotas=c.limite_cuotas,
        limite_adelanto=c.limite_adelanto,
        fecha_vigencia_compra=c.fecha_vigencia_compra if con_cuit else None,
        fecha_vigencia_adelanto=c.fecha_vigencia_adelanto if con_cuit else None,
        mcc=c.mcc if con_cuit else None,
        cuit=c.cuit if con_cuit else None,
    )


@settings(deadline=None, max_examples=300)
@given(coupons(), st.sampled_from(Layout), st.sampled_from(Encoding))
def test_any_coupon_rendered_in_either_layout_parses_back(
    coupon: Coupon, layout: Layout, encoding: Encoding
) -> None:
    raw = render_line(coupon, layout).encode(encoding.value)

    assert parse_line(raw, 3, encoding, KEY) == expected_line(coupon, layout, 3)


def assert_parse_result(result: object) -> None:
    assert result is None or isinstance(result, StatementLine | LineError)
    if isinstance(result, StatementLine):
        assert set(result.to_record()) == RECORD_FIELDS


@settings(deadline=None, max_examples=300)
@given(st.binary(max_size=600), st.sampled_from(Encoding))
def test_arbitrary_bytes_never_raise(raw: bytes, encoding: Encoding) -> None:
    assert_parse_result(parse_line(raw, 1, encoding, KEY))


@settings(deadline=None, max_examples=300)
@given(st.text(max_size=600), st.sampled_from(Encoding))
def test_arbitrary_text_never_raises(text: str, encoding: Encoding) -> None:
    raw = text.encode(encoding.value, errors="replace")

    assert_parse_result(parse_line(raw, 1, encoding, KEY))


@settings(deadline=None, max_examples=300)
@given(
    st.integers(0, 2**32),
    st.sampled_from(Layout),
    st.lists(
        st.tuples(
            st.integers(0, 400),
            st.sampled_from(["", ",", "0", "9", " ", "Ñ", "\r", "\x81", "X", ",,"]),
        ),
        max_size=4,
    ),
)
def test_damaged_line_never_raises_nor_shows_the_card_number(
    seed: int, layout: Layout, edits: list[tuple[int, str]]
) -> None:
    # GIVEN a valid line with a few characters replaced, deleted or inserted
    coupon = random_coupon(random.Random(seed))
    text = render_line(coupon, layout)
    for position, replacement in edits:
        text = text[:position] + replacement + text[position + 1 :]

    # WHEN it is parsed
    result = parse_line(text.encode("cp1252", errors="replace"), 1, Encoding.CP1252, KEY)

    # THEN there is a result, and the clear card number is nowhere in it
    assert_parse_result(result)
    if isinstance(result, LineError):
        assert coupon.numero_tarjeta not in f"{result.value} {result.reason}"
    elif isinstance(result, StatementLine):
        assert coupon.numero_tarjeta not in f"{result!r} {result.to_record()}"


@settings(deadline=None, max_examples=300)
@given(st.integers(0, 37), st.text(max_size=40), st.sampled_from(Layout))
def test_any_value_in_any_field_never_raises(index: int, value: str, layout: Layout) -> None:
    parts = render_line(random_coupon(random.Random(index)), layout).split(",")
    parts[min(index, len(parts) - 1)] = value
    raw = ",".join(parts).encode("utf-8", errors="replace")

    assert_parse_result(parse_line(raw, 1, Encoding.UTF8, KEY))
