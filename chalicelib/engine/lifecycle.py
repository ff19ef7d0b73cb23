"""The job lifecycle: the only place a job's status changes (with `checkpoints`, the
worker's side of it).

Every transition is one conditional update, so two Lambdas (or a Lambda, the API
and the sweeper) racing on the same job cannot both win. A watched job (`sweep_shard`
set) is one the sweeper keeps an eye on: unfinished, or holding staged lines still to
be removed; its `heartbeat_at` is its last sign of life. This module holds creation,
the API's and the sweeper's transitions, and failing a job, which all three do.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.auth import Identity
from chalicelib.core.clock import SYSTEM_CLOCK, Clock
from chalicelib.core.errors import Fenced, JobConflict
from chalicelib.core.ids import IdGenerator, new_cuid
from chalicelib.core.models import (
    ACTIVE_STATUSES,
    DISCARDING_PHASES,
    RETRYABLE_STATUSES,
    SPENT_PHASES,
    Checkpoint,
    Job,
    JobStatus,
    JobType,
    Phase,
    Staged,
    sweep_shard_of,
)
from chalicelib.engine import registry
from chalicelib.engine.finals import announce
from chalicelib.engine.guards import (
    CHECKPOINT,
    STATUS_LABELS,
    fence,
    finished,
    format_count,
    get,
    message_for,
    raise_lost_fence,
    update_if,
)
from chalicelib.engine.messaging import WorkMessage

__all__ = [
    "RETRYABLE_STATUSES",
    "STATUS_LABELS",
    "create",
    "expire_upload",
    "fail",
    "format_count",
    "get",
    "message_for",
    "new_job_id",
    "note_delivery_error",
    "owner_of",
    "prepare_retry",
    "record_upload",
    "renew_upload_window",
    "request_cancel",
    "rescue",
    "starts_over",
]


AUTOMATIC_RETRY_NOTE = " Se reintentará automáticamente."


def new_job_id(new_id: IdGenerator = new_cuid) -> str:
    """A collision-resistant id that does not leak creation order or host."""
    return new_id()


def owner_of(job: Job) -> Identity:
    """Who owns `job`: a follow-up job it creates belongs to the same user and tenant."""
    return Identity(user_id=job.user_id, tenant_id=job.tenant_id)


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
    lote_id: str | None = None,
    total_items: int | None = None,
    run_at: datetime | None = None,
    transaction: TransactWrite | None = None,
    clock: Clock = SYSTEM_CLOCK,
    new_id: IdGenerator = new_cuid,
) -> Job:
    """Writes a new QUEUED job owned by `owner` (inside `transaction`, if given); one
    with `run_at` starts no earlier (engine/schedule.py)."""
    now = clock.now()
    job_id = job_id or new_id()
    job = Job(
        id=job_id,
        sweep_shard=sweep_shard_of(job_id),
        type=job_type.value,
        status=JobStatus.QUEUED.value,
        user_id=owner.user_id,
        tenant_id=owner.tenant_id,
        active_user_id=owner.user_id,
        parameters=parameters,
        message=message,
        upload_key=upload_key,
        lote_id=lote_id,
        total_items=total_items,
        run_at=run_at,
        checkpoint=Checkpoint(),
        created_at=now,
        updated_at=now,
        heartbeat_at=now,
        expires_at=now + timedelta(days=ttl_days),
    )
    if transaction is None:
        job.save(condition=Job.id.does_not_exist())
    else:
        transaction.save(job, condition=Job.id.does_not_exist())
    return job


def request_cancel(
    job: Job, *, job_types: registry.JobTypes | None = None, clock: Clock = SYSTEM_CLOCK
) -> Job:
    """QUEUED: cancelled at once. PROCESSING: flagged; the worker stops at its next chunk.

    Raises JobConflict if the job is final, or of a type that cannot be cancelled.
    """
    refusal = (job_types or registry.installed()).cancel_refusal(job)
    if refusal is not None:
        raise JobConflict(f"job {job.id} is a {job.type}, cannot cancel", refusal)
    for _ in range(3):
        status = job.job_status
        now = clock.now()
        if status is JobStatus.QUEUED:
            # A retried import waiting in the queue may still hold staged lines.
            staged = job.lote_id is not None and job.checkpoint.phase not in SPENT_PHASES
            leftovers: list[Action] = (
                [CHECKPOINT.phase.set(Phase.DISCARD.value)]
                if staged
                else [CHECKPOINT.phase.set(Phase.DONE.value), Job.sweep_shard.remove()]
            )
            done = update_if(
                job,
                [
                    Job.status.set(JobStatus.CANCELLED.value),
                    Job.message.set(
                        f"{JobType(job.type).noun.capitalize()} cancelada antes de comenzar."
                    ),
                    *leftovers,
                    *finished(now),
                ],
                (Job.status == JobStatus.QUEUED) & (CHECKPOINT.phase == job.checkpoint.phase),
            )
            if done:
                announce(job, JobStatus.CANCELLED)
        elif status is JobStatus.PROCESSING:
            if job.cancel_requested:
                return job
            done = update_if(
                job,
                [
                    Job.cancel_requested.set(True),
                    Job.message.set(
                        f"Cancelación solicitada; deteniendo la {JobType(job.type).noun}..."
                    ),
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


def starts_over(job: Job) -> bool:
    """Whether a retry of `job` starts over (its staged lines are gone) or resumes."""
    return Phase(job.checkpoint.phase) in SPENT_PHASES


def prepare_retry(
    job: Job,
    upload: tuple[int, str] | None,
    *,
    clock: Clock = SYSTEM_CLOCK,
    options: frozenset[str] = frozenset(),
) -> WorkMessage:
    """FAILED or CANCELLED -> QUEUED, counting the attempt; returns the message to send.

    It resumes from the checkpoint while the staged lines are there; once they were
    discarded (after a cancel, or when the retry window closed) it starts over, with
    `upload` (size, ETag) as the object is now. `options` are parameters set to true in
    the same update (retries.RETRY_OPTIONS: `replace` replaces the import's lote).
    """
    status = job.job_status
    if status not in RETRYABLE_STATUSES:
        raise JobConflict(
            f"job {job.id} is {status}, cannot retry",
            f"El proceso está {STATUS_LABELS[status]}; solo se reintentan procesos fallidos "
            "o cancelados.",
        )
    if Phase(job.checkpoint.phase) in DISCARDING_PHASES:
        raise JobConflict(
            f"job {job.id} is still discarding its staged lines",
            "Todavía se están descartando los registros del intento anterior; "
            "reintente en unos segundos.",
        )
    now = clock.now()
    actions: list[Action] = [
        Job.status.set(JobStatus.QUEUED.value),
        Job.attempts.add(1),
        Job.rescues.set(0),
        Job.cancel_requested.set(False),
        Job.retry_requested.remove(),
        Job.next_retry_at.remove(),
        Job.error.remove(),
        Job.completed_at.remove(),
        Job.active_user_id.set(job.user_id),
        Job.sweep_shard.set(sweep_shard_of(job.id)),
        Job.message.set("Reintento en cola."),
        Job.started_at.remove(),
        Job.heartbeat_at.set(now),
        Job.updated_at.set(now),
        CHECKPOINT.seq.add(1),
        CHECKPOINT.step.set(0),
    ]
    if options:
        actions.append(Job.parameters.set({**job.parameters, **dict.fromkeys(options, True)}))
    if starts_over(job):
        if upload is not None:
            actions += [Job.file_size.set(upload[0]), Job.file_etag.set(upload[1])]
        if upload is not None and upload[1] != job.file_etag:
            actions.append(Job.file_sha256.remove())  # of another file: not known
        actions += [
            CHECKPOINT.phase.set(Phase.VALIDATE.value),
            CHECKPOINT.byte_offset.set(0),
            CHECKPOINT.line_no.set(0),
            CHECKPOINT.state.set({}),
            Job.progress.set(0),
            Job.processed_items.set(0),
            Job.error_count.set(0),
            Job.total_items.remove(),
            Job.rows_per_second.remove(),
        ]
    condition = (
        (Job.status == status.value)
        & (Job.attempts == job.attempts)
        & (CHECKPOINT.seq == job.checkpoint.seq)
        & (CHECKPOINT.phase == job.checkpoint.phase)
    )
    if not update_if(job, actions, condition):
        raise JobConflict(f"job {job.id} changed during retry", "Intente nuevamente.")
    return message_for(job)


def renew_upload_window(job: Job, *, clock: Clock = SYSTEM_CLOCK) -> bool:
    """Restarts the wait for a QUEUED job's file (a new upload form was handed out: the
    sweeper's window counts from now); False if the file arrived or the job moved on."""
    now = clock.now()
    return update_if(
        job,
        [Job.heartbeat_at.set(now), Job.updated_at.set(now)],
        (Job.status == JobStatus.QUEUED) & Job.upload_key.exists() & Job.file_size.does_not_exist(),
    )


def record_upload(
    job: Job, size: int, etag: str, sha256: str | None, *, clock: Clock = SYSTEM_CLOCK
) -> bool:
    """Notes the arrived file's size, ETag (every read is pinned to that version) and
    SHA-256; False if it was already noted (a repeated S3 event)."""
    now = clock.now()
    return update_if(
        job,
        [
            Job.file_size.set(size),
            Job.file_etag.set(etag),
            Job.file_sha256.set(sha256) if sha256 else Job.file_sha256.remove(),
            Job.message.set("Archivo recibido; en cola para procesar."),
            Job.heartbeat_at.set(now),
            Job.updated_at.set(now),
        ],
        (Job.status == JobStatus.QUEUED) & Job.file_size.does_not_exist(),
    )


# --- any side -------------------------------------------------------------------------------


def fail(
    job: Job,
    code: str,
    message: str,
    *,
    staged: Staged,
    details: dict[str, Any] | None = None,
    fenced: bool = True,
    error_count: int | None = None,
    retry_at: datetime | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> None:
    """-> FAILED with a reason the user can read. Fenced when the worker decides it;
    `staged` says what becomes of the lines the job staged; `retry_at`, when the sweeper
    retries it by itself (retries.retry_time)."""
    error: dict[str, Any] = {"code": code, "message": message, **(details or {})}
    actions: list[Action] = [
        Job.status.set(JobStatus.FAILED.value),
        Job.message.set(message + AUTOMATIC_RETRY_NOTE if retry_at else message),
        Job.error.set(error),
        *finished(clock.now()),
    ]
    if retry_at is not None:
        actions.append(Job.next_retry_at.set(retry_at))
    if staged is Staged.NONE:
        actions += [Job.sweep_shard.remove(), CHECKPOINT.phase.set(Phase.DONE.value)]
    elif staged is Staged.DISCARD:
        actions.append(CHECKPOINT.phase.set(Phase.DISCARD.value))
    if error_count is not None:
        actions.append(Job.error_count.set(error_count))
    condition = fence(job) if fenced else Job.status.is_in(*(s.value for s in ACTIVE_STATUSES))
    if not update_if(job, actions, condition):
        if fenced:
            raise_lost_fence(job)
        raise Fenced(f"job {job.id} is {job.status}, cannot fail it")
    announce(job, JobStatus.FAILED)


def note_delivery_error(job_id: str, reason: str) -> None:
    """Remembers why a delivery failed, for the dead-letter handler (best effort)."""
    job = get(job_id)
    if job is not None:
        update_if(job, [Job.last_error.set(reason[:500])], Job.id.exists())


# --- sweeper side ---------------------------------------------------------------------------


def expire_upload(job: Job, *, clock: Clock = SYSTEM_CLOCK) -> None:
    """QUEUED import whose upload never arrived -> FAILED (unless it just did)."""
    message = "No se recibió el archivo a tiempo; cree la importación de nuevo."
    actions: list[Action] = [
        Job.status.set(JobStatus.FAILED.value),
        Job.message.set(message),
        Job.error.set({"code": "UPLOAD_TIMEOUT", "message": message}),
        Job.sweep_shard.remove(),
        CHECKPOINT.phase.set(Phase.DONE.value),
        *finished(clock.now()),
    ]
    if not update_if(job, actions, fence(job) & Job.file_size.does_not_exist()):
        raise Fenced(f"job {job.id} changed while expiring its upload")
    announce(job, JobStatus.FAILED)


def rescue(
    job: Job, *, counts: bool, phase: Phase | None = None, clock: Clock = SYSTEM_CLOCK
) -> WorkMessage:
    """Re-enqueues a job whose worker vanished: moves the fence past every old delivery
    and returns the message to send. `counts`: the rescue uses up one of the attempt's."""
    now = clock.now()
    actions: list[Action] = [
        CHECKPOINT.seq.add(1),
        CHECKPOINT.step.set(0),
        Job.heartbeat_at.set(now),
        Job.updated_at.set(now),
    ]
    if counts:
        actions.append(Job.rescues.add(1))
    if phase is not None:
        actions.append(CHECKPOINT.phase.set(phase.value))
    if not update_if(job, actions, fence(job)):
        raise Fenced(f"job {job.id} showed signs of life during its rescue")
    return message_for(job)
