"""DynamoDB batch writes that survive throttling: UnprocessedItems retried with backoff.

PynamoDB's BatchWrite re-sends unprocessed items at once, without backoff, which
under throttling burns its retries in milliseconds.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.models import Job

BATCH_LIMIT = 25  # DynamoDB's limit of requests in one BatchWriteItem


class BatchWriteExhausted(Exception):
    """Some items were still unprocessed after every retry (a transient error: SQS retries)."""


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
            if not pending:
                break
            # Full jitter: retries of many workers do not arrive together.
            sleep(random.uniform(0, min(max_delay_s, base_delay_s * 2**attempt)))
        else:
            raise BatchWriteExhausted(
                f"{len(pending)} items unprocessed in {model.Meta.table_name} "
                f"after {max_attempts} attempts"
            )


def transaction() -> TransactWrite:
    """A write transaction on the connection the models already hold (one client per
    process, rather than a new one per commit)."""
    return TransactWrite(connection=Job._get_connection().connection)
