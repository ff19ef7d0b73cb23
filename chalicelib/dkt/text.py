"""Text and numbers as rules read them (accents folded, decimals exact), and a caller's
text as an error message quotes it."""

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


# What a message may quote of a caller's text: enough to recognise it, never a wall of it.
QUOTE_LIMIT = 64


_DIGIT_RUN = re.compile(r"[0-9](?:[ -]?[0-9])*")


def clipped(text: str, limit: int = QUOTE_LIMIT) -> str:
    """A caller's name (a rule code, a table) as a message shows it, cut at `limit`.

    Never inside a run of digits: the head of a card number cut short is no longer a
    card number to the redaction that runs after (core/redact.py), but still its digits.
    """
    if len(text) <= limit:
        return text
    cut = limit - 1
    for run in _DIGIT_RUN.finditer(text, 0, cut + 1):
        if run.start() < cut < run.end():
            cut = run.start()
    return f"{text[:cut]}…"


def quoted(value: object, limit: int = QUOTE_LIMIT) -> str:
    """A caller's value as an error message shows it: repr'd, cut at `limit` characters."""
    return clipped(repr(value), limit)
