"""Progress, rows/s and ETA as the user sees them, against a clock that stands still."""

from __future__ import annotations

from fakes import StepClock

from chalicelib.engine import progress


def test_validation_fills_the_first_tenth_of_the_bar() -> None:
    size = 1_000_000
    assert progress.validating(0, size) == 0
    assert progress.validating(size // 2, size) == 5
    assert progress.validating(size, size) == progress.VALIDATE_SHARE == 10


def test_importing_runs_from_ten_to_ninety_nine_and_never_reaches_a_hundred() -> None:
    total = 18_000
    assert progress.importing(0, total) == 10
    assert progress.importing(9_000, total) == 10 + 89 * 9_000 // total == 54
    assert progress.importing(total - 1, total) == 98
    # 100 belongs to the completion, which sets it together with COMPLETED.
    assert progress.importing(total, total) == 99


def test_a_whole_import_never_goes_down_and_stays_below_a_hundred() -> None:
    # GIVEN a file read in validation chunks, then imported 100 lines at a time
    size, total = 3_000_000, 18_000
    readings = [progress.validating(position, size) for position in range(0, size, 250_000)]
    readings += [progress.importing(done, total) for done in range(0, total + 1, 100)]
    # WHEN each chunk's reading is shown the way the engine records it
    shown: list[int] = []
    for reading in readings:
        shown.append(progress.never_below(reading, shown[-1] if shown else 0))
    # THEN the bar only moves forward, within 0-99
    assert shown == sorted(shown)
    assert shown[0] == 0
    assert shown[-1] == 99
    assert all(0 <= value <= 99 for value in shown)


def test_a_smaller_reading_does_not_move_the_bar_back() -> None:
    assert progress.never_below(40, 55) == 55
    assert progress.never_below(60, 55) == 60


def test_single_phase_jobs_share_the_bar_up_to_ninety_nine() -> None:
    assert progress.share(0, 500) == 0
    assert progress.share(250, 500) == 50
    assert progress.share(500, 500) == 99
    assert progress.share(10, 0) == 99  # an unknown total does not divide by zero


def test_rows_per_second_and_eta_for_a_known_elapsed_time() -> None:
    # GIVEN an import that started 10 s ago and has done 1.000 of 18.000 lines
    clock = StepClock()
    started = clock.now()
    clock.advance(10)
    # WHEN its pace is computed
    pace = progress.throughput(1_000, 18_000, started, clock.now())
    # THEN it runs at 100 lines/s and needs 170 s more
    assert pace.rows_per_second == 100.0
    assert pace.eta_seconds == 170


def test_the_eta_shrinks_as_the_import_keeps_its_pace() -> None:
    clock = StepClock()
    started = clock.now()
    etas = []
    for done in (2_000, 4_000, 6_000):
        clock.advance(10)
        etas.append(progress.throughput(done, 6_000, started, clock.now()).eta_seconds)
    assert etas == [20, 10, 0]


def test_the_first_chunk_has_no_eta_until_a_line_is_done() -> None:
    clock = StepClock()
    started = clock.now()
    clock.advance(2)
    pace = progress.throughput(0, 18_000, started, clock.now())
    assert pace.rows_per_second == 0
    assert pace.eta_seconds is None


def test_a_chunk_in_the_same_clock_tick_as_the_start_does_not_divide_by_zero() -> None:
    clock = StepClock()
    pace = progress.throughput(100, 200, clock.now(), clock.now())
    assert pace.rows_per_second == 100 / progress.MIN_ELAPSED_S
    assert pace.eta_seconds == 0
