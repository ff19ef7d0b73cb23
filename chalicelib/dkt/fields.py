"""Field values of a DKT line: dates, amounts, codes, installments, and the card number
kept only masked plus a keyed hash. Pure, stdlib only.

A converter raises `Invalid` naming the field; the parser turns it into a LineError.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Final

_ZERO_CENTS: Final = "0" * 13
_ZERO: Final = Decimal("0.00")
# A card number anywhere in an error value: 13+ digits not starting with 0 (amounts
# and CUITs are zero padded, so they stay readable).
_PAN_LIKE: Final = re.compile(r"[1-9][0-9]{12,}")


@dataclass(frozen=True, slots=True)
class LineError:
    """A line that cannot be imported, said for a finance user.

    `value` is what was read, with anything that looks like a card number masked;
    it is None for whole-line errors, which never echo the line (it holds a PAN).
    """

    line_no: int
    field: str | None
    value: str | None
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {
            "lineNo": self.line_no,
            "field": self.field,
            "value": self.value,
            "reason": self.reason,
        }


class Invalid(Exception):
    """A field failed validation; parse_line() turns it into a LineError."""

    def __init__(self, field: str, value: str, reason: str) -> None:
        super().__init__(field)
        self.field, self.value, self.reason = field, value, reason

    def line_error(self, line_no: int) -> LineError:
        # A shifted or garbled line can put a card number in any field: mask it here too.
        shown = _PAN_LIKE.sub(mask_match, self.value)
        return LineError(line_no, self.field, shown, self.reason.format(shown))


def date_field(field: str, value: str) -> date:
    parsed = ddmmyy(value) if len(value) == 6 else None
    if parsed is None:
        raise Invalid(field, value, "fecha inválida: {} no es una fecha DDMMYY")
    return parsed


def optional_date(field: str, value: str) -> date | None:
    """A DDMMYY date, or None when the field is blank or zeros."""
    return None if value == "000000" or unset(value) else date_field(field, value)


@lru_cache(maxsize=4096)
def ddmmyy(value: str) -> date | None:
    if not (value.isdigit() and value.isascii()):
        return None
    try:
        return date(2000 + int(value[4:6]), int(value[2:4]), int(value[0:2]))
    except ValueError:
        return None


def amount(field: str, value: str) -> Decimal:
    """13 digits of cents, as an exact Decimal with 2 places."""
    if value == _ZERO_CENTS:
        return _ZERO
    if len(value) != 13 or not (value.isdigit() and value.isascii()):
        raise Invalid(
            field, value, "importe inválido: {} no es un importe de 13 dígitos en centavos"
        )
    return Decimal(value).scaleb(-2)


def limit(field: str, value: str) -> Decimal:
    """An exception limit: an amount, or zero when the field is blank."""
    return _ZERO if not value or value.isspace() else amount(field, value)


def optional_code(field: str, value: str, width: int, reason: str) -> str | None:
    """A code of `width` digits, or None when the field is blank or zeros (unknown)."""
    if unset(value):
        return None
    if len(value) != width or not (value.isdigit() and value.isascii()):
        raise Invalid(field, value, reason)
    return value


def unset(value: str) -> bool:
    return not value.strip(" 0")


def installments(desc: str) -> tuple[int | None, int | None]:
    """Installment n of m from a trailing "C.nn/mm" in the description."""
    if desc[-7:-5] == "C." and desc[-3:-2] == "/":
        cuota, total = desc[-5:-3], desc[-2:]
        if cuota.isdigit() and total.isdigit() and cuota.isascii() and total.isascii():
            return int(cuota), int(total)
    return None, None


def card_hash(card_key: bytes, pan: str) -> str:
    mac = keyed_sha256(card_key).copy()
    mac.update(pan.encode("ascii"))
    return mac.hexdigest()


@lru_cache(maxsize=8)
def keyed_sha256(card_key: bytes) -> hmac.HMAC:
    """HMAC-SHA256 already keyed: copying it is cheaper than keying it again per line."""
    return hmac.new(card_key, digestmod="sha256")


def mask_match(match: re.Match[str]) -> str:
    return mask_pan(match.group())


def mask_pan(value: str) -> str:
    """First 6 and last 4 as PCI DSS allows; shorter values keep at most their last 4."""
    if len(value) >= 13:
        return value[:6] + "*" * (len(value) - 10) + value[-4:]
    if len(value) > 4:
        return "*" * (len(value) - 4) + value[-4:]
    return "*" * len(value)


def iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()
