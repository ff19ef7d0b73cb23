"""How a statement line is stored: compact enough to cost one write unit (under 1 KB).

DynamoDB counts an item's attribute names and values against the 1 KB write unit. A
line's record as JSON with its field names is ~1.2 KB; its values alone, in a fixed
field order and deflated, are about a third of that.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from pynamodb.attributes import Attribute
from pynamodb.constants import BINARY

# The fields of a parsed line in the order the parser emits them (`to_record`). A stored
# record keeps their values without their names; never reorder: stored lines depend on it.
# A field not listed here (one added later, or set by a rule) is stored with its name.
STORED_RECORD_FIELDS: tuple[str, ...] = (
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
)
_COMPACT_V1 = b"\x01"


def _deflate(value: Any) -> bytes:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    # Raw deflate (no zlib header): its checksum is DynamoDB's job; six bytes a line saved.
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    return _COMPACT_V1 + packer.compress(text.encode()) + packer.flush()


def _inflate(blob: bytes) -> Any:
    if blob[:1] != _COMPACT_V1:
        raise ValueError(f"unknown stored line format {blob[:1]!r}")
    return json.loads(zlib.decompress(blob[1:], -15))


class CompactJSONAttribute(Attribute[Any]):
    """A JSON value stored deflated in a Binary attribute: what a stored line costs is
    counted in write units per KB, and its text compresses to about a third."""

    attr_type = BINARY

    def serialize(self, value: Any) -> bytes:
        return _deflate(value)

    def deserialize(self, value: bytes) -> Any:
        return _inflate(value)


class CompactRecordAttribute(CompactJSONAttribute):
    """A line's record: the values of STORED_RECORD_FIELDS in order, then any other field
    by name. Decoded, it is the same dict, keys in the same order."""

    def serialize(self, value: Any) -> bytes:
        record: dict[str, Any] = dict(value)
        count = len(STORED_RECORD_FIELDS)
        if tuple(record)[:count] != STORED_RECORD_FIELDS:
            return _deflate([None, record])  # not a parsed line's shape: kept whole
        values = list(record.values())
        return _deflate(
            [values[:count], dict(zip(list(record)[count:], values[count:], strict=True))]
        )

    def deserialize(self, value: bytes) -> Any:
        values, others = _inflate(value)
        if values is None:
            return others
        return {**dict(zip(STORED_RECORD_FIELDS, values, strict=True)), **others}
