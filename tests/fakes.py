"""Hand-written fakes of what the code takes injected: the clock, ids, the Lambda's time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(2024, 4, 1, 12, 0, tzinfo=UTC)


class StepClock:
    """A clock that stands still until the test moves it."""

    def __init__(self, start: datetime = EPOCH) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)


class CountingIds:
    """Ids `prefix-1`, `prefix-2`, ...: predictable, and still unique within a test."""

    def __init__(self, prefix: str = "job") -> None:
        self._prefix = prefix
        self.issued: list[str] = []

    def __call__(self) -> str:
        self.issued.append(f"{self._prefix}-{len(self.issued) + 1}")
        return self.issued[-1]


class LambdaTime:
    """A Lambda's `get_remaining_time_in_millis` that the test spends by hand."""

    def __init__(self, remaining_ms: int) -> None:
        self.remaining = remaining_ms

    def __call__(self) -> int:
        return self.remaining

    def spend(self, ms: int) -> None:
        self.remaining -= ms
