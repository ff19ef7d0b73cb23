"""Pure DKT handling: the file's layout, the line parser, and the business-rules engine.

No AWS, no PynamoDB: bytes and dicts in, values out. The parser's public names are
re-exported here (`from chalicelib import dkt; dkt.parse_line(...)`).
"""

from chalicelib.dkt.fields import LineError, mask_pan
from chalicelib.dkt.layout import (
    RECORD_FIELDS,
    UTF8_BOM,
    Encoding,
    Layout,
    Moneda,
    TipoTransaccion,
    sniff_encoding,
)
from chalicelib.dkt.parser import StatementLine, parse_line
from chalicelib.dkt.sniff import HEAD_BYTES, not_a_dkt

__all__ = [
    "HEAD_BYTES",
    "RECORD_FIELDS",
    "UTF8_BOM",
    "Encoding",
    "Layout",
    "LineError",
    "Moneda",
    "StatementLine",
    "TipoTransaccion",
    "mask_pan",
    "not_a_dkt",
    "parse_line",
    "sniff_encoding",
]
