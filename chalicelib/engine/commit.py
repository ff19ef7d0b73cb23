"""Completing a job together with its type's work, in one DynamoDB transaction.

Every job type that completes this way would otherwise translate a cancelled
transaction by itself; here it is done once. DynamoDB reports why each item of a
cancelled transaction failed, in the order of the request, and PynamoDB orders that
request by operation (condition checks, deletes, puts, updates), not by call: the
transaction therefore remembers which model each item writes, so a reason is read
against the right item.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamo import (
    cancellation_codes,
    is_transient,
    transaction_cancelled,
    transaction_connection,
)
from chalicelib.core.clock import SYSTEM_CLOCK, Clock
from chalicelib.core.errors import CancelRequested, Fenced, TransientError
from chalicelib.core.models import Job
from chalicelib.engine.checkpoints import add_completion

CONDITION_FAILED = "ConditionalCheckFailed"


class Rejected(Exception):
    """An item of a completing transaction other than the job refused its condition."""

    def __init__(self, job_id: str, models: Sequence[Model | None]) -> None:
        super().__init__(f"job {job_id} completion refused by {len(models)} other item(s)")
        # The model of each refused item (None for a condition check).
        self.models = list(models)


class _Tracked(TransactWrite):
    """A TransactWrite that knows, for each item, the model it writes."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._checked: list[Model | None] = []
        self._deleted: list[Model | None] = []
        self._saved: list[Model | None] = []
        self._updated: list[Model | None] = []

    def in_request_order(self) -> list[Model | None]:
        return self._checked + self._deleted + self._saved + self._updated

    def condition_check(
        self,
        model_cls: Any,
        hash_key: Any,
        range_key: Any = None,
        condition: Condition | None = None,
    ) -> None:
        super().condition_check(model_cls, hash_key, range_key=range_key, condition=condition)
        self._checked.append(None)

    def delete(
        self, model: Any, condition: Condition | None = None, *, add_version_condition: bool = True
    ) -> None:
        super().delete(model, condition, add_version_condition=add_version_condition)
        self._deleted.append(model)

    def save(
        self, model: Any, condition: Condition | None = None, return_values: str | None = None
    ) -> None:
        super().save(model, condition, return_values)
        self._saved.append(model)

    def update(
        self,
        model: Any,
        actions: list[Action],
        condition: Condition | None = None,
        return_values: str | None = None,
        *,
        add_version_condition: bool = True,
    ) -> None:
        super().update(
            model, actions, condition, return_values, add_version_condition=add_version_condition
        )
        self._updated.append(model)


@contextmanager
def completing(
    job: Job,
    result: dict[str, Any],
    message: str,
    *,
    error_count: int = 0,
    clock: Clock = SYSTEM_CLOCK,
) -> Iterator[TransactWrite]:
    """A transaction that completes `job` (PROCESSING -> COMPLETED) with whatever the
    caller adds to it; committed when the block ends.

    Raises:
        TransientError: it conflicted with another transaction or was throttled (the
            delivery is retried as is).
        CancelRequested: the job got a cancel request meanwhile.
        Fenced: another delivery moved the job on.
        Rejected: another item's condition failed; what that means is the type's to say.
    """
    tx = _Tracked(connection=transaction_connection())
    try:
        with tx:
            add_completion(tx, job, result, message, error_count=error_count, clock=clock)
            yield tx
    except TransactWriteError as exc:
        if not transaction_cancelled(exc):
            raise
        codes = cancellation_codes(exc)
        if is_transient(codes):
            raise TransientError(f"job {job.id} completion conflicted; retrying") from exc
        items = tx.in_request_order()
        refused = [
            model for model, code in zip(items, codes, strict=False) if code == CONDITION_FAILED
        ]
        if any(model is job for model in refused):
            job.refresh(consistent_read=True)
            if job.cancel_requested:
                raise CancelRequested(f"job {job.id} cancelled at commit") from exc
            raise Fenced(f"job {job.id} completion lost: status {job.status}") from exc
        if refused:
            raise Rejected(job.id, refused) from exc
        raise
