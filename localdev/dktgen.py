"""Synthetic DKT card-statement files: the real shape, invented data, test card numbers.

Deterministic for a seed, streamed in constant memory (a million lines is fine), in
either layout or both mixed, Latin-1/cp1252 or UTF-8, LF or CRLF. Tests and benchmarks
use iter_coupons() to know what a generated file holds, e.g. its totals per currency:

    sum(c.importe_con_signo for c in iter_coupons(1000, seed=7) if c.moneda is Moneda.USD)

Run as `python -m localdev.dktgen out.dkt --lines 18000` to write a file.
"""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, BinaryIO

from chalicelib.dkt import UTF8_BOM, Layout, Moneda, TipoTransaccion

# Well-known 16-digit test PANs (Visa, Mastercard test ranges), with their holders.
CARDHOLDERS: tuple[tuple[str, str], ...] = (
    ("4111111111111111", "PÉREZ/JUAN CARLOS"),
    ("4000056655665556", "GÓMEZ/ANA MARÍA"),
    ("5555555555554444", "MUÑOZ/JOSÉ LUIS"),
    ("5105105105105100", "PEÑA/MARÍA INÉS"),
    ("4012888888881881", "IBÁÑEZ/SOFÍA"),
    ("4242424242424242", "NÚÑEZ/AGUSTÍN"),
    ("5200828282828210", "FERNÁNDEZ/MARÍA CO"),
    ("4000002500003155", "O'CONNOR/PATRICIO"),
    ("2223003122003222", "GÜEMES/ROCÍO"),
    ("4000000760000002", "LÓPEZ/MARTÍN"),
)

RUBROS: dict[str, str] = {
    "01": "SUPERMERCADOS",
    "02": "RESTAURANTS",
    "03": "ART. DEL HOGAR",
    "04": "EST. SERVICIO",
    "05": "INDUMENTARIA",
    "06": "TRANSPORTES",
    "07": "VIAJES/TURISMO",
    "08": "AUTOMOVIL",
    "09": "HOTELES",
    "10": "AFINES A RESTAU",
    "20": "OTROS",
}

# (merchant text, rubro, mcc, cuit or None, town, merchant geo code, currency)
MERCHANTS: tuple[tuple[str, str, str, str | None, str, str, Moneda], ...] = (
    ("SUPERMERCADO DIA", "01", "5411", "0030685849116", "CABA", "C1000", Moneda.ARP),
    ("CARREFOUR, HIPER", "01", "5411", "0030687310434", "SAN MARTIN", "B1650", Moneda.ARP),
    ("LA ANONIMA, SUC 12", "01", "5411", "0030505856405", "NEUQUÉN", "Q8300", Moneda.ARP),
    ("PARRILLA DON JULIO", "02", "5812", "0030711234561", "CABA", "C1414", Moneda.ARP),
    ("FRAVEGA SACIEI", "03", "5722", "0030528124707", "ROSARIO", "S2000", Moneda.ARP),
    (
        "YPF SERVICENTRO SAN MARTIN",
        "04",
        "5541",
        "0030546689979",
        "SAN MARTIN",
        "B1650",
        Moneda.ARP,
    ),
    ("SHELL, AXION, PUMA", "04", "5541", None, "CÓRDOBA", "X5000", Moneda.ARP),
    ("ZARA ARGENTINA", "05", "5651", "0030708117634", "CABA", "C1425", Moneda.ARP),
    ("UBER *TRIP", "06", "4121", None, "CABA", "C1000", Moneda.ARP),
    ("AEROLINEAS ARGENTINAS", "07", "4511", "0030642036311", "CABA", "C1001", Moneda.ARP),
    ("BOOKING.COM", "07", "4722", None, "AMSTERDAM", "NL000", Moneda.USD),
    ("NEUMATICOS NORAUTO", "08", "5532", "0030709876542", "MAR DEL PLATA", "B7600", Moneda.ARP),
    ("HOTEL ALVEAR", "09", "7011", "0030500123456", "CABA", "C1011", Moneda.ARP),
    ("MARRIOTT NEW YORK", "09", "7011", None, "NEW YORK", "US000", Moneda.USD),
    ("STARBUCKS COFFEE", "10", "5814", "0030711112229", "CABA", "C1000", Moneda.ARP),
    ("FARMACITY", "20", "5912", "0030682436811", "CÓRDOBA", "X5000", Moneda.ARP),
    ("ORACLE AMERICA, INC", "20", "5734", None, "REDWOOD CITY", "US000", Moneda.USD),
    ("GOOGLE, LLC, CLOUD", "20", "4816", None, "MOUNTAIN VIEW", "US000", Moneda.USD),
)
_CASH_ADVANCE: tuple[str, str, str, str | None, str, str] = (
    "ADELANTO EFECTIVO BANELCO",
    "20",
    "6011",
    None,
    "CABA",
    "C1000",
)
_COMPANIES = (("0072660", "0123456789"), ("0150815", "0987654321"))
_GEO_USUARIO = ("B2000", "C1000", "X5000", "S2000")
_TAIL_38 = ("     0", "000", "00", "000000", "000", "", "000", "", "")


@dataclass(frozen=True)
class Coupon:
    """One coupon's values as the file carries them (importe unsigned, PAN in clear)."""

    empresa: str
    codigo_planta: str | None
    codigo_area: str | None
    codigo_sector: str | None
    periodo: str
    cartera: str
    tipo_transaccion: TipoTransaccion
    codigo_sucursal: str
    grupo_afinidad: str
    numero_cuenta: str
    codigo_geografico_usuario: str
    numero_tarjeta: str
    apellido_nombre_usuario: str
    fecha_transaccion: date
    comercio: str  # the merchant text, without the installment suffix
    cuota: int | None
    cuotas_total: int | None
    numero_cupon: str
    moneda: Moneda
    importe: Decimal
    tipo_consumo: str
    localidad: str
    debito_automatico: str | None
    movimiento_cajero: str
    grupo_rubro: str
    descripcion_rubro: str
    codigo_geografico_establecimiento: str
    limite_compra: Decimal = Decimal("0.00")
    limite_cuotas: Decimal = Decimal("0.00")
    limite_adelanto: Decimal = Decimal("0.00")
    fecha_vigencia_compra: date | None = None
    fecha_vigencia_adelanto: date | None = None
    mcc: str | None = None
    cuit: str | None = None

    @property
    def descripcion_cupon(self) -> str:
        """The description field's text: the merchant plus "C.nn/mm" when in installments."""
        if self.cuota is None or self.cuotas_total is None:
            return self.comercio
        return f"{self.comercio} C.{self.cuota:02d}/{self.cuotas_total:02d}"

    @property
    def importe_con_signo(self) -> Decimal:
        """The amount as an import books it: refunds (D) negative."""
        if self.tipo_transaccion is TipoTransaccion.DEVOLUCION:
            return -self.importe
        return self.importe


def render_line(coupon: Coupon, layout: Layout) -> str:
    """The coupon as one fixed-width DKT line, without a line ending.

    Raises:
        ValueError: a value does not fit its field's width.
    """
    c = coupon
    desc = _text(c.descripcion_cupon, 35)
    fields = [
        _text(c.empresa, 7),
        _text(c.codigo_planta, 3),
        _text(c.codigo_area, 3),
        _text(c.codigo_sector, 3),
        _text(c.periodo, 4),
        _text(c.cartera, 2),
        c.tipo_transaccion.value,
        _text(c.codigo_sucursal, 3),
        _right(c.grupo_afinidad, 4),
        _text(c.numero_cuenta, 10),
        _text(c.codigo_geografico_usuario, 5),
        _text(c.numero_tarjeta, 16),
        _text(c.apellido_nombre_usuario, 19),
        _ddmmyy(c.fecha_transaccion),
        *([desc] if layout is Layout.CON_CUIT else [desc[:10], desc[10:]]),
        _text(c.numero_cupon, 8),
        c.moneda.value,
        _cents(c.importe),
        _text(c.tipo_consumo, 1),
        _text(c.localidad, 13),
        _text(c.debito_automatico, 1),
        _text(c.movimiento_cajero, 1),
        _text(c.grupo_rubro, 2),
        _text(c.descripcion_rubro, 15),
        _text(c.codigo_geografico_establecimiento, 5),
        _cents(c.limite_compra),
        _cents(c.limite_cuotas),
        _cents(c.limite_adelanto),
    ]
    if layout is Layout.CON_CUIT:
        fields += [
            _ddmmyy(c.fecha_vigencia_compra),
            _ddmmyy(c.fecha_vigencia_adelanto),
            "000000",
            _text(c.mcc or "0000", 4),
            _text(c.cuit or "0" * 13, 13),
            " " * 19,
            "",
            "",
        ]
    else:
        fields += _TAIL_38
    return ",".join(fields)


def random_coupon(rng: random.Random, *, periodo: str = "2404", index: int = 0) -> Coupon:
    """A plausible coupon of `periodo` (YYMM); `index` numbers the coupon."""
    pan, holder = rng.choice(CARDHOLDERS)
    empresa, cuenta = _COMPANIES[0] if rng.random() < 0.8 else _COMPANIES[1]
    tipo = rng.choices(list(TipoTransaccion), weights=(85, 10, 5))[0]
    cuota = cuotas_total = None
    if tipo is TipoTransaccion.ADELANTO:
        comercio, rubro, mcc, cuit, localidad, geo = _CASH_ADVANCE
        moneda = rng.choice((Moneda.ARP, Moneda.ARP, Moneda.USD))
        cents = rng.randrange(1_000_00, 200_000_00, 1_000_00)
    else:
        comercio, rubro, mcc, cuit, localidad, geo, moneda = rng.choice(MERCHANTS)
        if moneda is Moneda.USD:
            cents = rng.randint(1_00, 2_000_00)
        else:
            cents = min(int(rng.lognormvariate(13, 1.3)), 10**12 - 1)
        if tipo is TipoTransaccion.DEVOLUCION:
            comercio = f"DEVOLUCION {comercio}"[:35].rstrip()
        elif moneda is Moneda.ARP and rng.random() < 0.2:
            cuotas_total = rng.choice((3, 6, 12, 18))
            cuota = rng.randint(1, cuotas_total)
            comercio = comercio[:27].rstrip()
    has_limits = rng.random() < 0.05
    yy, mm = 2000 + int(periodo[:2]), int(periodo[2:])
    fecha = max(date(yy, mm, 25) - timedelta(days=rng.randrange(60)), date(2000, 1, 1))
    return Coupon(
        empresa=empresa,
        codigo_planta=rng.choice(("001", "002", None)),
        codigo_area=rng.choice((None, None, "010")),
        codigo_sector=rng.choice((None, None, None, "A01")),
        periodo=periodo,
        cartera=f"{rng.randint(1, 4):02d}",
        tipo_transaccion=tipo,
        codigo_sucursal=rng.choice(("053", "120", "007")),
        grupo_afinidad=rng.choice(("0", "0", "1", "12")),
        numero_cuenta=cuenta,
        codigo_geografico_usuario=rng.choice(_GEO_USUARIO),
        numero_tarjeta=pan,
        apellido_nombre_usuario=holder,
        fecha_transaccion=fecha,
        comercio=comercio,
        cuota=cuota,
        cuotas_total=cuotas_total,
        numero_cupon=f"{(index + 1) % 100_000_000:08d}",
        moneda=moneda,
        importe=Decimal(max(cents, 1)).scaleb(-2),
        tipo_consumo=rng.choice(("I", "L")),
        localidad=localidad[:13],
        debito_automatico=rng.choice(("0", "0", "1", None)),
        movimiento_cajero="1" if tipo is TipoTransaccion.ADELANTO else "0",
        grupo_rubro=rubro,
        descripcion_rubro=RUBROS[rubro],
        codigo_geografico_establecimiento=geo,
        limite_compra=_limit(rng) if has_limits else Decimal("0.00"),
        limite_cuotas=_limit(rng) if has_limits else Decimal("0.00"),
        limite_adelanto=_limit(rng) if has_limits else Decimal("0.00"),
        fecha_vigencia_compra=date(yy, mm, 28) if has_limits else None,
        fecha_vigencia_adelanto=date(yy, mm, 28) if has_limits and rng.random() < 0.5 else None,
        mcc=mcc,
        cuit=cuit,
    )


def _limit(rng: random.Random) -> Decimal:
    return Decimal(rng.randrange(0, 5_000_000_00, 100)).scaleb(-2)


def iter_coupons(lines: int, *, seed: int = 0, periodo: str = "2404") -> Iterator[Coupon]:
    """The coupons write_dkt() writes for the same `lines`, `seed` and `periodo`, in order."""
    rng = random.Random(seed)
    for index in range(lines):
        yield random_coupon(rng, periodo=periodo, index=index)


def write_dkt(
    out: BinaryIO,
    lines: int,
    *,
    layout: Layout | None = None,
    encoding: str = "cp1252",
    newline: str = "\n",
    seed: int = 0,
    periodo: str = "2404",
    bom: bool = False,
    trailing_blank_line: bool = False,
) -> None:
    """Stream a DKT file of `lines` coupons to `out`, one per line, each ended by `newline`.

    Args:
        layout: the layout of every line; None mixes both, line by line.
        encoding: "cp1252" (what processors emit) or "utf-8" (a re-saved file).
        bom: start with a UTF-8 byte order mark, as Windows editors write.
        trailing_blank_line: end with an empty line, as some files do.
    """
    layouts = random.Random(f"layout:{seed}")
    if bom:
        out.write(UTF8_BOM)
    batch: list[str] = []
    for coupon in iter_coupons(lines, seed=seed, periodo=periodo):
        line_layout = layout or layouts.choice((Layout.CON_CUIT, Layout.SIN_CUIT))
        batch.append(render_line(coupon, line_layout))
        if len(batch) == 1000:
            out.write(_join(batch, newline).encode(encoding))
            batch.clear()
    if batch:
        out.write(_join(batch, newline).encode(encoding))
    if trailing_blank_line:
        out.write(newline.encode(encoding))


def generate_bytes(lines: int, **kwargs: Any) -> bytes:
    """The whole file write_dkt() writes, as bytes (for tests: keep `lines` small)."""
    buffer = io.BytesIO()
    write_dkt(buffer, lines, **kwargs)
    return buffer.getvalue()


def _join(lines: list[str], newline: str) -> str:
    return newline.join(lines) + newline


def _text(value: str | None, width: int) -> str:
    value = value or ""
    if len(value) > width:
        raise ValueError(f"{value!r} does not fit in {width} chars")
    return value.ljust(width)


def _right(value: str, width: int) -> str:
    return _text(value, width).strip().rjust(width)


def _cents(amount: Decimal) -> str:
    cents = amount.scaleb(2)
    if cents != cents.to_integral_value() or cents < 0:
        raise ValueError(f"{amount} is not a non-negative amount in whole cents")
    return _text(f"{int(cents):013d}", 13)


def _ddmmyy(value: date | None) -> str:
    if value is None:
        return "000000"
    if not 2000 <= value.year <= 2099:
        raise ValueError(f"{value} cannot be written as DDMMYY (20YY)")
    return f"{value.day:02d}{value.month:02d}{value.year % 100:02d}"
