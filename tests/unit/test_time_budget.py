"""The worker's time budget: another chunk starts only if twice the slowest one still fits
before the safety margin."""

from __future__ import annotations

from fakes import LambdaTime

from chalicelib.engine.runner import TimeBudget

MARGIN_MS = 5_000


def run_chunk(budget: TimeBudget, clock: LambdaTime, ms: int) -> int:
    budget.chunk_started()
    clock.spend(ms)
    return budget.chunk_finished()


def test_before_any_chunk_only_the_margin_counts() -> None:
    assert TimeBudget(LambdaTime(MARGIN_MS + 1), MARGIN_MS).allows_another_chunk()
    assert not TimeBudget(LambdaTime(MARGIN_MS), MARGIN_MS).allows_another_chunk()


def test_a_chunk_reports_the_time_it_took() -> None:
    clock = LambdaTime(60_000)
    budget = TimeBudget(clock, MARGIN_MS)
    assert run_chunk(budget, clock, 1_200) == 1_200
    assert budget.chunk_finished() == 0  # no chunk running: nothing more to count


def test_another_chunk_fits_while_twice_the_slowest_is_left_above_the_margin() -> None:
    # GIVEN a chunk that took 1 s
    clock = LambdaTime(60_000)
    budget = TimeBudget(clock, MARGIN_MS)
    run_chunk(budget, clock, 1_000)
    # THEN with 7.001 s left (2 s for the chunk, 5 s of margin) another one fits...
    clock.remaining = MARGIN_MS + 2_000 + 1
    assert budget.allows_another_chunk()
    # ...and with exactly 7 s it does not
    clock.remaining = MARGIN_MS + 2_000
    assert not budget.allows_another_chunk()


def test_the_slowest_chunk_sets_the_pace_not_the_latest() -> None:
    # GIVEN a slow chunk (3 s) followed by a fast one (0.5 s)
    clock = LambdaTime(60_000)
    budget = TimeBudget(clock, MARGIN_MS)
    run_chunk(budget, clock, 3_000)
    run_chunk(budget, clock, 500)
    # WHEN 10 s are left: 2 x 0.5 s would fit, 2 x 3 s + margin (11 s) does not
    clock.remaining = 10_000
    assert not budget.allows_another_chunk()


def test_an_invocation_runs_chunks_until_the_budget_says_stop() -> None:
    # GIVEN a 15 s invocation whose chunks take 2 s each
    clock = LambdaTime(15_000)
    budget = TimeBudget(clock, MARGIN_MS)
    chunks = 0
    # WHEN the worker loop runs as the engine's does
    while True:
        run_chunk(budget, clock, 2_000)
        chunks += 1
        if not budget.allows_another_chunk():
            break
    # THEN it stopped with the margin intact: 15 - 3 x 2 = 9 s left, and 9 - 4 < 5
    assert chunks == 3
    assert clock.remaining == 9_000
    assert clock.remaining > MARGIN_MS
