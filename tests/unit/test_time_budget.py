"""The worker's time budget: another chunk starts only if twice the slowest one still fits
before the safety margin."""

from __future__ import annotations

from fakes import LambdaTime

from chalicelib.engine.runner import MARGIN_FLOOR_MS, TimeBudget, safety_margin_ms

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


# The margin as a share of the time an invocation starts with (defaults: 10%, capped at 10 s).
SHARE, CAP_MS = 0.1, 10_000


def chunks_until_stop(budget_ms: int, chunk_ms: int) -> tuple[int, int]:
    """Runs the engine's loop on a fresh invocation; returns chunks done and time left."""
    clock = LambdaTime(budget_ms)
    budget = TimeBudget.for_invocation(clock, share=SHARE, cap_ms=CAP_MS)
    chunks = 0
    while True:
        run_chunk(budget, clock, chunk_ms)
        chunks += 1
        if not budget.allows_another_chunk():
            return chunks, clock.remaining


def test_the_margin_is_a_share_of_the_starting_budget_between_the_floor_and_the_cap() -> None:
    assert safety_margin_ms(60_000, SHARE, CAP_MS) == 6_000
    assert safety_margin_ms(900_000, SHARE, CAP_MS) == CAP_MS  # capped
    assert safety_margin_ms(3_000, SHARE, CAP_MS) == MARGIN_FLOOR_MS  # at least the floor
    # a cap below the floor is the margin itself (the tests' 300 ms)
    assert safety_margin_ms(350, 1.0, 300) == 300
    assert safety_margin_ms(60_000, 1.0, 300) == 300
    assert safety_margin_ms(-5, SHARE, CAP_MS) == MARGIN_FLOOR_MS


def test_the_margin_is_read_once_when_the_invocation_starts() -> None:
    clock = LambdaTime(60_000)
    budget = TimeBudget.for_invocation(clock, share=SHARE, cap_ms=CAP_MS)
    clock.spend(50_000)
    assert budget.margin_ms == 6_000


def test_a_10_s_budget_does_several_chunks() -> None:
    # GIVEN 10 s and chunks of 1 s: the margin is 1 s (a fixed 10 s margin allowed one chunk)
    chunks, left = chunks_until_stop(10_000, 1_000)
    # THEN it stops when 2 x 1 s + 1 s no longer fits: 7 chunks, 3 s left
    assert chunks == 7
    assert left == 3_000


def test_a_900_s_budget_keeps_the_capped_margin_and_never_overruns() -> None:
    # GIVEN a 15 min invocation whose chunks take 2 s
    chunks, left = chunks_until_stop(900_000, 2_000)
    # THEN it worked until 2 chunks + 10 s no longer fit, and 10 s are still there
    assert left > CAP_MS
    assert left - 2 * 2_000 <= CAP_MS
    assert chunks == (900_000 - left) // 2_000


def test_a_chunk_twice_as_slow_as_any_before_still_ends_inside_the_margin() -> None:
    # GIVEN a 15 min invocation: chunks of 2 s, then one that takes twice the slowest
    clock = LambdaTime(900_000)
    budget = TimeBudget.for_invocation(clock, share=SHARE, cap_ms=CAP_MS)
    run_chunk(budget, clock, 2_000)
    while budget.allows_another_chunk():
        if clock.remaining - 2 * 2_000 <= CAP_MS + 2_000:
            run_chunk(budget, clock, 4_000)  # the last chunk allowed, at its slowest
            break
        run_chunk(budget, clock, 2_000)
    # THEN the invocation still has its margin for the checkpoint and the continuation
    assert clock.remaining > CAP_MS
