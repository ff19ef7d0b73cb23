"""Regular expressions written by users (REGEX conditions, EXTRACT_REGEX actions).

A user's pattern runs on every line of every import, so it must not be able to stall a
worker: patterns are RE2 regexps, matched in time linear in the text whatever the
pattern (no backtracking: `(a+)+$` costs what `a+$` does). What only backtracking can
do (backreferences, lookaround) is refused when the rule is stored, with the reason.

Matching calls the binding's `RE2.Match` on the UTF-8 bytes of the text. The `re2`
module's own `search` builds a match object with offsets converted back to characters
(3-4 us a match, against 0.5 for `re`); a condition needs only yes or no, and an
extraction one group's bytes, which `Match` gives at about the cost of `re`.
"""

from __future__ import annotations

import functools
from typing import Any

import re2

from chalicelib.dkt.text import strip_accents

MAX_PATTERN_LENGTH = 500
# RE2's budget for one compiled pattern; a pattern that needs more is refused.
PATTERN_MEMORY_BYTES = 1 << 20

_UNANCHORED = re2._Anchor.UNANCHORED
_NO_MATCH = -1


class InvalidPattern(ValueError):
    """A pattern RE2 cannot compile; the message is Spanish, for the user."""


def _utf8(text: str) -> bytes:
    # A lone surrogate (JSON can carry one) cannot be UTF-8: it is searched as "?".
    return text.encode("utf-8", "replace")


class UserPattern:
    """A compiled RE2 pattern, case-insensitive, searched anywhere in a `str`."""

    __slots__ = ("_match", "groupindex", "groups")

    def __init__(self, compiled: Any) -> None:
        self._match = compiled._regexp.Match
        self.groups: int = compiled.groups
        self.groupindex: dict[str, int] = dict(compiled.groupindex)

    def found(self, text: str) -> bool:
        """Whether the pattern matches somewhere in `text`."""
        data = _utf8(text)
        start: int = self._match(_UNANCHORED, data, 0, len(data))[0][0]
        return start != _NO_MATCH

    def captured(self, text: str, group: int | str) -> str | None:
        """What `group` (a number, 0 for the whole match, or a name) captured at the first
        match in `text`; None if there is no match or the group took no part in it."""
        data = _utf8(text)
        spans = self._match(_UNANCHORED, data, 0, len(data))
        start, end = spans[self.groupindex[group] if isinstance(group, str) else group]
        return None if start == _NO_MATCH else data[start:end].decode("utf-8", "replace")


@functools.lru_cache(maxsize=256)
def compile_user_pattern(pattern: str, *, fold_accents: bool) -> UserPattern:
    """`pattern` compiled by RE2, case-insensitive (and without accents if `fold_accents`)."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise InvalidPattern(f"expresión regular de más de {MAX_PATTERN_LENGTH} caracteres")
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False  # RE2 would print the pattern on stderr, i.e. into the logs
    options.max_mem = PATTERN_MEMORY_BYTES
    try:
        return UserPattern(
            re2.compile(strip_accents(pattern) if fold_accents else pattern, options)
        )
    except UnicodeEncodeError as exc:
        raise InvalidPattern("expresión regular con caracteres inválidos") from exc
    except re2.error as exc:
        reason = exc.args[0] if exc.args else ""
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise InvalidPattern(f"expresión regular inválida o no admitida: {reason}") from exc
