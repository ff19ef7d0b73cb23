"""Text and numbers as rules read them: accents folded, decimals exact."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


def strip_accents(text: str) -> str:
    """'Peña Ñandú' -> 'Pena Nandu': accents compare as their base letters."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def as_number(text: str) -> Decimal | None:
    """A plain decimal number ('1850.50', '-3'), or None for anything else."""
    text = text.strip()
    return Decimal(text) if _NUMBER.fullmatch(text) else None
