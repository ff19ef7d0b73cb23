"""localdev.dktgen: synthetic DKT files of the real shape, that the parser reads back."""

from __future__ import annotations

import io
import random
from collections import defaultdict
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.dkt import (
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
from localdev.dktgen import (
    RUBROS,
    Coupon,
    generate_bytes,
    iter_coupons,
    random_coupon,
    render_line,
    write_dkt,
)

KEY = b"test-card-hash-key"

# The refund line of DKT_FORMAT.md, verbatim.
REFUND_36 = (
    "0072660,001,   ,   ,2404,01,D,053,   0,0123456789,B2000,4000056655665556,"
    "GOMEZ/ANA MARIA    ,160424,DEVOLUCION SUPERMERCADO DIA        ,00012346,ARP,"
    "0000000012999,I,CABA         ,0,0,01,SUPERMERCADOS  ,C1000,0000000000000,"
    "0000000000000,0000000000000,000000,000000,000000,5411,0000000000000,"
    "                   ,,"
)
REFUND = Coupon(
    empresa="0072660",
    codigo_planta="001",
    codigo_area=None,
    codigo_sector=None,
    periodo="2404",
    cartera="01",
    tipo_transaccion=TipoTransaccion.DEVOLUCION,
    codigo_sucursal="053",
    grupo_afinidad="0",
    numero_cuenta="0123456789",
    codigo_geografico_usuario="B2000",
    numero_tarjeta="4000056655665556",
    apellido_nombre_usuario="GOMEZ/ANA MARIA",
    fecha_transaccion=date(2024, 4, 16),
    comercio="DEVOLUCION SUPERMERCADO DIA",
    cuota=None,
    cuotas_total=None,
    numero_cupon="00012346",
    moneda=Moneda.ARP,
    importe=Decimal("129.99"),
    tipo_consumo="I",
    localidad="CABA",
    debito_automatico="0",
    movimiento_cajero="0",
    grupo_rubro="01",
    descripcion_rubro="SUPERMERCADOS",
    codigo_geografico_establecimiento="C1000",
    mcc="5411",
    cuit=None,
)


def parse_file(data: bytes) -> list[StatementLine | LineError | None]:
    """Read a file the way the worker does: BOM off, split on LF, one encoding."""
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
    lines = data.split(b"\n")
    encoding = next(
        (found for line in lines if (found := sniff_encoding(line)) is not None), Encoding.UTF8
    )
    return [parse_line(line, n, encoding, KEY) for n, line in enumerate(lines, 1)]


def test_render_line_reproduces_the_documented_example() -> None:
    assert render_line(REFUND, Layout.CON_CUIT) == REFUND_36


def test_render_line_in_layout_38_cuts_the_description_and_writes_the_reserved_tail() -> None:
    fields = render_line(REFUND, Layout.SIN_CUIT).split(",")

    assert len(fields) == 38
    assert fields[14:16] == ["DEVOLUCION", " SUPERMERCADO DIA        "]
    assert fields[-9:] == ["     0", "000", "00", "000000", "000", "", "000", "", ""]


def test_render_line_puts_installments_at_the_end_of_the_description() -> None:
    coupon = replace(REFUND, comercio="FRAVEGA", cuota=3, cuotas_total=12)

    assert render_line(coupon, Layout.CON_CUIT).split(",")[14] == "FRAVEGA C.03/12".ljust(35)


@pytest.mark.parametrize(
    "changes",
    [
        {"comercio": "X" * 36},
        {"apellido_nombre_usuario": "Y" * 20},
        {"importe": Decimal("1.001")},
        {"importe": Decimal("-1.00")},
        {"fecha_transaccion": date(1999, 12, 31)},
    ],
)
def test_render_line_refuses_values_that_do_not_fit(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        render_line(replace(REFUND, **changes), Layout.CON_CUIT)


def test_same_seed_gives_the_same_file_and_another_seed_another() -> None:
    assert generate_bytes(50, seed=4) == generate_bytes(50, seed=4)
    assert generate_bytes(50, seed=4) != generate_bytes(50, seed=5)


def test_generated_file_parses_with_zero_errors_one_coupon_per_line() -> None:
    # GIVEN a mixed-layout cp1252 file
    data = generate_bytes(2_000, seed=11)

    # WHEN the worker reads it
    results = parse_file(data)

    # THEN every line is a coupon, in the order iter_coupons() yields them
    assert results[-1] is None  # the final newline leaves an empty last piece
    lines = results[:-1]
    assert all(isinstance(line, StatementLine) for line in lines)
    coupons = list(iter_coupons(2_000, seed=11))
    assert len(lines) == len(coupons)
    assert [line.numero_cupon for line in lines if isinstance(line, StatementLine)] == [
        coupon.numero_cupon for coupon in coupons
    ]
    assert {line.layout for line in lines if isinstance(line, StatementLine)} == set(Layout)


def test_totals_per_currency_are_known_from_iter_coupons() -> None:
    data = generate_bytes(1_500, seed=3, periodo="2312")
    expected: defaultdict[Moneda, Decimal] = defaultdict(Decimal)
    for coupon in iter_coupons(1_500, seed=3, periodo="2312"):
        expected[coupon.moneda] += coupon.importe_con_signo

    parsed: defaultdict[Moneda, Decimal] = defaultdict(Decimal)
    for line in parse_file(data):
        if isinstance(line, StatementLine):
            parsed[line.moneda] += line.importe

    assert parsed == expected
    assert expected[Moneda.ARP] and expected[Moneda.USD]


@pytest.mark.parametrize("layout", list(Layout))
def test_layout_option_fixes_the_layout_of_every_line(layout: Layout) -> None:
    lines = parse_file(generate_bytes(200, layout=layout))

    assert {line.layout for line in lines if isinstance(line, StatementLine)} == {layout}


def test_utf8_file_with_bom_crlf_and_trailing_blank_line_reads_the_same() -> None:
    plain = generate_bytes(300, seed=8)
    resaved = generate_bytes(
        300, seed=8, encoding="utf-8", newline="\r\n", bom=True, trailing_blank_line=True
    )
    assert resaved.startswith(UTF8_BOM)
    assert resaved.endswith(b"\r\n\r\n")

    assert [r for r in parse_file(resaved) if r] == [r for r in parse_file(plain) if r]


def test_cp1252_file_is_detected_and_keeps_spanish_names() -> None:
    data = generate_bytes(200, seed=2)

    names = {
        line.apellido_nombre_usuario for line in parse_file(data) if isinstance(line, StatementLine)
    }

    assert sniff_encoding(data) is Encoding.CP1252
    assert {"MUÑOZ/JOSÉ LUIS", "PEÑA/MARÍA INÉS", "GÓMEZ/ANA MARÍA"} <= names


def test_random_coupons_cover_the_shapes_a_real_file_has() -> None:
    coupons = list(iter_coupons(3_000, seed=0))

    assert {c.tipo_transaccion for c in coupons} == set(TipoTransaccion)
    assert {c.moneda for c in coupons} == set(Moneda)
    assert {c.grupo_rubro for c in coupons} == set(RUBROS)
    assert any(c.cuota is not None for c in coupons)
    assert any("," in c.comercio for c in coupons)
    assert any(c.comercio.count(",") >= 2 for c in coupons)
    assert any("Ñ" in c.apellido_nombre_usuario for c in coupons)
    assert any(c.cuit is None for c in coupons) and any(c.cuit for c in coupons)
    assert any(c.limite_compra for c in coupons)
    assert any(c.fecha_vigencia_compra for c in coupons)


class ChunkRecorder(io.BytesIO):
    """A sink that keeps only the size of each write, not the data."""

    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[int] = []

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.sizes.append(len(data))
        return len(data)


def test_write_dkt_streams_in_bounded_chunks() -> None:
    sink = ChunkRecorder()

    write_dkt(sink, 5_000)

    assert len(sink.sizes) == 5
    assert max(sink.sizes) < 1_000 * 400


def test_iter_coupons_is_lazy_whatever_the_line_count() -> None:
    first = next(iter_coupons(10**12, seed=1))

    assert first == next(iter_coupons(1, seed=1))


@settings(deadline=None, max_examples=150)
@given(st.integers(0, 2**32), st.integers(0, 99), st.integers(1, 12), st.sampled_from(Layout))
def test_any_random_coupon_parses_back_to_its_values(
    seed: int, yy: int, mm: int, layout: Layout
) -> None:
    periodo = f"{yy:02d}{mm:02d}"
    coupon = random_coupon(random.Random(seed), periodo=periodo, index=seed % 1000)

    line = parse_line(render_line(coupon, layout).encode("cp1252"), 1, Encoding.CP1252, KEY)

    assert isinstance(line, StatementLine)
    assert line.periodo == periodo
    assert line.importe == coupon.importe_con_signo
    assert line.descripcion_cupon == coupon.descripcion_cupon
    assert (line.cuota, line.cuotas_total) == (coupon.cuota, coupon.cuotas_total)
    assert line.fecha_transaccion == coupon.fecha_transaccion
    assert (
        line.tarjeta_enmascarada == f"{coupon.numero_tarjeta[:6]}******{coupon.numero_tarjeta[-4:]}"
    )
