"""Batch writes: several in flight at once, unprocessed items and throttling retried with
backoff, within the invocation's time."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pynamodb.exceptions import PutError

from chalicelib.adapters.dynamo import (
    BatchWriteExhausted,
    batch_write,
    start_batch_write,
    time_limit,
)


class Item:
    """Stands in for a PynamoDB model instance: serialises to a DynamoDB item."""

    def __init__(self, key: int) -> None:
        self.key = key

    def serialize(self) -> dict[str, Any]:
        return {"k": {"N": str(self.key)}}


class ThrottledConnection:
    """A table that leaves the last `stubborn` items of every call unprocessed,
    `rounds` times, the way DynamoDB does under throttling."""

    def __init__(self, rounds: int, stubborn: int = 3) -> None:
        self.rounds = rounds
        self.stubborn = stubborn
        self.calls: list[int] = []

    def batch_write_item(self, put_items: list[Any], delete_items: list[Any]) -> dict[str, Any]:
        self.calls.append(len(put_items))
        if self.rounds == 0:
            return {}
        self.rounds -= 1
        left = put_items[-self.stubborn :]
        return {"UnprocessedItems": {"t": [{"PutRequest": {"Item": item}} for item in left]}}


def model_on(connection: ThrottledConnection) -> Any:
    class Meta:
        table_name = "t"

    class Model:
        pass

    Model.Meta = Meta  # type: ignore[attr-defined]
    Model._get_connection = staticmethod(lambda: connection)  # type: ignore[attr-defined]
    return Model


def test_items_are_sent_25_at_a_time() -> None:
    connection = ThrottledConnection(rounds=0)
    batch_write(model_on(connection), puts=[Item(i) for i in range(60)])  # type: ignore[list-item]
    # (in flight together: in any order)
    assert sorted(connection.calls, reverse=True) == [25, 25, 10]


def test_unprocessed_items_are_retried_with_growing_pauses() -> None:
    connection = ThrottledConnection(rounds=3)
    pauses: list[float] = []

    batch_write(model_on(connection), puts=[Item(i) for i in range(10)], sleep=pauses.append)  # type: ignore[list-item]

    assert connection.calls == [10, 3, 3, 3]
    assert len(pauses) == 3
    assert all(0 <= pause <= 2.0 for pause in pauses)


def test_items_still_unprocessed_after_every_attempt_raise_a_transient_error() -> None:
    connection = ThrottledConnection(rounds=100)
    with pytest.raises(BatchWriteExhausted):
        batch_write(
            model_on(connection),
            puts=[Item(i) for i in range(5)],  # type: ignore[list-item]
            max_attempts=4,
            sleep=lambda _: None,
        )
    assert len(connection.calls) == 4


def test_no_retry_is_attempted_past_the_invocations_deadline() -> None:
    connection = ThrottledConnection(rounds=100)
    pauses: list[float] = []
    with time_limit(lambda: 0), pytest.raises(BatchWriteExhausted, match="no time left"):
        batch_write(model_on(connection), puts=[Item(1)], sleep=pauses.append)  # type: ignore[list-item]
    assert pauses == []
    assert connection.calls == [1]


def error(code: str) -> PutError:
    """What PynamoDB raises once botocore's own retries of a refused call are spent."""
    cause = ClientError({"Error": {"Code": code, "Message": "slow down"}}, "BatchWriteItem")
    return PutError("Failed to batch write items", cause)


class ConcurrentTable:
    """A table that records which batches are in flight at once. The first `wave` calls
    wait for each other (they fail the test unless all of them are in flight together);
    `failures` maps a call's position to what it raises."""

    def __init__(self, wave: int = 1, failures: dict[int, Exception] | None = None) -> None:
        self.barrier = threading.Barrier(wave, timeout=5)
        self.wave = wave
        self.failures = failures or {}
        self.lock = threading.Lock()
        self.calls: list[list[Any]] = []
        self.threads: set[str] = set()
        self.in_flight = 0
        self.most_in_flight = 0
        self.time_left: list[int | None] = []

    def batch_write_item(self, put_items: list[Any], delete_items: list[Any]) -> dict[str, Any]:
        from chalicelib.adapters import dynamo

        with self.lock:
            self.calls.append(put_items)
            position = len(self.calls)
            self.threads.add(threading.current_thread().name)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            time_left = dynamo._time_left.get()
            self.time_left.append(time_left() if time_left is not None else None)
        try:
            if position <= self.wave:
                self.barrier.wait()
            if position in self.failures:
                raise self.failures[position]
            return {}
        finally:
            with self.lock:
                self.in_flight -= 1


def items(count: int) -> Any:
    return [Item(i) for i in range(count)]


def test_a_chunks_batches_are_in_flight_together() -> None:
    # GIVEN a chunk of 100 lines: 4 batches, all 4 allowed at once
    table = ConcurrentTable(wave=4)
    # WHEN they are written (the barrier lets none finish before all 4 are in flight)
    batch_write(model_on(table), puts=items(100), concurrency=4)  # type: ignore[arg-type]
    # THEN all were sent at once, on the writer threads, every item once
    assert table.most_in_flight == 4
    assert all(name.startswith("batch-write") for name in table.threads)
    assert sorted(item["k"]["N"] for call in table.calls for item in call) == sorted(
        str(i) for i in range(100)
    )


def test_no_more_batches_are_in_flight_than_the_bound() -> None:
    table = ConcurrentTable(wave=3)
    batch_write(model_on(table), puts=items(200), concurrency=3)  # type: ignore[arg-type]
    assert len(table.calls) == 8
    assert table.most_in_flight == 3


def test_the_bound_defaults_to_the_write_concurrency_setting() -> None:
    table = ConcurrentTable(wave=4)  # WRITE_CONCURRENCY's default
    batch_write(model_on(table), puts=items(250))  # type: ignore[arg-type]
    assert table.most_in_flight == 4


def test_an_error_in_one_batch_surfaces_after_the_others_finished() -> None:
    # GIVEN 8 batches, 2 at a time, the 2nd of which fails (a Lambda dying there)
    failure = RuntimeError("killed at the 2nd batch")
    table = ConcurrentTable(wave=2, failures={2: failure})
    # WHEN they are written
    with pytest.raises(RuntimeError) as raised:
        batch_write(model_on(table), puts=items(200), concurrency=2)  # type: ignore[arg-type]
    # THEN the caller gets that very error, no write is left running, and no batch
    # started after it
    assert raised.value is failure
    assert table.in_flight == 0
    assert len(table.calls) < 8


class ThrottlingTable:
    """A table whose first `refusals` calls are refused with a throttling error."""

    def __init__(self, refusals: int, code: str = "ProvisionedThroughputExceededException"):
        self.refusals = refusals
        self.code = code
        self.lock = threading.Lock()
        self.calls = 0

    def batch_write_item(self, put_items: list[Any], delete_items: list[Any]) -> dict[str, Any]:
        with self.lock:
            self.calls += 1
            if self.calls <= self.refusals:
                raise error(self.code)
        return {}


@pytest.mark.parametrize(
    "code",
    ["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"],
)
def test_a_throttled_batch_backs_off_and_is_sent_again(code: str) -> None:
    table = ThrottlingTable(refusals=2, code=code)
    pauses: list[float] = []
    batch_write(model_on(table), puts=items(10), sleep=pauses.append)  # type: ignore[arg-type]
    assert table.calls == 3
    assert len(pauses) == 2


def test_a_batch_throttled_on_every_attempt_raises_a_transient_error() -> None:
    table = ThrottlingTable(refusals=100)
    with pytest.raises(BatchWriteExhausted, match="throttled") as raised:
        batch_write(
            model_on(table),
            puts=items(60),  # type: ignore[arg-type]
            max_attempts=3,
            sleep=lambda _: None,
        )
    assert isinstance(raised.value.__cause__, PutError)
    assert table.calls == 3 * 3  # every batch tried its 3 times


def test_an_error_other_than_throttling_is_not_retried() -> None:
    table = ThrottlingTable(refusals=1, code="ValidationException")
    with pytest.raises(PutError):
        batch_write(model_on(table), puts=items(10), sleep=lambda _: None)  # type: ignore[arg-type]
    assert table.calls == 1


def test_the_time_limit_holds_inside_the_writer_threads() -> None:
    # GIVEN an invocation with 1.234 s left, whose table throttles every batch
    throttling = ThrottlingTable(refusals=100)
    seen = ConcurrentTable(wave=4)
    # WHEN a chunk is written
    with time_limit(lambda: 1_234):
        batch_write(model_on(seen), puts=items(100), concurrency=4)  # type: ignore[arg-type]
    with time_limit(lambda: 0), pytest.raises(BatchWriteExhausted, match="no time left"):
        batch_write(model_on(throttling), puts=items(100), concurrency=4)  # type: ignore[arg-type]
    # THEN every writer thread saw the invocation's deadline, and with none left no
    # batch was retried
    assert seen.time_left == [1_234] * 4
    assert throttling.calls == 4


class GatedTable:
    """A table whose writes wait until the test opens the gate."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.written: list[int] = []

    def batch_write_item(self, put_items: list[Any], delete_items: list[Any]) -> dict[str, Any]:
        assert self.gate.wait(5), "the caller never let the writes through"
        self.written.append(len(put_items))
        return {}


def test_started_writes_fly_while_the_caller_goes_on_and_wait_joins_them() -> None:
    # GIVEN writes started on a table that holds every write until told
    table = GatedTable()
    pending = start_batch_write(model_on(table), puts=[Item(i) for i in range(100)])  # type: ignore[arg-type, list-item]
    # THEN the call returned with nothing written yet: the caller can work meanwhile
    assert table.written == []
    table.gate.set()
    # AND after wait() every batch is written
    pending.wait()
    assert sorted(table.written) == [25, 25, 25, 25]


def test_a_started_write_that_fails_raises_at_wait() -> None:
    table = ThrottlingTable(refusals=1, code="ValidationException")
    pending = start_batch_write(model_on(table), puts=items(10))  # type: ignore[arg-type]
    with pytest.raises(PutError):
        pending.wait()
