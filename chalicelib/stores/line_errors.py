"""The line-level error report of a job: stored while validating, served paginated."""

from __future__ import annotations

from collections.abc import Sequence

from chalicelib import dkt
from chalicelib.adapters import pagination
from chalicelib.adapters.dynamo import batch_write
from chalicelib.core.models import Job, LineErrorItem
from chalicelib.stores.page import Page


def store(job: Job, errors: Sequence[dkt.LineError]) -> None:
    """Writes errors under (job, line number): writing a chunk's errors twice changes nothing."""
    batch_write(
        LineErrorItem,
        puts=[
            LineErrorItem(
                job_id=job.id,
                line_no=error.line_no,
                field=error.field,
                value=error.value,
                reason=error.reason,
            )
            for error in errors
        ],
    )


def list_page(job: Job, limit: int, cursor: str | None) -> Page[LineErrorItem]:
    """One page of the job's line errors, in line order."""
    results = LineErrorItem.query(
        job.id,
        limit=limit,
        last_evaluated_key=pagination.decode(
            cursor, ("job_id", job.id), {"job_id": "S", "line_no": "N"}
        ),
    )
    return Page(list(results), pagination.encode(results.last_evaluated_key))


def after(job_id: str, line_no: int, limit: int) -> tuple[list[LineErrorItem], bool]:
    """Up to `limit` of the job's line errors past line `line_no`, in line order, and
    whether more follow."""
    items = list(LineErrorItem.query(job_id, LineErrorItem.line_no > line_no, limit=limit))
    return items, len(items) == limit
