"""How users see jobs: their own, newest first, in the API's camelCase shape."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.adapters import pagination
from chalicelib.adapters.auth import Identity
from chalicelib.core.clock import iso
from chalicelib.core.errors import JobNotFound
from chalicelib.core.models import Job
from chalicelib.engine import lifecycle

# Ids the service hands out are far shorter; a longer one cannot exist (and would be
# refused by DynamoDB as a key).
MAX_ID_LENGTH = 64


@dataclass(frozen=True)
class Page:
    """One page of a listing and the cursor of the next, if any."""

    items: list[Job]
    next_cursor: str | None


def get_owned(job_id: str, owner: Identity) -> Job:
    """The caller's job; anyone else's is reported as not found, as if it did not exist."""
    if not 0 < len(job_id) <= MAX_ID_LENGTH:
        raise JobNotFound(job_id[:MAX_ID_LENGTH])
    job = lifecycle.get(job_id)
    if job is None or job.user_id != owner.user_id or job.tenant_id != owner.tenant_id:
        raise JobNotFound(job_id)
    return job


def list_owned(owner: Identity, limit: int, cursor: str | None) -> Page:
    """The caller's jobs, newest first."""
    results = Job.user_jobs.query(
        owner.user_id,
        scan_index_forward=False,
        limit=limit,
        last_evaluated_key=pagination.decode(
            cursor, ("user_id", owner.user_id), {"id": "S", "user_id": "S", "created_at": "S"}
        ),
    )
    items = [job for job in results if job.tenant_id == owner.tenant_id]
    return Page(items, pagination.encode(results.last_evaluated_key))


def list_active(owner: Identity) -> list[Job]:
    """The caller's QUEUED and PROCESSING jobs (a sparse index: no history is read)."""
    return [
        job
        for job in Job.active_jobs.query(owner.user_id, scan_index_forward=False)
        if job.tenant_id == owner.tenant_id
    ]


def to_api(job: Job) -> dict[str, Any]:
    """The job as the API shows it (the seed's ProcessingJob, camelCase)."""
    return {
        "id": job.id,
        "type": job.type,
        "status": job.status,
        "progress": int(job.progress),
        "totalItems": None if job.total_items is None else int(job.total_items),
        "processedItems": int(job.processed_items),
        "message": job.message,
        "userId": job.user_id,
        "parameters": job.parameters,
        "result": job.result,
        "error": job.error,
        "errorCount": int(job.error_count),
        "attempts": int(job.attempts),
        "cancelRequested": bool(job.cancel_requested),
        "rowsPerSecond": job.rows_per_second,
        "etaSeconds": None if job.eta_seconds is None else int(job.eta_seconds),
        "loteId": job.lote_id,
        "loteDeleted": bool(job.lote_deleted),
        "startedAt": iso(job.started_at),
        "completedAt": iso(job.completed_at),
        "createdAt": iso(job.created_at),
        "updatedAt": iso(job.updated_at),
    }
