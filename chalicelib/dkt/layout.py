"""The DKT file's vocabulary: layouts, encodings, coupon kinds, currencies, record fields.

Pure, stdlib only. See ../shared/DKT_FORMAT.md for the format and its traps.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Encoding(StrEnum):
    """Text encoding of a whole DKT file."""

    UTF8 = "utf-8"
    CP1252 = "cp1252"


class Layout(StrEnum):
    """The two DKT layouts, named by their field count."""

    CON_CUIT = "36"
    SIN_CUIT = "38"


class TipoTransaccion(StrEnum):
    """Kind of coupon: purchase, refund (negative amount) or cash advance."""

    COMPRA = "C"
    DEVOLUCION = "D"
    ADELANTO = "A"


class Moneda(StrEnum):
    """Currency of a coupon."""

    ARP = "ARP"
    USD = "USD"


UTF8_BOM: Final = b"\xef\xbb\xbf"

RECORD_FIELDS: Final = frozenset(
    {
        "lineNo",
        "layout",
        "empresa",
        "codigoPlanta",
        "codigoArea",
        "codigoSector",
        "periodo",
        "cartera",
        "tipoTransaccion",
        "codigoSucursal",
        "grupoAfinidad",
        "numeroCuenta",
        "codigoGeograficoUsuario",
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
        "tipoConsumo",
        "localidad",
        "debitoAutomatico",
        "movimientoCajero",
        "grupoRubro",
        "descripcionRubro",
        "codigoGeograficoEstablecimiento",
        "limiteCompra",
        "limiteCuotas",
        "limiteAdelanto",
        "fechaVigenciaCompra",
        "fechaVigenciaAdelanto",
        "mcc",
        "cuit",
    }
)


def sniff_encoding(raw: bytes) -> Encoding | None:
    """Encoding a raw line reveals: None if pure ASCII; UTF8 if it decodes strictly as UTF-8;
    else CP1252."""
    if raw.isascii():
        return None
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return Encoding.CP1252
    return Encoding.UTF8
