"""Regular expressions written by users (REGEX conditions, EXTRACT_REGEX actions).

A user's pattern runs on every line of every import, so it must not be able to stall a
worker: patterns are RE2 regexps, matched in time linear in the text whatever the
pattern (no backtracking: `(a+)+$` costs what `a+$` does). What only backtracking can
do (backreferences, lookaround) is refused when the rule is stored, with the reason.
"""

from __future__ import annotations

import functools
from typing import Any

import re2

from chalicelib.dkt.text import strip_accents

MAX_PATTERN_LENGTH = 500
# RE2's budget for one compiled pattern; a pattern that needs more is refused.
PATTERN_MEMORY_BYTES = 1 << 20


class InvalidPattern(ValueError):
    """A pattern RE2 cannot compile; the message is Spanish, for the user."""


class UserPattern:
    """A compiled RE2 pattern, searched in any `str` (RE2 reads UTF-8: a lone surrogate,
    which JSON can carry, is searched as U+FFFD instead of raising)."""

    __slots__ = ("_compiled", "groupindex", "groups")

    def __init__(self, compiled: Any) -> None:
        self._compiled = compiled
        self.groups: int = compiled.groups
        self.groupindex: dict[str, int] = dict(compiled.groupindex)

    def search(self, text: str) -> Any:
        try:
            return self._compiled.search(text)
        except UnicodeEncodeError:
            return self._compiled.search(text.encode("utf-8", "replace").decode("utf-8"))


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
