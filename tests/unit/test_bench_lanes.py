"""The bench's projected clock overlaps concurrent batch writes as a bounded pool would."""

from __future__ import annotations

import pytest

from bench.aws_model import VirtualClock, lanes_start_bounded


def _latencies(clock: VirtualClock, seconds: list[float]) -> list[object]:
    return [lambda s=s: clock.add(s) for s in seconds]


@pytest.mark.parametrize(
    ("latencies", "limit", "expected"),
    [
        ([0.010] * 4, 4, 0.010),  # one chunk's four batches, four in flight
        ([0.010] * 5, 4, 0.020),  # a fifth waits for a lane
        ([0.010] * 4, 1, 0.040),  # one in flight: the sum
        ([0.030, 0.010, 0.010, 0.010], 2, 0.030),  # the short ones share the other lane
    ],
)
def test_the_clock_moves_by_the_longest_lane(
    latencies: list[float], limit: int, expected: float
) -> None:
    clock = VirtualClock()
    lanes_start_bounded(clock)(_latencies(clock, latencies), limit).wait()  # type: ignore[arg-type]
    assert clock.added() == pytest.approx(expected, abs=1e-4)  # less the real time between


def test_a_failed_batch_stops_the_rest_and_its_time_still_counts() -> None:
    clock = VirtualClock()
    ran: list[int] = []

    def failing() -> None:
        clock.add(0.010)
        raise RuntimeError("throttled for good")

    def later() -> None:
        ran.append(1)

    with pytest.raises(RuntimeError):
        lanes_start_bounded(clock)([failing, later], 4).wait()
    assert ran == []
    assert clock.added() == pytest.approx(0.010, abs=1e-4)


def test_the_callers_work_meanwhile_overlaps_the_writes_in_flight() -> None:
    clock = VirtualClock()
    pending = lanes_start_bounded(clock)(_latencies(clock, [0.010] * 4), 4)  # type: ignore[arg-type]
    assert clock.added() == pytest.approx(0.0, abs=1e-4)  # sent, not yet waited for
    clock.add(0.004)  # the next chunk's parsing, shorter than the writes
    pending.wait()
    # The clock also runs in real time between send and wait (~0.2 ms, more on a loaded
    # machine): what is checked is 10 ms in all, not 14 (no overlap) nor 6.
    assert clock.added() == pytest.approx(0.010, abs=1.5e-3)
    pending = lanes_start_bounded(clock)(_latencies(clock, [0.010] * 4), 4)  # type: ignore[arg-type]
    clock.add(0.015)  # longer than the writes: they end while it runs
    pending.wait()
    assert clock.added() == pytest.approx(0.025, abs=1e-4)
