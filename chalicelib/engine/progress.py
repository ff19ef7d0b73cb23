"""Progress, rows/s and ETA: the arithmetic behind what the user watches, kept pure.

A job's bar runs 0-99 while it works and reaches 100 only with its completion, and
it never goes back. An import spends the first `VALIDATE_SHARE` percent validating
(parsing only, much faster than importing) and the rest importing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

VALIDATE_SHARE = 10
WORKING_MAX = 99
# Elapsed time is floored: two chunks within the same clock tick would divide by zero.
MIN_ELAPSED_S = 0.001


def never_below(new: int, shown: int) -> int:
    """The progress to show after a chunk that computed `new`, when `shown` is on screen."""
    return max(new, shown)


def share(done: int, total: int) -> int:
    """0-99: how much of `total` is `done`, for a job that has a single phase."""
    return min(WORKING_MAX, done * 100 // max(total, 1))


def validating(position: int, size: int) -> int:
    """0-10: validation has read `position` bytes of a `size`-byte file."""
    return min(VALIDATE_SHARE, VALIDATE_SHARE * position // max(size, 1))


def importing(processed: int, total: int) -> int:
    """10-99: `processed` of the file's `total` lines are imported."""
    return min(
        WORKING_MAX,
        VALIDATE_SHARE + (WORKING_MAX - VALIDATE_SHARE) * processed // max(total, 1),
    )


@dataclass(frozen=True)
class Throughput:
    """How fast a job goes and when it should end, as of one chunk."""

    rows_per_second: float
    eta_seconds: int | None


def throughput(processed: int, total: int, started: datetime, now: datetime) -> Throughput:
    """`processed` of `total` rows done between `started` and `now`. No ETA until a row
    is done: a rate of zero says nothing about the end."""
    elapsed = max((now - started).total_seconds(), MIN_ELAPSED_S)
    rate = processed / elapsed
    eta = round((total - processed) / rate) if rate > 0 else None
    return Throughput(rows_per_second=rate, eta_seconds=eta)
