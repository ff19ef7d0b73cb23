"""The job lifecycle: the only place a job's status changes.

Every transition is one conditional update, so two Lambdas (or a Lambda, the API
and the sweeper) racing on the same job cannot both win. Worker-side transitions
are fenced by the checkpoint (`seq`, `step`): a delivery that lost the race gets
`Fenced`. A watched job (`sweep_shard` set) is one the sweeper keeps an eye on:
unfinished, or holding staged lines still to be removed; its `heartbeat_at` is
its last sign of life.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from cuid2 import Cuid
from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.auth import Identity
from chalicelib.adapters.dynamo import condition_failed
from chalicelib.core.clock import utcnow
from chalicelib.core.errors import CancelRequested, Fenced, JobConflict
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
from chalicelib.engine.messaging import WorkMessage

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


def _update(job: Job, actions: Sequence[Action], condition: Condition) -> bool:
    """Applies `actions` if `condition` holds; False (job reloaded) if it did not."""
    try:
        job.update(actions=list(actions), condition=condition)
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        job.refresh(consistent_read=True)
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


def _no_cancel() -> Condition:
    condition: Condition = Job.cancel_requested == False  # noqa: E712 - a DynamoDB condition
    return condition


def _raise_lost_fence(job: Job) -> None:
    """After a failed fenced update (job reloaded): why this worker must stop."""
    if job.job_status is JobStatus.PROCESSING and job.cancel_requested:
        raise CancelRequested(f"job {job.id} has a cancel request")
    raise Fenced(
        f"job {job.id} moved on: status {job.status}, "
        f"seq {job.checkpoint.seq}, step {job.checkpoint.step}"
    )


def _finished(now: Any) -> list[Action]:
    """Actions every final transition shares."""
    return [
        Job.completed_at.set(now),
        Job.updated_at.set(now),
        Job.heartbeat_at.set(now),
        Job.active_user_id.remove(),
        Job.cancel_requested.set(False),
        Job.eta_seconds.remove(),
        _checkpoint.step.add(1),
    ]


def message_for(job: Job) -> WorkMessage:
    """The work message that continues `job` from its current checkpoint."""
    return WorkMessage(
        job_id=job.id,
        attempt=int(job.attempts),
        seq=int(job.checkpoint.seq),
        byte_offset=int(job.checkpoint.byte_offset),
        line_no=int(job.checkpoint.line_no),
    )


def get(job_id: str) -> Job | None:
    try:
        return Job.get(job_id, consistent_read=True)
    except DoesNotExist:
        return None


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
    transaction: TransactWrite | None = None,
) -> Job:
    """Writes a new QUEUED job owned by `owner` (inside `transaction`, if given)."""
    now = utcnow()
    job_id = job_id or new_job_id()
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


def request_cancel(job: Job) -> Job:
    """QUEUED: cancelled at once. PROCESSING: flagged; the worker stops at its next chunk."""
    if job.type == JobType.LOTE_DELETE:
        raise JobConflict(
            f"job {job.id} deletes a lote, cannot cancel",
            "La eliminación de un lote no se puede cancelar una vez pedida.",
        )
    for _ in range(3):
        status = job.job_status
        now = utcnow()
        if status is JobStatus.QUEUED:
            # A retried import waiting in the queue may still hold staged lines.
            staged = job.lote_id is not None and job.checkpoint.phase not in SPENT_PHASES
            leftovers: list[Action] = (
                [_checkpoint.phase.set(Phase.DISCARD.value)]
                if staged
                else [_checkpoint.phase.set(Phase.DONE.value), Job.sweep_shard.remove()]
            )
            done = _update(
                job,
                [
                    Job.status.set(JobStatus.CANCELLED.value),
                    Job.message.set("Importación cancelada antes de comenzar."),
                    *leftovers,
                    *_finished(now),
                ],
                (Job.status == JobStatus.QUEUED) & (_checkpoint.phase == job.checkpoint.phase),
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


def starts_over(job: Job) -> bool:
    """Whether a retry of `job` starts over (its staged lines are gone) or resumes."""
    return Phase(job.checkpoint.phase) in SPENT_PHASES


def prepare_retry(job: Job, upload: tuple[int, str] | None) -> WorkMessage:
    """FAILED or CANCELLED -> QUEUED, counting the attempt; returns the message to send.

    It resumes from the checkpoint while the staged lines are there; once they were
    discarded (after a cancel, or when the retry window closed) it starts over, with
    `upload` (size, ETag) as the object is now.
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
    now = utcnow()
    actions: list[Action] = [
        Job.status.set(JobStatus.QUEUED.value),
        Job.attempts.add(1),
        Job.rescues.set(0),
        Job.cancel_requested.set(False),
        Job.error.remove(),
        Job.completed_at.remove(),
        Job.active_user_id.set(job.user_id),
        Job.sweep_shard.set(sweep_shard_of(job.id)),
        Job.message.set("Reintento en cola."),
        Job.started_at.remove(),
        Job.heartbeat_at.set(now),
        Job.updated_at.set(now),
        _checkpoint.seq.add(1),
        _checkpoint.step.set(0),
    ]
    if starts_over(job):
        if upload is not None:
            actions += [Job.file_size.set(upload[0]), Job.file_etag.set(upload[1])]
        actions += [
            _checkpoint.phase.set(Phase.VALIDATE.value),
            _checkpoint.byte_offset.set(0),
            _checkpoint.line_no.set(0),
            _checkpoint.state.set({}),
            Job.progress.set(0),
            Job.processed_items.set(0),
            Job.error_count.set(0),
            Job.total_items.remove(),
            Job.rows_per_second.remove(),
        ]
    condition = (
        (Job.status == status.value)
        & (Job.attempts == job.attempts)
        & (_checkpoint.seq == job.checkpoint.seq)
        & (_checkpoint.phase == job.checkpoint.phase)
    )
    if not _update(job, actions, condition):
        raise JobConflict(f"job {job.id} changed during retry", "Intente nuevamente.")
    return message_for(job)


def record_upload(job: Job, size: int, etag: str) -> bool:
    """Notes the arrived file's size and ETag (every read is pinned to that version);
    False if it was already noted (a repeated S3 event)."""
    now = utcnow()
    return _update(
        job,
        [
            Job.file_size.set(size),
            Job.file_etag.set(etag),
            Job.message.set("Archivo recibido; en cola para procesar."),
            Job.heartbeat_at.set(now),
            Job.updated_at.set(now),
        ],
        (Job.status == JobStatus.QUEUED) & Job.file_size.does_not_exist(),
    )


def mark_lote_deleted(import_job_id: str) -> None:
    """Flags the import whose lines a deletion removed. Best effort: an import past its
    TTL is gone, and that must not block the deletion."""
    try:
        Job(import_job_id).update(
            actions=[Job.lote_deleted.set(True), Job.updated_at.set(utcnow())],
            condition=Job.id.exists(),
        )
    except UpdateError as exc:
        if not condition_failed(exc):
            raise


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
        # Progress proves the job is alive: rescues count only consecutive silences.
        Job.rescues.set(0),
    ]
    if progress.total_items is not None:
        actions.append(Job.total_items.set(progress.total_items))
    if progress.rows_per_second is not None:
        actions.append(Job.rows_per_second.set(round(progress.rows_per_second, 1)))
    if progress.eta_seconds is not None:
        actions.append(Job.eta_seconds.set(progress.eta_seconds))
    if lote_id is not None:
        actions.append(Job.lote_id.set(lote_id))
    if not _update(job, actions, _fence(job) & _no_cancel()):
        _raise_lost_fence(job)


def hand_off(job: Job) -> WorkMessage:
    """Moves the fence to the next delivery; returns the continuation to send."""
    now = utcnow()
    if not _update(
        job,
        [_checkpoint.seq.add(1), Job.heartbeat_at.set(now), Job.updated_at.set(now)],
        _fence(job) & _no_cancel(),
    ):
        _raise_lost_fence(job)
    return message_for(job)


def add_completion(
    transaction: TransactWrite, job: Job, result: dict[str, Any], message: str
) -> None:
    """PROCESSING -> COMPLETED inside `transaction` (committed together with the lote)."""
    total = int(job.total_items or 0)
    transaction.update(
        job,
        actions=[
            Job.status.set(JobStatus.COMPLETED.value),
            Job.progress.set(100),
            Job.processed_items.set(total),
            Job.message.set(message),
            Job.result.set(result),
            Job.sweep_shard.remove(),
            _checkpoint.phase.set(Phase.DONE.value),
            *_finished(utcnow()),
        ],
        condition=_fence(job) & _no_cancel(),
    )


def fail(
    job: Job,
    code: str,
    message: str,
    *,
    staged: Staged,
    details: dict[str, Any] | None = None,
    fenced: bool = True,
    error_count: int | None = None,
) -> None:
    """-> FAILED with a reason the user can read. Fenced when the worker decides it;
    `staged` says what becomes of the lines the job staged."""
    error: dict[str, Any] = {"code": code, "message": message, **(details or {})}
    actions: list[Action] = [
        Job.status.set(JobStatus.FAILED.value),
        Job.message.set(message),
        Job.error.set(error),
        *_finished(utcnow()),
    ]
    if staged is Staged.NONE:
        actions += [Job.sweep_shard.remove(), _checkpoint.phase.set(Phase.DONE.value)]
    elif staged is Staged.DISCARD:
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
    actions: list[Action] = [
        Job.status.set(JobStatus.CANCELLED.value),
        Job.message.set(
            f"Importación cancelada con {format_count(int(job.processed_items))} registros "
            "procesados; no se guardó ninguno."
        ),
        _checkpoint.phase.set(Phase.DISCARD.value),
        *_finished(utcnow()),
    ]
    condition = (Job.status == JobStatus.PROCESSING) & (Job.cancel_requested == True)  # noqa: E712
    if not _update(job, actions, condition):
        raise Fenced(f"job {job.id} is {job.status}, cannot mark it cancelled")


def discard_step(job: Job, done: bool) -> None:
    """Records a chunk of discarding. Done with the first pass (DISCARD): SETTLING, still
    watched, for the sweeper's last pass; done with that one (VERIFY): nothing to watch."""
    now = utcnow()
    actions: list[Action] = [
        _checkpoint.step.add(1),
        Job.heartbeat_at.set(now),
        Job.updated_at.set(now),
    ]
    if done and job.checkpoint.phase == Phase.VERIFY:
        actions += [_checkpoint.phase.set(Phase.DONE.value), Job.sweep_shard.remove()]
    elif done:
        actions.append(_checkpoint.phase.set(Phase.SETTLING.value))
    if not _update(job, actions, _fence(job)):
        _raise_lost_fence(job)


def note_delivery_error(job_id: str, reason: str) -> None:
    """Remembers why a delivery failed, for the dead-letter handler (best effort)."""
    job = get(job_id)
    if job is not None:
        _update(job, [Job.last_error.set(reason[:500])], Job.id.exists())


# --- sweeper side ---


def expire_upload(job: Job) -> None:
    """QUEUED import whose upload never arrived -> FAILED (unless it just did)."""
    message = "No se recibió el archivo a tiempo; cree la importación de nuevo."
    actions: list[Action] = [
        Job.status.set(JobStatus.FAILED.value),
        Job.message.set(message),
        Job.error.set({"code": "UPLOAD_TIMEOUT", "message": message}),
        Job.sweep_shard.remove(),
        _checkpoint.phase.set(Phase.DONE.value),
        *_finished(utcnow()),
    ]
    if not _update(job, actions, _fence(job) & Job.file_size.does_not_exist()):
        raise Fenced(f"job {job.id} changed while expiring its upload")


def rescue(job: Job, *, counts: bool, phase: Phase | None = None) -> WorkMessage:
    """Re-enqueues a job whose worker vanished: moves the fence past every old delivery
    and returns the message to send. `counts`: the rescue uses up one of the attempt's."""
    now = utcnow()
    actions: list[Action] = [
        _checkpoint.seq.add(1),
        _checkpoint.step.set(0),
        Job.heartbeat_at.set(now),
        Job.updated_at.set(now),
    ]
    if counts:
        actions.append(Job.rescues.add(1))
    if phase is not None:
        actions.append(_checkpoint.phase.set(phase.value))
    if not _update(job, actions, _fence(job)):
        raise Fenced(f"job {job.id} showed signs of life during its rescue")
    return message_for(job)
