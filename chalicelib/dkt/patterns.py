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


@functools.lru_cache(maxsize=256)
def compile_user_pattern(pattern: str, *, fold_accents: bool) -> Any:
    """`pattern` compiled by RE2, case-insensitive (and without accents if `fold_accents`)."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise InvalidPattern(f"expresión regular de más de {MAX_PATTERN_LENGTH} caracteres")
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False  # RE2 would print the pattern on stderr, i.e. into the logs
    options.max_mem = PATTERN_MEMORY_BYTES
    try:
        return re2.compile(strip_accents(pattern) if fold_accents else pattern, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else ""
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise InvalidPattern(f"expresión regular inválida o no admitida: {reason}") from exc
