"""What every final transition announces, wherever it happens (a worker, the sweeper,
the API's cancel, a dropped file refused): the metric by job type, and one `JobFinished`
event on the EventBridge bus, which the notifier turns into a webhook call or an e-mail.

Each final transition calls `announce` once, right after its conditional write won:
two racing writers cannot both announce. The event is best effort (at most once): a
process that dies between the write and the publish loses it; the job stays the truth.
The composition root installs the bus (chalicelib/runtime.py); with none, only the
metric is counted.
"""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.events import EventPublisher
from chalicelib.core import observability
from chalicelib.core.models import Job, JobStatus

_publisher: EventPublisher | None = None


def install(publisher: EventPublisher | None) -> None:
    """Makes `publisher` the bus final transitions announce on (None: no events)."""
    global _publisher
    _publisher = publisher


def announce(job: Job, status: JobStatus) -> None:
    """`job` reached `status`, final; counted, and published if a bus is installed."""
    observability.job_finished(job.type, status.value)
    if _publisher is None:
        return
    if job.status != status.value:  # a transaction completed it: read what it wrote
        job.refresh(consistent_read=True)
    _publisher.job_finished(job, detail(job, status))


def detail(job: Job, status: JobStatus) -> dict[str, Any]:
    """What a listener is told about a finished job: enough to act without asking the
    API (ids, counts, duration, lote, error code), nothing sensitive (no card data)."""
    parameters: dict[str, Any] = job.parameters or {}
    started, ended = job.started_at, job.completed_at
    return {
        "jobId": job.id,
        "type": job.type,
        "status": status.value,
        "userId": job.user_id,
        "tenantId": job.tenant_id,
        "loteId": job.lote_id,
        "codigoTarjeta": parameters.get("codigoTarjeta"),
        "filename": parameters.get("filename"),
        "errorCode": (job.error or {}).get("code") if status is JobStatus.FAILED else None,
        "errorCount": int(job.error_count or 0),
        "processedItems": int(job.processed_items or 0),
        "totalItems": None if job.total_items is None else int(job.total_items),
        "attempts": int(job.attempts),
        "message": job.message,
        "createdAt": job.created_at.isoformat(),
        "startedAt": started.isoformat() if started else None,
        "completedAt": ended.isoformat() if ended else None,
        "durationSeconds": round((ended - started).total_seconds(), 3)
        if started and ended
        else None,
    }
