"""The line-level error report of a job: stored while validating, served paginated."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chalicelib import dkt
from chalicelib.adapters import pagination
from chalicelib.adapters.dynamo import batch_write
from chalicelib.core.models import Job, LineErrorItem


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


def report(job: Job, limit: int, cursor: str | None) -> dict[str, Any]:
    """One page of the job's line errors, in line order."""
    results = LineErrorItem.query(
        job.id,
        limit=limit,
        last_evaluated_key=pagination.decode(
            cursor, ("job_id", job.id), {"job_id": "S", "line_no": "N"}
        ),
    )
    errors = [
        {
            "lineNo": int(item.line_no),
            "field": item.field,
            "value": item.value,
            "reason": item.reason,
        }
        for item in results
    ]
    return {
        "jobId": job.id,
        "total": int(job.error_count),
        "errors": errors,
        "nextCursor": pagination.encode(results.last_evaluated_key),
    }
