"""Parse one line of a DKT card-statement file into a typed coupon or a line error.

Pure: bytes in, values out; no AWS, no I/O, stdlib only. The worker splits the file
on b"\\n", strips a leading UTF8_BOM, decides the encoding once (sniff_encoding on the
first non-ASCII line) and calls parse_line() for every line.

The clear card number (PAN) never leaves parse_line(): a StatementLine holds it
masked plus a keyed hash, and every LineError value is masked before it is built.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Final

from chalicelib.dkt.fields import (
    Invalid,
    LineError,
    amount,
    card_hash,
    date_field,
    installments,
    iso,
    limit,
    mask_pan,
    optional_code,
    optional_date,
)
from chalicelib.dkt.layout import (
    UTF8_BOM,
    Encoding,
    Layout,
    Moneda,
    TipoTransaccion,
)

# cp1252 leaves 0x81 0x8D 0x8F 0x90 0x9D undefined; Latin-1 files use them, so they
# decode as Latin-1 would instead of failing the line.
_CP1252_TABLE: Final = "".join(
    bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(256)
)
_HEAD: Final = 14  # fields 1-14 are the same in both layouts; the description follows
_TAIL_36: Final = 21  # fields after the 35-char description
_TAIL_38: Final = 22  # fields after the 10 + 25 description pieces
_DESC_WIDTH: Final = 35
_DESC_CUT: Final = 10  # layout 38 puts a comma here inside the description
_PERIODOS: Final = frozenset(f"{yy:02d}{mm:02d}" for yy in range(100) for mm in range(1, 13))
_TIPOS: Final = {t.value: t for t in TipoTransaccion}
_MONEDAS: Final = {m.value: m for m in Moneda}
# Enum members are slow to look up on their class in 3.11; the hot path uses these.
_CP1252: Final = Encoding.CP1252
# ASCII control characters (NUL, tab, a lone CR, ESC, DEL...): never in a field of a DKT
# line, whose own CR LF end is cut off before. (Bytes undefined in Windows-1252 still
# decode as Latin-1, C1 controls included: files in the wild carry them in names.)
_CONTROL: Final = re.compile("[\x00-\x1f\x7f]")
_CON_CUIT: Final = Layout.CON_CUIT
_SIN_CUIT: Final = Layout.SIN_CUIT
_DEVOLUCION: Final = TipoTransaccion.DEVOLUCION


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One coupon, typed. Text fields are right-stripped; blank ones are None."""

    line_no: int
    layout: Layout
    empresa: str | None
    codigo_planta: str | None
    codigo_area: str | None
    codigo_sector: str | None
    periodo: str
    cartera: str | None
    tipo_transaccion: TipoTransaccion
    codigo_sucursal: str | None
    grupo_afinidad: str | None
    numero_cuenta: str | None
    codigo_geografico_usuario: str | None
    tarjeta_enmascarada: str
    tarjeta_hash: str
    apellido_nombre_usuario: str | None
    fecha_transaccion: date
    descripcion_cupon: str | None
    cuota: int | None
    cuotas_total: int | None
    numero_cupon: str | None
    moneda: Moneda
    importe: Decimal  # signed: refunds (D) are negative
    tipo_consumo: str | None
    localidad: str | None
    debito_automatico: str | None
    movimiento_cajero: str | None
    grupo_rubro: str | None
    descripcion_rubro: str | None
    codigo_geografico_establecimiento: str | None
    limite_compra: Decimal
    limite_cuotas: Decimal
    limite_adelanto: Decimal
    fecha_vigencia_compra: date | None
    fecha_vigencia_adelanto: date | None
    mcc: str | None  # layout 36 only
    cuit: str | None  # layout 36 only; None when unknown (all zeros)

    def to_record(self) -> dict[str, str | int | None]:
        """Flat, JSON-safe form with camelCase keys (RECORD_FIELDS)."""
        return {
            "lineNo": self.line_no,
            "layout": self.layout.value,
            "empresa": self.empresa,
            "codigoPlanta": self.codigo_planta,
            "codigoArea": self.codigo_area,
            "codigoSector": self.codigo_sector,
            "periodo": self.periodo,
            "cartera": self.cartera,
            "tipoTransaccion": self.tipo_transaccion.value,
            "codigoSucursal": self.codigo_sucursal,
            "grupoAfinidad": self.grupo_afinidad,
            "numeroCuenta": self.numero_cuenta,
            "codigoGeograficoUsuario": self.codigo_geografico_usuario,
            "tarjeta": self.tarjeta_enmascarada,
            "tarjetaHash": self.tarjeta_hash,
            "apellidoNombreUsuario": self.apellido_nombre_usuario,
            "fechaTransaccion": self.fecha_transaccion.isoformat(),
            "descripcionCupon": self.descripcion_cupon,
            "cuota": self.cuota,
            "cuotasTotal": self.cuotas_total,
            "numeroCupon": self.numero_cupon,
            "moneda": self.moneda.value,
            "importe": str(self.importe),
            "tipoConsumo": self.tipo_consumo,
            "localidad": self.localidad,
            "debitoAutomatico": self.debito_automatico,
            "movimientoCajero": self.movimiento_cajero,
            "grupoRubro": self.grupo_rubro,
            "descripcionRubro": self.descripcion_rubro,
            "codigoGeograficoEstablecimiento": self.codigo_geografico_establecimiento,
            "limiteCompra": str(self.limite_compra),
            "limiteCuotas": str(self.limite_cuotas),
            "limiteAdelanto": str(self.limite_adelanto),
            "fechaVigenciaCompra": iso(self.fecha_vigencia_compra),
            "fechaVigenciaAdelanto": iso(self.fecha_vigencia_adelanto),
            "mcc": self.mcc,
            "cuit": self.cuit,
        }


def parse_line(
    raw: bytes, line_no: int, encoding: Encoding, card_key: bytes
) -> StatementLine | LineError | None:
    """Parse one physical line of a DKT file.

    Args:
        raw: the line without its trailing b"\\n" (a trailing b"\\r" is allowed).
        line_no: 1-based line number, carried into the result.
        encoding: the file's encoding, decided once by the caller.
        card_key: secret key of the card number's HMAC-SHA256.

    Returns:
        None for a blank line, else a StatementLine or the line's first LineError.
        Never raises, whatever the bytes.
    """
    if not raw or raw.isspace():
        return None
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    if raw.startswith(UTF8_BOM):
        raw = raw[3:]
    if encoding == _CP1252:
        text = codecs.charmap_decode(raw, "strict", _CP1252_TABLE)[0]
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return LineError(
                line_no,
                None,
                None,
                (
                    f"la línea no es texto UTF-8 válido (byte 0x{raw[exc.start]:02X} en la "
                    f"posición {exc.start + 1}); el archivo se está leyendo como UTF-8"
                ),
            )
    if (control := _CONTROL.search(text)) is not None:
        return _control_error(text, control.start(), line_no)
    parts = text.split(",")
    located = _locate(parts)
    if located is None:
        return _shape_error(parts, line_no)
    try:
        return _statement_line(parts, *located, line_no, card_key)
    except Invalid as exc:
        return exc.line_error(line_no)


def _statement_line(
    parts: list[str], layout: Layout, desc: str, t: int, line_no: int, card_key: bytes
) -> StatementLine:
    """The coupon in `parts`, whose description was resolved and whose tail starts at `t`.

    Raises:
        Invalid: the first field, in file order, that fails validation.
    """
    (
        empresa,
        planta,
        area,
        sector,
        periodo,
        cartera,
        tipo_s,
        sucursal,
        afinidad,
        cuenta,
        geo_usuario,
        pan,
        nombre,
        fecha_s,
    ) = parts[:_HEAD]
    if periodo not in _PERIODOS:
        raise Invalid("periodo", periodo, "período inválido: {} no es un período YYMM")
    tipo = _TIPOS.get(tipo_s)
    if tipo is None:
        raise Invalid(
            "tipoTransaccion",
            tipo_s,
            "tipo de transacción inválido: {} no es C (compra), D (devolución) ni A (adelanto)",
        )
    if len(pan) != 16 or not (pan.isdigit() and pan.isascii()):
        raise Invalid(
            "numeroTarjeta", mask_pan(pan), "número de tarjeta inválido: {} no son 16 dígitos"
        )
    fecha = date_field("fechaTransaccion", fecha_s)

    (
        cupon,
        moneda_s,
        importe_s,
        consumo,
        localidad,
        debito,
        cajero,
        rubro,
        rubro_desc,
        geo_estab,
        compra_s,
        cuotas_s,
        adelanto_s,
    ) = parts[t : t + 13]
    moneda = _MONEDAS.get(moneda_s)
    if moneda is None:
        raise Invalid("moneda", moneda_s, "moneda inválida: {} no es ARP ni USD")
    importe = amount("importe", importe_s)
    if tipo is _DEVOLUCION and importe:
        importe = importe.copy_negate()
    limite_compra = limit("limiteCompra", compra_s)
    limite_cuotas = limit("limiteCuotas", cuotas_s)
    limite_adelanto = limit("limiteAdelanto", adelanto_s)
    if layout is _CON_CUIT:
        vig_compra_s, vig_adelanto_s, _, mcc_s, cuit_s = parts[t + 13 : t + 18]
        vig_compra = optional_date("fechaVigenciaCompra", vig_compra_s)
        vig_adelanto = optional_date("fechaVigenciaAdelanto", vig_adelanto_s)
        mcc = optional_code("mcc", mcc_s, 4, "código MCC inválido: {} no son 4 dígitos")
        cuit = optional_code("cuit", cuit_s, 13, "CUIT inválido: {} no son 13 dígitos")
    else:
        vig_compra = vig_adelanto = None
        mcc = cuit = None

    desc = desc.rstrip()
    cuota, cuotas_total = installments(desc)
    return StatementLine(
        line_no,
        layout,
        empresa.strip() or None,
        planta.strip() or None,
        area.strip() or None,
        sector.strip() or None,
        periodo,
        cartera.strip() or None,
        tipo,
        sucursal.strip() or None,
        afinidad.strip() or None,
        cuenta.strip() or None,
        geo_usuario.strip() or None,
        f"{pan[:6]}******{pan[12:]}",
        card_hash(card_key, pan),
        nombre.rstrip() or None,
        fecha,
        desc or None,
        cuota,
        cuotas_total,
        cupon.strip() or None,
        moneda,
        importe,
        consumo.strip() or None,
        localidad.rstrip() or None,
        debito.strip() or None,
        cajero.strip() or None,
        rubro.strip() or None,
        rubro_desc.rstrip() or None,
        geo_estab.strip() or None,
        limite_compra,
        limite_cuotas,
        limite_adelanto,
        vig_compra,
        vig_adelanto,
        mcc,
        cuit,
    )


def _locate(parts: list[str]) -> tuple[Layout, str, int] | None:
    """Layout, description and index of the field after it; None if the shape is unknown.

    A comma inside the merchant text adds a field; the fixed widths put it back: the
    pieces plus their commas are 35 chars in layout 36 and 10 + "," + 25 in layout 38.
    When no comma needs resolving, a description shorter than its width (trimmed padding)
    is accepted: nothing after it can shift.
    """
    n = len(parts)
    if n == 36 and len(parts[_HEAD]) <= _DESC_WIDTH:
        return _CON_CUIT, parts[_HEAD], _HEAD + 1
    if n >= 38:
        desc = ",".join(parts[_HEAD : n - _TAIL_38])
        if len(desc) == _DESC_WIDTH + 1 and desc[_DESC_CUT] == ",":
            return _SIN_CUIT, desc[:_DESC_CUT] + desc[_DESC_CUT + 1 :], n - _TAIL_38
    if n >= 37:
        desc = ",".join(parts[_HEAD : n - _TAIL_36])
        if len(desc) == _DESC_WIDTH:
            return _CON_CUIT, desc, n - _TAIL_36
    if n == 38 and len(parts[_HEAD]) == _DESC_CUT and len(parts[_HEAD + 1]) < 25:
        return _SIN_CUIT, parts[_HEAD] + parts[_HEAD + 1], _HEAD + 2
    return None


def _control_error(text: str, position: int, line_no: int) -> LineError:
    field = text.count(",", 0, position) + 1
    return LineError(
        line_no,
        None,
        None,
        f"la línea tiene un carácter de control (0x{ord(text[position]):02X}) en la "
        f"posición {position + 1} (campo {field}); los campos DKT son solo texto",
    )


def _shape_error(parts: list[str], line_no: int) -> LineError:
    n = len(parts)
    if n == 36:
        desc = parts[_HEAD]
        return Invalid(
            "descripcionCupon",
            desc,
            f"descripción con ancho inválido: {{}} tiene {len(desc)} caracteres; se esperaban 35",
        ).line_error(line_no)
    if n == 38:
        first, rest = parts[_HEAD], parts[_HEAD + 1]
        return Invalid(
            "descripcionCupon",
            f"{first},{rest}",
            f"descripción con ancho inválido: {{}} tiene {len(first)} + {len(rest)} "
            "caracteres; se esperaban 10 + 25",
        ).line_error(line_no)
    return LineError(line_no, None, None, f"la línea tiene {n} campos; se esperaban 36 o 38")
