"""DynamoDB batch writes that survive throttling, sent several at a time.

PynamoDB's BatchWrite re-sends unprocessed items at once, without backoff, which
under throttling burns its retries in milliseconds. Here each batch of 25 retries its
own UnprocessedItems and throttling errors with full-jitter backoff, inside the
invocation's time limit, and a call's batches are in flight together (bounded by
`WRITE_CONCURRENCY`) on one thread pool that lives as long as the process.
`start_batch_write` returns while they are in flight, so that the caller can prepare its
next writes meanwhile (the import parses its next chunk so).

Sharing the connection across threads is safe: the models' PynamoDB connection keeps
one botocore client (botocore documents low-level clients as thread-safe; only sessions
are not, and PynamoDB keeps its session per thread), with a pool of 10 HTTP connections,
more than the writes in flight. The client is built by the first call on the connection,
which in the worker is always a read of the job on the caller's thread.
"""

from __future__ import annotations

import contextvars
import functools
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from pynamodb.exceptions import PutError, PynamoDBException, TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.core.models import Job
from chalicelib.core.settings import MAX_WRITE_CONCURRENCY, get_settings

BATCH_LIMIT = 25  # DynamoDB's limit of requests in one BatchWriteItem
# A batch's retries of what DynamoDB leaves: attempts, and the full-jitter backoff's bounds.
MAX_ATTEMPTS = 8
BASE_DELAY_S = 0.05
MAX_DELAY_S = 2.0


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


# Throttling DynamoDB reports as an error rather than as UnprocessedItems (botocore's
# standard retry mode retries these a few times first): the batch backs off and retries.
THROTTLING_CODES = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _writers() -> ThreadPoolExecutor:
    """The process's writer threads, started on first use (idle ones are reused)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(MAX_WRITE_CONCURRENCY, thread_name_prefix="batch-write")
        return _pool


def batch_write(
    model: type[Model],
    puts: Sequence[Model] = (),
    deletes: Sequence[Model] = (),
    *,
    max_attempts: int = MAX_ATTEMPTS,
    base_delay_s: float = BASE_DELAY_S,
    max_delay_s: float = MAX_DELAY_S,
    sleep: Callable[[float], None] = time.sleep,
    concurrency: int | None = None,
) -> None:
    """Writes `puts` and deletes `deletes` in batches of 25, retrying what DynamoDB leaves.

    Up to `concurrency` batches (default: the `write_concurrency` setting) are in flight
    at once. When a batch fails, no further batch starts; the error is raised once the
    batches already sent have finished, so no write outlives the call.
    """
    tasks, limit = _batch_tasks(
        model, puts, deletes, max_attempts, base_delay_s, max_delay_s, sleep, concurrency
    )
    if limit == 1 or len(tasks) == 1:
        for task in tasks:
            task()
        return
    _run_bounded(tasks, limit)


def start_batch_write(model: type[Model], puts: Sequence[Model]) -> PendingWrites:
    """`batch_write` of `puts` without waiting: the batches are sent on the writer threads
    while the caller goes on. The caller must `wait()` for them (which raises what
    `batch_write` would) before it relies on them, or records that they were written."""
    tasks, limit = _batch_tasks(
        model, puts, (), MAX_ATTEMPTS, BASE_DELAY_S, MAX_DELAY_S, time.sleep, None
    )
    return _start_bounded(tasks, limit)


def _batch_tasks(
    model: type[Model],
    puts: Sequence[Model],
    deletes: Sequence[Model],
    max_attempts: int,
    base_delay_s: float,
    max_delay_s: float,
    sleep: Callable[[float], None],
    concurrency: int | None,
) -> tuple[list[Callable[[], None]], int]:
    """One task per batch of 25 requests, and how many of them may be in flight."""
    requests: list[dict[str, Any]] = [{"PutRequest": {"Item": item.serialize()}} for item in puts]
    requests += [{"DeleteRequest": {"Key": item._get_keys()}} for item in deletes]
    write = functools.partial(
        _write_batch,
        model._get_connection(),
        model.Meta.table_name,
        max_attempts=max_attempts,
        base_delay_s=base_delay_s,
        max_delay_s=max_delay_s,
        sleep=sleep,
    )
    tasks: list[Callable[[], None]] = [
        functools.partial(write, requests[start : start + BATCH_LIMIT])
        for start in range(0, len(requests), BATCH_LIMIT)
    ]
    limit = min(concurrency or get_settings().write_concurrency, MAX_WRITE_CONCURRENCY)
    return tasks, limit


class PendingWrites:
    """Tasks in flight on the writer threads, at most `limit` at a time, each in a copy of
    the caller's context (the time limit is a ContextVar, which threads do not inherit).
    Once one fails, no further one starts. `wait` returns when every started one has
    finished, and raises the first error."""

    def __init__(self, tasks: list[Callable[[], None]], limit: int) -> None:
        self._waiting = deque((contextvars.copy_context(), task) for task in tasks)
        self._lock = threading.RLock()  # a done callback may run at once, on this thread
        self._running = 0
        self._error: BaseException | None = None
        self._done = threading.Event()
        with self._lock:
            while self._waiting and self._running < max(1, limit):
                self._send_next()
            if not self._running:
                self._done.set()

    def _send_next(self) -> None:
        context, task = self._waiting.popleft()
        self._running += 1
        _writers().submit(context.run, task).add_done_callback(self._finished)

    def _finished(self, future: Future[None]) -> None:
        with self._lock:
            self._running -= 1
            if self._error is None:
                self._error = future.exception()
            if self._waiting and self._error is None:
                self._send_next()
            elif not self._running:
                self._done.set()

    def wait(self) -> None:
        self._done.wait()
        if self._error is not None:
            raise self._error


def _start_bounded(tasks: list[Callable[[], None]], limit: int) -> PendingWrites:
    """Sends `tasks` to the writer threads, `limit` at a time, and returns at once."""
    return PendingWrites(tasks, limit)


def _run_bounded(tasks: list[Callable[[], None]], limit: int) -> None:
    """Runs `tasks` on the writer threads, `limit` at a time, until all have finished."""
    _start_bounded(tasks, limit).wait()


def _write_batch(
    connection: Any,
    table_name: str,
    pending: list[dict[str, Any]],
    *,
    max_attempts: int,
    base_delay_s: float,
    max_delay_s: float,
    sleep: Callable[[float], None],
) -> None:
    """Writes one batch, retrying its unprocessed items and throttling with backoff."""
    throttled: PutError | None = None
    for attempt in range(max_attempts):
        try:
            response = connection.batch_write_item(
                put_items=[r["PutRequest"]["Item"] for r in pending if "PutRequest" in r],
                delete_items=[r["DeleteRequest"]["Key"] for r in pending if "DeleteRequest" in r],
            )
        except PutError as exc:
            if exc.cause_response_code not in THROTTLING_CODES:
                raise
            throttled = exc  # nothing of the batch is known written: all of it again
        else:
            throttled = None
            pending = (response or {}).get("UnprocessedItems", {}).get(table_name, [])
            if not pending:
                return
        if attempt == max_attempts - 1:
            break
        # Full jitter: retries of many workers do not arrive together.
        delay_s = random.uniform(0, min(max_delay_s, base_delay_s * 2**attempt))
        time_left = _time_left.get()
        if time_left is not None and time_left() < delay_s * 1000:
            raise BatchWriteExhausted(
                f"{_what(pending, throttled)} in {table_name} and no time left to retry them"
            ) from throttled
        sleep(delay_s)
    raise BatchWriteExhausted(
        f"{_what(pending, throttled)} in {table_name} after {max_attempts} attempts"
    ) from throttled


def _what(pending: list[dict[str, Any]], throttled: PutError | None) -> str:
    if throttled is not None:
        return f"{len(pending)} items throttled ({throttled.cause_response_code})"
    return f"{len(pending)} items unprocessed"


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
