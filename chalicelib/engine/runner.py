"""One worker invocation: chunks of work until the time budget runs low, then a continuation.

The engine is generic: each job type registers a runner that does one chunk at a
time and says how far it got; the engine fences every step on the job's
checkpoint, honours cancel requests between chunks, keeps the invocation inside
its time budget and re-enqueues the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from chalicelib.adapters.dynamo import time_limit
from chalicelib.adapters.services import Services
from chalicelib.core.errors import CancelRequested, Fenced
from chalicelib.core.models import DISCARDING_PHASES, Job, JobStatus, JobType, Phase, Staged
from chalicelib.core.observability import logger, tracer
from chalicelib.engine import lifecycle
from chalicelib.engine.messaging import WorkMessage


@dataclass(frozen=True)
class Advanced:
    """A chunk is done; record where the job stands."""

    checkpoint: lifecycle.CheckpointUpdate
    progress: lifecycle.Progress
    lote_id: str | None = None


@dataclass(frozen=True)
class Finished:
    """The runner committed its work and completed the job."""

    summary: str


@dataclass(frozen=True)
class Failed:
    """The job cannot succeed (bad input, a conflict); tell the user why."""

    code: str
    message: str
    details: dict[str, Any] | None = None
    error_count: int | None = None
    staged: Staged = Staged.NONE


ChunkOutcome = Advanced | Finished | Failed


class JobRunner(Protocol):
    """The work of one job type, one chunk at a time."""

    def start_message(self) -> str: ...

    def rules_version(self, job: Job) -> int | None:
        """The version of the tenant's rules to freeze on the job at start, if it uses rules."""
        ...

    def run_chunk(self, job: Job) -> ChunkOutcome: ...

    def discard_chunk(self, job: Job) -> bool:
        """Removes part of what the job staged; True once nothing is left."""
        ...


RunnerFactory = Callable[[Services], JobRunner]
_REGISTRY: dict[JobType, RunnerFactory] = {}


def register(job_type: JobType) -> Callable[[RunnerFactory], RunnerFactory]:
    """Class decorator: the runner for `job_type`."""

    def decorator(factory: RunnerFactory) -> RunnerFactory:
        _REGISTRY[job_type] = factory
        return factory

    return decorator


def runner_for(job: Job, services: Services) -> JobRunner:
    return _REGISTRY[JobType(job.type)](services)


class TimeBudget:
    """Whether another chunk fits in what is left of the invocation.

    Reads only the Lambda's remaining time, so a test drives it with its own clock.
    A chunk may take as long as twice the slowest chunk seen so far, and the
    safety margin is kept for the checkpoint and the continuation.
    """

    def __init__(self, remaining_ms: Callable[[], int], margin_ms: int) -> None:
        self._remaining_ms = remaining_ms
        self._margin_ms = margin_ms
        self._longest_ms = 0
        self._chunk_started_at: int | None = None

    def chunk_started(self) -> None:
        self._chunk_started_at = self._remaining_ms()

    def chunk_finished(self) -> None:
        if self._chunk_started_at is not None:
            spent = self._chunk_started_at - self._remaining_ms()
            self._longest_ms = max(self._longest_ms, spent)

    def allows_another_chunk(self) -> bool:
        return self._remaining_ms() - 2 * self._longest_ms > self._margin_ms


@dataclass(frozen=True)
class InvocationReport:
    """What one delivery did, for logs and tests."""

    job_id: str
    outcome: str
    chunks: int = 0
    continued: bool = False


@tracer.capture_method
def handle(
    message: WorkMessage, services: Services, remaining_ms: Callable[[], int]
) -> InvocationReport:
    """Processes one work message. Raises only on transient errors (SQS then retries)."""
    job = lifecycle.get(message.job_id)
    if job is None:
        return InvocationReport(message.job_id, "dropped: no such job")
    logger.append_keys(job_id=job.id, user_id=job.user_id)
    if message.seq != job.checkpoint.seq or message.attempt != job.attempts:
        return InvocationReport(
            job.id, f"dropped: stale message seq {message.seq}, job at {job.checkpoint.seq}"
        )
    runner = runner_for(job, services)
    margin_ms = services.settings.safety_margin_ms
    budget = TimeBudget(remaining_ms, margin_ms)
    status = job.job_status
    # Retries inside a chunk stop before they eat the time kept to hand off.
    with time_limit(lambda: remaining_ms() - margin_ms // 2):
        return _dispatch(job, status, runner, budget, services)


def _dispatch(
    job: Job, status: JobStatus, runner: JobRunner, budget: TimeBudget, services: Services
) -> InvocationReport:
    try:
        if status.is_final:
            if Phase(job.checkpoint.phase) not in DISCARDING_PHASES:
                return InvocationReport(job.id, f"dropped: job is {status}")
            return _discard(job, runner, budget, services, chunks=0)
        if status is JobStatus.QUEUED:
            lifecycle.start(job, runner.start_message(), runner.rules_version(job))
        return _run(job, runner, budget, services)
    except Fenced as exc:
        logger.info("delivery lost the job to another one", extra={"reason": str(exc)})
        return InvocationReport(job.id, "dropped: fenced")


def _run(job: Job, runner: JobRunner, budget: TimeBudget, services: Services) -> InvocationReport:
    chunks = 0
    try:
        while True:
            if job.cancel_requested:
                raise CancelRequested(f"job {job.id} has a cancel request")
            budget.chunk_started()
            outcome = runner.run_chunk(job)
            chunks += 1
            if isinstance(outcome, Finished):
                logger.info("job completed", extra={"summary": outcome.summary})
                services.job_finished(job, JobStatus.COMPLETED)
                return InvocationReport(job.id, "completed", chunks)
            if isinstance(outcome, Failed):
                lifecycle.fail(
                    job,
                    outcome.code,
                    outcome.message,
                    staged=outcome.staged,
                    details=outcome.details,
                    error_count=outcome.error_count,
                )
                logger.info("job failed", extra={"code": outcome.code})
                services.job_finished(job, JobStatus.FAILED, outcome.code)
                if outcome.staged is Staged.DISCARD:
                    return _discard(job, runner, budget, services, chunks)
                return InvocationReport(job.id, "failed", chunks)
            lifecycle.advance(job, outcome.checkpoint, outcome.progress, lote_id=outcome.lote_id)
            budget.chunk_finished()
            if not budget.allows_another_chunk():
                _continue(job, services)
                return InvocationReport(job.id, "continued", chunks, continued=True)
    except CancelRequested:
        lifecycle.mark_cancelled(job)
        logger.info("job cancelled", extra={"chunks": chunks})
        services.job_finished(job, JobStatus.CANCELLED)
        return _discard(job, runner, budget, services, chunks)


def _discard(
    job: Job, runner: JobRunner, budget: TimeBudget, services: Services, chunks: int
) -> InvocationReport:
    """Removes what a FAILED or CANCELLED job staged, as many chunks as the budget allows."""
    while True:
        budget.chunk_started()
        done = runner.discard_chunk(job)
        chunks += 1
        lifecycle.discard_step(job, done=done)
        if done:
            return InvocationReport(job.id, f"{job.status.lower()}: discarded", chunks)
        budget.chunk_finished()
        if not budget.allows_another_chunk():
            _continue(job, services)
            return InvocationReport(job.id, "discarding", chunks, continued=True)


def _continue(job: Job, services: Services) -> None:
    services.queue.send(lifecycle.hand_off(job))


def fail_dead_letter(message: WorkMessage) -> bool:
    """A work message failed every delivery: its job is FAILED, resumable by a retry.

    A dead copy of a message the job already moved past is ignored: the live
    delivery carries on. Returns whether the job was failed.
    """
    job = lifecycle.get(message.job_id)
    if job is None or job.job_status.is_final:
        return False
    if message.seq != job.checkpoint.seq or message.attempt != job.attempts:
        return False
    keeps_work = job.checkpoint.phase == Phase.IMPORT or job.type == JobType.LOTE_DELETE
    staged = Staged.KEEP if keeps_work else Staged.NONE
    cause = (job.last_error or "error").split(":", 1)[0]
    try:
        lifecycle.fail(
            job,
            "PROCESSING_ERROR",
            "La importación se detuvo por un error interno que se repitió; puede reintentarla.",
            staged=staged,
            details={"cause": cause},
        )
    except Fenced:
        return False
    return True
