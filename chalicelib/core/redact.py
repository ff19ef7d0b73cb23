"""Secrets out of any text that leaves the service: card numbers, tokens, AWS keys.

One function, applied where text leaves: every API error message (api/errors.py) and
every log line, ours and the libraries' (core/observability.py). A card number is any
run of 13 to 19 digits, optionally grouped by spaces or dashes, that passes the Luhn
check; it is shown by its last four digits only. A run that fails Luhn (an amount, a
timestamp, a CUIT) is left as it is.
"""

from __future__ import annotations

import re
from typing import Final

_CARD_RUN: Final = re.compile(r"(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])")
# A JWT (three base64url parts, the first a JSON header), a bearer credential, AWS keys.
_SECRETS: Final = (
    re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"),
    re.compile(r"(?i)(bearer\s+)[^\s\"',;]+"),
    re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])"),
    re.compile(r"(?i)(x-amz-(?:signature|security-token|credential)=)[^&\s\"']+"),
)


def luhn_valid(digits: str) -> bool:
    """Whether a string of ASCII digits passes the Luhn check (as every card number does)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def card_numbers(text: str) -> list[str]:
    """The card numbers in `text`, as digit strings."""
    found = []
    for match in _CARD_RUN.finditer(text):
        digits = re.sub(r"[ -]", "", match.group())
        if luhn_valid(digits):
            found.append(digits)
    return found


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"[ -]", "", match.group())
    return "*" * (len(digits) - 4) + digits[-4:] if luhn_valid(digits) else match.group()


def _mask_secret(match: re.Match[str]) -> str:
    prefix = match.group(1) if match.re.groups else ""
    return f"{prefix}[redactado]"


def redact(text: str) -> str:
    """`text` with every card number masked and every token or key removed."""
    text = _CARD_RUN.sub(_mask_card, text)
    for pattern in _SECRETS:
        text = pattern.sub(_mask_secret, text)
    return text
