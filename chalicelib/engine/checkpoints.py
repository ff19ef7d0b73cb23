"""The worker's transitions: start, a chunk's checkpoint, the hand-off to a continuation,
completion, cancel and discard. Each is fenced on the checkpoint the worker loaded."""

from __future__ import annotations

from typing import Any

from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib.core.clock import SYSTEM_CLOCK, Clock
from chalicelib.core.errors import Fenced
from chalicelib.core.models import Job, JobStatus, JobType, Phase
from chalicelib.engine import progress as progress_math
from chalicelib.engine.finals import announce
from chalicelib.engine.guards import (
    CHECKPOINT,
    fence,
    finished,
    format_count,
    message_for,
    no_cancel,
    raise_lost_fence,
    update_if,
)
from chalicelib.engine.jobtype import CheckpointUpdate, Progress, Start
from chalicelib.engine.messaging import WorkMessage


def start(job: Job, plan: Start, *, clock: Clock = SYSTEM_CLOCK) -> None:
    """QUEUED -> PROCESSING. Raises Fenced if the job was cancelled or started meanwhile.

    What the type freezes is set only if the job does not hold it yet: a retry runs on
    the snapshot its first start took.
    """
    now = clock.now()
    actions: list[Action] = [
        Job.status.set(JobStatus.PROCESSING.value),
        Job.message.set(plan.message),
        Job.heartbeat_at.set(now),
        Job.updated_at.set(now),
    ]
    if job.started_at is None:
        actions.append(Job.started_at.set(now))
    attributes = Job.get_attributes()
    for name, value in plan.frozen.items():
        if name not in attributes:
            raise ValueError(f"job type froze {name!r}, which is not a job attribute")
        if value is not None and getattr(job, name) is None:
            actions.append(attributes[name].set(value))
    condition = (
        (Job.status == JobStatus.QUEUED)
        & (CHECKPOINT.seq == job.checkpoint.seq)
        & (Job.attempts == job.attempts)
    )
    if not update_if(job, actions, condition):
        raise Fenced(f"job {job.id} is {job.status}, not QUEUED, at start")


def advance(
    job: Job,
    checkpoint: CheckpointUpdate,
    progress: Progress,
    lote_id: str | None = None,
    *,
    clock: Clock = SYSTEM_CLOCK,
) -> None:
    """Records a finished chunk: ONE conditional update of checkpoint, progress and heartbeat."""
    now = clock.now()
    actions: list[Action] = [
        CHECKPOINT.step.add(1),
        CHECKPOINT.phase.set(checkpoint.phase),
        CHECKPOINT.byte_offset.set(checkpoint.byte_offset),
        CHECKPOINT.line_no.set(checkpoint.line_no),
        CHECKPOINT.state.set(checkpoint.state),
        Job.progress.set(progress_math.never_below(progress.progress, int(job.progress))),
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
    if not update_if(job, actions, fence(job) & no_cancel()):
        raise_lost_fence(job)


def hand_off(job: Job, *, clock: Clock = SYSTEM_CLOCK) -> WorkMessage:
    """Moves the fence to the next delivery; returns the continuation to send."""
    now = clock.now()
    if not update_if(
        job,
        [CHECKPOINT.seq.add(1), Job.heartbeat_at.set(now), Job.updated_at.set(now)],
        fence(job) & no_cancel(),
    ):
        raise_lost_fence(job)
    return message_for(job)


def add_completion(
    transaction: TransactWrite,
    job: Job,
    result: dict[str, Any],
    message: str,
    *,
    error_count: int = 0,
    clock: Clock = SYSTEM_CLOCK,
) -> None:
    """PROCESSING -> COMPLETED inside `transaction` (committed together with the type's
    work); `error_count`: the lines it skipped as invalid, as its error report lists them."""
    total = int(job.total_items or 0)
    transaction.update(
        job,
        actions=[
            Job.error_count.set(error_count),
            Job.status.set(JobStatus.COMPLETED.value),
            Job.progress.set(100),
            Job.processed_items.set(total),
            Job.message.set(message),
            Job.result.set(result),
            Job.sweep_shard.remove(),
            CHECKPOINT.phase.set(Phase.DONE.value),
            *finished(clock.now()),
        ],
        condition=fence(job) & no_cancel(),
    )


def mark_cancelled(job: Job, *, clock: Clock = SYSTEM_CLOCK) -> None:
    """PROCESSING with a cancel request -> CANCELLED; what it staged is to be discarded."""
    actions: list[Action] = [
        Job.status.set(JobStatus.CANCELLED.value),
        Job.message.set(
            f"{JobType(job.type).noun.capitalize()} cancelada con "
            f"{format_count(int(job.processed_items))} registros "
            "procesados; no se guardó ninguno."
        ),
        CHECKPOINT.phase.set(Phase.DISCARD.value),
        *finished(clock.now()),
    ]
    condition = (Job.status == JobStatus.PROCESSING) & (Job.cancel_requested == True)  # noqa: E712
    if not update_if(job, actions, condition):
        raise Fenced(f"job {job.id} is {job.status}, cannot mark it cancelled")
    announce(job, JobStatus.CANCELLED)


def discard_step(job: Job, done: bool, *, clock: Clock = SYSTEM_CLOCK) -> None:
    """Records a chunk of discarding. Done with the first pass (DISCARD): SETTLING, still
    watched, for the sweeper's last pass; done with that one (VERIFY): nothing to watch."""
    now = clock.now()
    actions: list[Action] = [
        CHECKPOINT.step.add(1),
        Job.heartbeat_at.set(now),
        Job.updated_at.set(now),
    ]
    if done and job.checkpoint.phase == Phase.VERIFY:
        actions += [CHECKPOINT.phase.set(Phase.DONE.value), Job.sweep_shard.remove()]
    elif done:
        actions.append(CHECKPOINT.phase.set(Phase.SETTLING.value))
    if not update_if(job, actions, fence(job)):
        raise_lost_fence(job)
