"""DynamoDB batch writes that survive throttling: UnprocessedItems retried with backoff.

PynamoDB's BatchWrite re-sends unprocessed items at once, without backoff, which
under throttling burns its retries in milliseconds.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.core.models import Job

BATCH_LIMIT = 25  # DynamoDB's limit of requests in one BatchWriteItem


def condition_failed(exc: PynamoDBException) -> bool:
    """Whether a write was refused only because its condition did not hold."""
    return exc.cause_response_code == "ConditionalCheckFailedException"


def transaction_cancelled(exc: PynamoDBException) -> bool:
    """Whether a transaction was cancelled (a condition failed, or it conflicted)."""
    return exc.cause_response_code == "TransactionCanceledException"


class BatchWriteExhausted(Exception):
    """Some items were still unprocessed after every retry, or time ran out for more
    retries (a transient error: SQS retries the message)."""


# Milliseconds the current invocation may still spend, when it has a deadline.
_time_left: ContextVar[Callable[[], int] | None] = ContextVar("time_left", default=None)


@contextmanager
def time_limit(ms_left: Callable[[], int]) -> Iterator[None]:
    """Within this block, retries give up rather than outlive the invocation's budget."""
    token = _time_left.set(ms_left)
    try:
        yield
    finally:
        _time_left.reset(token)


def batch_write(
    model: type[Model],
    puts: Sequence[Model] = (),
    deletes: Sequence[Model] = (),
    *,
    max_attempts: int = 8,
    base_delay_s: float = 0.05,
    max_delay_s: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Writes `puts` and deletes `deletes` in batches of 25, retrying what DynamoDB leaves."""
    requests: list[dict[str, Any]] = [{"PutRequest": {"Item": item.serialize()}} for item in puts]
    requests += [{"DeleteRequest": {"Key": item._get_keys()}} for item in deletes]
    connection = model._get_connection()
    for start in range(0, len(requests), BATCH_LIMIT):
        pending = requests[start : start + BATCH_LIMIT]
        for attempt in range(max_attempts):
            response = connection.batch_write_item(
                put_items=[r["PutRequest"]["Item"] for r in pending if "PutRequest" in r],
                delete_items=[r["DeleteRequest"]["Key"] for r in pending if "DeleteRequest" in r],
            )
            pending = (response or {}).get("UnprocessedItems", {}).get(model.Meta.table_name, [])
            if not pending or attempt == max_attempts - 1:
                break
            # Full jitter: retries of many workers do not arrive together.
            delay_s = random.uniform(0, min(max_delay_s, base_delay_s * 2**attempt))
            time_left = _time_left.get()
            if time_left is not None and time_left() < delay_s * 1000:
                raise BatchWriteExhausted(
                    f"{len(pending)} items unprocessed in {model.Meta.table_name} "
                    "and no time left to retry them"
                )
            sleep(delay_s)
        if pending:
            raise BatchWriteExhausted(
                f"{len(pending)} items unprocessed in {model.Meta.table_name} "
                f"after {max_attempts} attempts"
            )


def cancellation_codes(exc: TransactWriteError) -> list[str | None]:
    """Why each item of a cancelled transaction failed (None: it did not), in order."""
    return [reason.code if reason is not None else None for reason in exc.cancellation_reasons]


def is_transient(codes: list[str | None]) -> bool:
    """A cancellation worth retrying as is (a concurrent transaction, throttling)."""
    return any(code in ("TransactionConflict", "ThrottlingError") for code in codes)


def transaction_connection() -> Any:
    """The connection the models already hold: one client per process, rather than a new
    one per transaction."""
    return Job._get_connection().connection


def transaction() -> TransactWrite:
    """A write transaction on the connection the models already hold."""
    return TransactWrite(connection=transaction_connection())
