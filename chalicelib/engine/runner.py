"""One worker invocation: chunks of work until the time budget runs low, then a continuation.

The engine is generic: a job type (looked up in the installed table) does one chunk
at a time and says how far it got; the engine fences every step on the job's
checkpoint, honours cancel requests between chunks, keeps the invocation inside its
time budget, re-enqueues the rest and counts what it did (EMF metrics by job type).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chalicelib.adapters.dynamo import time_limit
from chalicelib.adapters.services import Services
from chalicelib.core import observability
from chalicelib.core.clock import SYSTEM_CLOCK
from chalicelib.core.errors import CancelRequested, Fenced
from chalicelib.core.models import DISCARDING_PHASES, Job, JobStatus, JobType, Phase, Staged
from chalicelib.core.observability import logger, tracer
from chalicelib.core.settings import get_settings
from chalicelib.engine import checkpoints, lifecycle, registry, retries, schedule
from chalicelib.engine.finals import announce
from chalicelib.engine.jobtype import Failed, Finished, JobKind
from chalicelib.engine.messaging import WorkMessage

# The least time kept to checkpoint and re-enqueue, whatever share of a short budget
# gives: a few AWS calls (unless SAFETY_MARGIN_MS, the cap, is smaller still).
MARGIN_FLOOR_MS = 1_000


def safety_margin_ms(starting_ms: int, share: float, cap_ms: int) -> int:
    """The time an invocation keeps in reserve: `share` of the `starting_ms` it starts
    with, at least `MARGIN_FLOOR_MS`, at most `cap_ms`. A 10 s budget keeps 1 s and does
    several chunks; a 15 min one keeps the cap (10 s by default)."""
    return min(cap_ms, max(MARGIN_FLOOR_MS, round(share * max(starting_ms, 0))))


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

    @classmethod
    def for_invocation(
        cls, remaining_ms: Callable[[], int], *, share: float, cap_ms: int
    ) -> TimeBudget:
        """A budget whose margin is `share` of the time left now (see `safety_margin_ms`)."""
        return cls(remaining_ms, safety_margin_ms(remaining_ms(), share, cap_ms))

    @property
    def margin_ms(self) -> int:
        return self._margin_ms

    def chunk_started(self) -> None:
        self._chunk_started_at = self._remaining_ms()

    def chunk_finished(self) -> int:
        """Ends the chunk; returns how many milliseconds it took (0 if none was started)."""
        if self._chunk_started_at is None:
            return 0
        spent = self._chunk_started_at - self._remaining_ms()
        self._chunk_started_at = None
        self._longest_ms = max(self._longest_ms, spent)
        return spent

    def allows_another_chunk(self) -> bool:
        return self._remaining_ms() - 2 * self._longest_ms > self._margin_ms


@dataclass(frozen=True)
class InvocationReport:
    """What one delivery did, for logs and tests."""

    job_id: str
    outcome: str
    chunks: int = 0
    continued: bool = False


@dataclass(frozen=True)
class _Delivery:
    """What every step of one delivery works with."""

    job: Job
    kind: JobKind
    budget: TimeBudget
    services: Services


@tracer.capture_method
def handle(
    message: WorkMessage,
    services: Services,
    remaining_ms: Callable[[], int],
    *,
    job_types: registry.JobTypes | None = None,
) -> InvocationReport:
    """Processes one work message. Raises only on transient errors (SQS then retries)."""
    job = lifecycle.get(message.job_id)
    if job is None:
        return InvocationReport(message.job_id, "dropped: no such job")
    logger.append_keys(job_id=job.id, user_id=job.user_id, tenant_id=job.tenant_id)
    if message.seq != job.checkpoint.seq or message.attempt != job.attempts:
        return InvocationReport(
            job.id, f"dropped: stale message seq {message.seq}, job at {job.checkpoint.seq}"
        )
    kind = (job_types or registry.installed()).for_job(job, services)
    settings = services.settings
    budget = TimeBudget.for_invocation(
        remaining_ms, share=settings.safety_margin_share, cap_ms=settings.safety_margin_ms
    )
    delivery = _Delivery(job, kind, budget, services)
    margin_ms = budget.margin_ms
    # Retries inside a chunk stop before they eat the time kept to hand off.
    with time_limit(lambda: remaining_ms() - margin_ms // 2):
        return _dispatch(delivery, job.job_status)


def _dispatch(delivery: _Delivery, status: JobStatus) -> InvocationReport:
    job = delivery.job
    try:
        if status.is_final:
            if Phase(job.checkpoint.phase) not in DISCARDING_PHASES:
                return InvocationReport(job.id, f"dropped: job is {status}")
            return _discard(delivery, chunks=0)
        if status is JobStatus.QUEUED:
            if schedule.hold(job, delivery.services):
                return InvocationReport(job.id, "held: runAt not reached")
            checkpoints.start(job, delivery.kind.start(job), clock=delivery.services.clock)
        return _run(delivery)
    except Fenced as exc:
        logger.info("delivery lost the job to another one", extra={"reason": str(exc)})
        return InvocationReport(job.id, "dropped: fenced")


def _run(delivery: _Delivery) -> InvocationReport:
    job, kind, budget, services = delivery.job, delivery.kind, delivery.budget, delivery.services
    clock = services.clock
    chunks = 0
    try:
        while True:
            if job.cancel_requested:
                raise CancelRequested(f"job {job.id} has a cancel request")
            processed_before = int(job.processed_items)
            budget.chunk_started()
            outcome = kind.run_chunk(job)
            chunks += 1
            if isinstance(outcome, Finished):
                _chunk_done(job, budget, int(job.total_items or 0) - processed_before)
                for follow_up in outcome.follow_ups:
                    schedule.send_when_due(follow_up, services)  # now, or at its runAt
                logger.info("job completed", extra={"summary": outcome.summary})
                announce(job, JobStatus.COMPLETED)
                return InvocationReport(job.id, "completed", chunks)
            if isinstance(outcome, Failed):
                _chunk_done(job, budget, 0)
                lifecycle.fail(
                    job,
                    outcome.code,
                    outcome.message,
                    staged=outcome.staged,
                    details=outcome.details,
                    error_count=outcome.error_count,
                    clock=clock,
                )
                logger.info("job failed", extra={"code": outcome.code})
                if outcome.staged is Staged.DISCARD:
                    return _discard(delivery, chunks)
                return InvocationReport(job.id, "failed", chunks)
            checkpoints.advance(
                job, outcome.checkpoint, outcome.progress, lote_id=outcome.lote_id, clock=clock
            )
            _chunk_done(job, budget, outcome.progress.processed_items - processed_before)
            if not budget.allows_another_chunk():
                _continue(delivery)
                return InvocationReport(job.id, "continued", chunks, continued=True)
    except CancelRequested:
        checkpoints.mark_cancelled(job, clock=clock)
        logger.info("job cancelled", extra={"chunks": chunks})
        return _discard(delivery, chunks)


def _chunk_done(job: Job, budget: TimeBudget, items: int) -> None:
    """Ends a chunk of work (not of discarding) and counts its items and its duration."""
    observability.chunk_processed(job.type, max(items, 0), budget.chunk_finished())


def _discard(delivery: _Delivery, chunks: int) -> InvocationReport:
    """Removes what a FAILED or CANCELLED job staged, as many chunks as the budget allows."""
    job, kind, budget, services = delivery.job, delivery.kind, delivery.budget, delivery.services
    while True:
        budget.chunk_started()
        done = kind.discard_chunk(job)
        chunks += 1
        checkpoints.discard_step(job, done=done, clock=services.clock)
        budget.chunk_finished()
        if done:
            retries.resume_deferred(job, services)
            return InvocationReport(job.id, f"{job.status.lower()}: discarded", chunks)
        if not budget.allows_another_chunk():
            _continue(delivery)
            return InvocationReport(job.id, "discarding", chunks, continued=True)


def _continue(delivery: _Delivery) -> None:
    job, services = delivery.job, delivery.services
    services.queue.send(checkpoints.hand_off(job, clock=services.clock))
    observability.continued(job.type)


def fail_dead_letter(
    message: WorkMessage,
    services: Services | None = None,
    *,
    job_types: registry.JobTypes | None = None,
) -> bool:
    """A work message failed every delivery: its job is FAILED, resumable by a retry.

    A dead copy of a message the job already moved past is ignored: the live
    delivery carries on. What the job staged is what its type keeps on such a
    failure. Returns whether the job was failed.
    """
    job = lifecycle.get(message.job_id)
    if job is None or job.job_status.is_final:
        return False
    if message.seq != job.checkpoint.seq or message.attempt != job.attempts:
        return False
    kind = (job_types or registry.installed()).kind_of(job.type)
    cause = (job.last_error or "error").split(":", 1)[0]
    clock = services.clock if services is not None else SYSTEM_CLOCK
    settings = services.settings if services is not None else get_settings()
    try:
        lifecycle.fail(
            job,
            "PROCESSING_ERROR",
            f"La {JobType(job.type).noun} se detuvo por un error interno que se repitió; "
            "puede reintentarla.",
            staged=kind.staged_on_failure(job),
            details={"cause": cause},
            retry_at=retries.retry_time(job, kind, "PROCESSING_ERROR", settings, clock.now()),
            clock=clock,
        )
    except Fenced:
        return False
    return True
