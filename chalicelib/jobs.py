"""The job lifecycle: the only place a job's status changes.

Every transition is one conditional update, so two Lambdas (or a Lambda and the
API) racing on the same job cannot both win. Worker-side transitions are fenced
by the checkpoint (`seq`, `step`): a delivery that lost the race gets `Fenced`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cuid2 import Cuid
from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib import pagination
from chalicelib.auth import Identity
from chalicelib.clock import iso, utcnow
from chalicelib.errors import CancelRequested, Fenced, JobConflict, JobNotFound
from chalicelib.models import (
    ACTIVE_STATUSES,
    RETRYABLE_STATUSES,
    Checkpoint,
    Job,
    JobStatus,
    JobType,
    Phase,
)

_ids = Cuid(length=24)
# PynamoDB's stubs type a typed map's nested attributes as their values; this is the
# checkpoint as the path that update and condition expressions need.
_checkpoint: Any = Job.checkpoint

STATUS_LABELS = {
    JobStatus.QUEUED: "en cola",
    JobStatus.PROCESSING: "en proceso",
    JobStatus.COMPLETED: "completado",
    JobStatus.FAILED: "fallido",
    JobStatus.CANCELLED: "cancelado",
}


def new_job_id() -> str:
    """A collision-resistant id (cuid2) that does not leak creation order or host."""
    return str(_ids.generate())


def format_count(number: int) -> str:
    """18000 -> '18.000', as Spanish-speaking users read numbers."""
    return f"{number:,}".replace(",", ".")


@dataclass(frozen=True)
class Progress:
    """What one chunk changes in what the user sees."""

    progress: int
    processed_items: int
    total_items: int | None
    message: str
    rows_per_second: float | None = None
    eta_seconds: int | None = None


@dataclass(frozen=True)
class CheckpointUpdate:
    """Where the job stands after a chunk (the fence values are taken from the job)."""

    phase: str
    byte_offset: int
    line_no: int
    state: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Page:
    """One page of a listing and the cursor of the next, if any."""

    items: list[Job]
    next_cursor: str | None


def _is_condition_failure(exc: UpdateError | PutError) -> bool:
    return exc.cause_response_code == "ConditionalCheckFailedException"


def _update(job: Job, actions: Sequence[Action], condition: Condition) -> bool:
    """Applies `actions` if `condition` holds; False (job reloaded) if it did not."""
    try:
        job.update(actions=list(actions), condition=condition)
    except UpdateError as exc:
        if not _is_condition_failure(exc):
            raise
        job.refresh()
        return False
    return True


def _fence(job: Job) -> Condition:
    """Holds while nobody else moved the job since this worker loaded it."""
    condition: Condition = (
        (Job.status == job.status)
        & (_checkpoint.seq == job.checkpoint.seq)
        & (_checkpoint.step == job.checkpoint.step)
    )
    return condition


def _raise_lost_fence(job: Job) -> None:
    """After a failed fenced update (job reloaded): why this worker must stop."""
    if job.job_status is JobStatus.PROCESSING and job.cancel_requested:
        raise CancelRequested(f"job {job.id} has a cancel request")
    raise Fenced(
        f"job {job.id} moved on: status {job.status}, "
        f"seq {job.checkpoint.seq}, step {job.checkpoint.step}"
    )


# --- API side -------------------------------------------------------------------------------


def create(
    *,
    job_type: JobType,
    owner: Identity,
    parameters: dict[str, Any],
    message: str,
    ttl_days: int,
    upload_key: str | None = None,
    job_id: str | None = None,
) -> Job:
    """Writes a new QUEUED job owned by `owner`."""
    now = utcnow()
    job = Job(
        id=job_id or new_job_id(),
        type=job_type.value,
        status=JobStatus.QUEUED.value,
        user_id=owner.user_id,
        tenant_id=owner.tenant_id,
        active_user_id=owner.user_id,
        parameters=parameters,
        message=message,
        upload_key=upload_key,
        checkpoint=Checkpoint(),
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(days=ttl_days),
    )
    job.save(condition=Job.id.does_not_exist())
    return job


def get(job_id: str) -> Job | None:
    try:
        return Job.get(job_id, consistent_read=True)
    except DoesNotExist:
        return None


def get_owned(job_id: str, owner: Identity) -> Job:
    """The caller's job; anyone else's is reported as not found, as if it did not exist."""
    job = get(job_id)
    if job is None or job.user_id != owner.user_id or job.tenant_id != owner.tenant_id:
        raise JobNotFound(job_id)
    return job


def list_owned(owner: Identity, limit: int, cursor: str | None) -> Page:
    """The caller's jobs, newest first."""
    start_key = pagination.decode(cursor, ("user_id", owner.user_id))
    results = Job.user_jobs.query(
        owner.user_id,
        scan_index_forward=False,
        limit=limit,
        last_evaluated_key=start_key,
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


def request_cancel(job: Job) -> Job:
    """QUEUED: cancelled at once. PROCESSING: flagged; the worker stops at its next chunk."""
    for _ in range(3):
        status = job.job_status
        now = utcnow()
        if status is JobStatus.QUEUED:
            done = _update(
                job,
                [
                    Job.status.set(JobStatus.CANCELLED.value),
                    Job.message.set("Importación cancelada antes de comenzar."),
                    Job.completed_at.set(now),
                    Job.updated_at.set(now),
                    Job.active_user_id.remove(),
                ],
                Job.status == JobStatus.QUEUED,
            )
        elif status is JobStatus.PROCESSING:
            if job.cancel_requested:
                return job
            done = _update(
                job,
                [
                    Job.cancel_requested.set(True),
                    Job.message.set("Cancelación solicitada; deteniendo la importación..."),
                    Job.updated_at.set(now),
                ],
                Job.status == JobStatus.PROCESSING,
            )
        else:
            raise JobConflict(
                f"job {job.id} is {status}, cannot cancel",
                f"El proceso ya está {STATUS_LABELS[status]}; no se puede cancelar.",
            )
        if done:
            return job
    raise JobConflict(f"job {job.id} kept changing, cancel not applied", "Intente nuevamente.")


def prepare_retry(job: Job) -> Job:
    """FAILED or CANCELLED -> QUEUED, keeping the checkpoint; counts the attempt."""
    status = job.job_status
    if status not in RETRYABLE_STATUSES:
        raise JobConflict(
            f"job {job.id} is {status}, cannot retry",
            f"El proceso está {STATUS_LABELS[status]}; solo se reintentan procesos fallidos "
            "o cancelados.",
        )
    now = utcnow()
    done = _update(
        job,
        [
            Job.status.set(JobStatus.QUEUED.value),
            Job.attempts.add(1),
            Job.cancel_requested.set(False),
            Job.error.remove(),
            Job.completed_at.remove(),
            Job.active_user_id.set(job.user_id),
            Job.message.set("Reintento en cola."),
            Job.updated_at.set(now),
            _checkpoint.seq.add(1),
        ],
        (Job.status == status.value) & (Job.attempts == job.attempts),
    )
    if not done:
        raise JobConflict(f"job {job.id} changed during retry", "Intente nuevamente.")
    return job


def record_upload(job: Job, size: int) -> bool:
    """Notes the arrived file's size; False if it was already noted (a repeated S3 event)."""
    now = utcnow()
    return _update(
        job,
        [
            Job.file_size.set(size),
            Job.message.set("Archivo recibido; en cola para procesar."),
            Job.updated_at.set(now),
        ],
        (Job.status == JobStatus.QUEUED) & Job.file_size.does_not_exist(),
    )


# --- worker side ----------------------------------------------------------------------------


def start(job: Job, message: str, rules_version: int | None) -> None:
    """QUEUED -> PROCESSING. Raises Fenced if the job was cancelled or started meanwhile."""
    now = utcnow()
    actions: list[Action] = [
        Job.status.set(JobStatus.PROCESSING.value),
        Job.message.set(message),
        Job.heartbeat_at.set(now),
        Job.updated_at.set(now),
    ]
    if job.started_at is None:
        actions.append(Job.started_at.set(now))
    if rules_version is not None and job.rules_version is None:
        actions.append(Job.rules_version.set(rules_version))
    condition = (
        (Job.status == JobStatus.QUEUED)
        & (_checkpoint.seq == job.checkpoint.seq)
        & (Job.attempts == job.attempts)
    )
    if not _update(job, actions, condition):
        raise Fenced(f"job {job.id} is {job.status}, not QUEUED, at start")


def advance(
    job: Job, checkpoint: CheckpointUpdate, progress: Progress, lote_id: str | None = None
) -> None:
    """Records a finished chunk: ONE conditional update of checkpoint, progress and heartbeat."""
    now = utcnow()
    actions: list[Action] = [
        _checkpoint.step.add(1),
        _checkpoint.phase.set(checkpoint.phase),
        _checkpoint.byte_offset.set(checkpoint.byte_offset),
        _checkpoint.line_no.set(checkpoint.line_no),
        _checkpoint.state.set(checkpoint.state),
        Job.progress.set(max(progress.progress, int(job.progress))),
        Job.processed_items.set(progress.processed_items),
        Job.message.set(progress.message),
        Job.heartbeat_at.set(now),
        Job.updated_at.set(now),
    ]
    if progress.total_items is not None:
        actions.append(Job.total_items.set(progress.total_items))
    if progress.rows_per_second is not None:
        actions.append(Job.rows_per_second.set(round(progress.rows_per_second, 1)))
    if progress.eta_seconds is not None:
        actions.append(Job.eta_seconds.set(progress.eta_seconds))
    if lote_id is not None:
        actions.append(Job.lote_id.set(lote_id))
    condition = _fence(job) & (Job.cancel_requested == False)  # noqa: E712 - a DynamoDB condition
    if not _update(job, actions, condition):
        _raise_lost_fence(job)


def hand_off(job: Job) -> int:
    """Moves the fence to the next delivery; returns the sequence the continuation carries."""
    now = utcnow()
    condition = _fence(job) & (Job.cancel_requested == False)  # noqa: E712
    if not _update(
        job,
        [_checkpoint.seq.add(1), Job.heartbeat_at.set(now), Job.updated_at.set(now)],
        condition,
    ):
        _raise_lost_fence(job)
    return int(job.checkpoint.seq)


def add_completion(
    transaction: TransactWrite, job: Job, result: dict[str, Any], message: str
) -> None:
    """PROCESSING -> COMPLETED inside `transaction` (committed together with the lote)."""
    now = utcnow()
    total = int(job.total_items or 0)
    transaction.update(
        job,
        actions=[
            Job.status.set(JobStatus.COMPLETED.value),
            Job.progress.set(100),
            Job.processed_items.set(total),
            Job.message.set(message),
            Job.result.set(result),
            Job.eta_seconds.set(0),
            Job.completed_at.set(now),
            Job.heartbeat_at.set(now),
            Job.updated_at.set(now),
            Job.active_user_id.remove(),
            _checkpoint.step.add(1),
        ],
        condition=_fence(job) & (Job.cancel_requested == False),  # noqa: E712
    )


def fail(
    job: Job,
    code: str,
    message: str,
    *,
    details: dict[str, Any] | None = None,
    fenced: bool = True,
    error_count: int | None = None,
    discard: bool = False,
) -> None:
    """-> FAILED with a reason the user can read. Fenced when the worker decides it.

    With `discard`, the job's staged lines are to be removed (phase DISCARD); without,
    the checkpoint is kept so a retry resumes where the job stopped.
    """
    now = utcnow()
    error: dict[str, Any] = {"code": code, "message": message, **(details or {})}
    actions: list[Action] = [
        Job.status.set(JobStatus.FAILED.value),
        Job.message.set(message),
        Job.error.set(error),
        Job.eta_seconds.remove(),
        Job.completed_at.set(now),
        Job.updated_at.set(now),
        Job.active_user_id.remove(),
        Job.cancel_requested.set(False),
        _checkpoint.step.add(1),
    ]
    if discard:
        actions.append(_checkpoint.phase.set(Phase.DISCARD.value))
    if error_count is not None:
        actions.append(Job.error_count.set(error_count))
    condition = _fence(job) if fenced else Job.status.is_in(*(s.value for s in ACTIVE_STATUSES))
    if not _update(job, actions, condition):
        if fenced:
            _raise_lost_fence(job)
        raise Fenced(f"job {job.id} is {job.status}, cannot fail it")


def mark_cancelled(job: Job) -> None:
    """PROCESSING with a cancel request -> CANCELLED; what it staged is to be discarded."""
    now = utcnow()
    condition = (Job.status == JobStatus.PROCESSING) & (Job.cancel_requested == True)  # noqa: E712
    actions: list[Action] = [
        Job.status.set(JobStatus.CANCELLED.value),
        Job.message.set(
            f"Importación cancelada con {format_count(int(job.processed_items))} registros "
            "procesados; no se guardó ninguno."
        ),
        Job.eta_seconds.remove(),
        Job.completed_at.set(now),
        Job.updated_at.set(now),
        Job.active_user_id.remove(),
        Job.cancel_requested.set(False),
        _checkpoint.step.add(1),
        _checkpoint.phase.set(Phase.DISCARD.value),
    ]
    if not _update(job, actions, condition):
        raise Fenced(f"job {job.id} is {job.status}, cannot mark it cancelled")


def discard_step(job: Job, done: bool) -> None:
    """Records a chunk of discarding; once `done`, nothing is left to do for the job."""
    actions: list[Action] = [_checkpoint.step.add(1), Job.updated_at.set(utcnow())]
    if done:
        actions.append(_checkpoint.phase.set(Phase.DONE.value))
    if not _update(job, actions, _fence(job)):
        _raise_lost_fence(job)


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


def heartbeat_age(job: Job, now: datetime) -> timedelta | None:
    moment = job.heartbeat_at or job.updated_at
    return None if moment is None else now - moment
