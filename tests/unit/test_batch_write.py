"""Batch writes: unprocessed items retried with backoff, within the invocation's time."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters.dynamo import BatchWriteExhausted, batch_write, time_limit


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
    assert connection.calls == [25, 25, 10]


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
