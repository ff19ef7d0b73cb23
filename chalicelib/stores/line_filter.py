"""Which lines of a lote a finance user is looking for: holder, card, merchant, rule, amount.

Lines are stored deflated (models.py), so DynamoDB cannot filter them: the API reads the
lote in file order and keeps the lines that match, a bounded number of lines per request
(`lotes.lines_page`), and the page asks for more from where the last request stopped.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from chalicelib.core.models import Line


def folded(text: str) -> str:
    """`text` compared as a reader would: no case, no accents ("Pérez" finds "PEREZ")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


@dataclass(frozen=True)
class LineFilter:
    """All the criteria a line must meet; an unset criterion accepts every line."""

    holder: str | None = None  # part of apellidoNombreUsuario
    card_last4: str | None = None  # the masked card's last four digits
    merchant: str | None = None  # part of descripcionCupon
    rule: str | None = None  # the name of a rule that fired on the line
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None

    @property
    def is_empty(self) -> bool:
        return self == LineFilter()

    def matches(self, line: Line) -> bool:
        record = line.record
        return (
            _contains(record.get("apellidoNombreUsuario"), self.holder)
            and _contains(record.get("descripcionCupon"), self.merchant)
            and (
                self.card_last4 is None
                or str(record.get("tarjeta") or "").endswith(self.card_last4)
            )
            and (self.rule is None or self.rule in line.rules_fired)
            and self._amount_in_range(record.get("importe"))
        )

    def _amount_in_range(self, value: object) -> bool:
        if self.amount_min is None and self.amount_max is None:
            return True
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            return False  # a rule may have written text over the amount: not in any range
        if not amount.is_finite():
            return False
        return (self.amount_min is None or amount >= self.amount_min) and (
            self.amount_max is None or amount <= self.amount_max
        )


def _contains(value: object, part: str | None) -> bool:
    return part is None or folded(part) in folded(str(value or ""))
