"""The sweeper (an EventBridge schedule): no job stays PROCESSING forever.

It reads only the sparse index of watched jobs, oldest sign of life first, and:
- re-enqueues a QUEUED or PROCESSING job whose worker vanished, from its checkpoint,
  and fails it once the attempt's rescues are used up;
- fails a QUEUED import whose upload never arrived once the upload window closed (or
  queues it, if the file is there but its notification was lost);
- resumes an interrupted discard; gives a discarded job its last pass (VERIFY) once no
  earlier delivery can still be writing; starts discarding the lines a FAILED import
  kept for a retry once the retry window closed;
- retries a failed job of a type that asks for it (a lote deletion must not leave a
  lote half deleted), up to the attempts its type declares.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from chalicelib.adapters.services import Services
from chalicelib.core.errors import Fenced, JobConflict
from chalicelib.core.models import SWEEP_SHARDS, Job, JobStatus, Phase
from chalicelib.core.observability import logger
from chalicelib.engine import lifecycle, registry, retries

UPLOAD_GRACE = timedelta(minutes=5)


@dataclass
class SweepReport:
    """Job ids by what the sweep did to them."""

    rescued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    discarding: list[str] = field(default_factory=list)
    retried: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Windows:
    stale_after: timedelta
    upload: timedelta
    retry: timedelta


def sweep(
    services: Services,
    now: datetime | None = None,
    *,
    job_types: registry.JobTypes | None = None,
) -> SweepReport:
    """One pass over the watched jobs, as of `now` (the services' clock if not given);
    returns what it did."""
    now = now or services.clock.now()
    settings = services.settings
    context = _Context(services, job_types or registry.installed(), now)
    windows = _Windows(
        stale_after=timedelta(seconds=settings.stale_after_s),
        upload=timedelta(seconds=settings.upload_url_ttl_s) + UPLOAD_GRACE,
        retry=timedelta(seconds=settings.retry_window_s),
    )
    report = SweepReport()
    first_retry = timedelta(seconds=settings.auto_retry_base_s)
    oldest_worth_a_look = now - min(windows.stale_after, windows.upload, first_retry)
    for shard in range(SWEEP_SHARDS):
        for key in Job.sweep.query(f"SWEEP#{shard}", Job.heartbeat_at <= oldest_worth_a_look):
            job = lifecycle.get(key.id)  # the index holds keys only; act on the job as it is now
            if job is None or job.sweep_shard is None:
                continue
            quiet_for = now - (job.heartbeat_at or job.updated_at)
            try:
                _sweep_one(job, quiet_for, windows, context, report)
            except (Fenced, JobConflict):
                logger.info("job moved during the sweep", extra={"job_id": job.id})
    if report.rescued or report.failed or report.discarding or report.retried:
        logger.info("sweep", extra={"report": report.__dict__})
    return report


@dataclass(frozen=True)
class _Context:
    services: Services
    job_types: registry.JobTypes
    now: datetime


def _sweep_one(
    job: Job, quiet_for: timedelta, windows: _Windows, context: _Context, report: SweepReport
) -> None:
    services, clock = context.services, context.services.clock
    status = job.job_status
    phase = Phase(job.checkpoint.phase)
    if status is JobStatus.QUEUED and job.upload_key is not None and job.file_size is None:
        if quiet_for < windows.upload:
            return
        if context.job_types.for_job(job, services).accept_overdue_upload(job):
            report.rescued.append(job.id)
            return
        lifecycle.expire_upload(job, clock=clock)
        report.failed.append(job.id)
    elif status in (JobStatus.QUEUED, JobStatus.PROCESSING):
        if quiet_for >= windows.stale_after:
            _rescue_or_fail(job, context, report)
    elif phase in (Phase.DISCARD, Phase.VERIFY, Phase.SETTLING):
        if quiet_for >= windows.stale_after:
            # SETTLING: every delivery older than the discard is gone by now: last pass.
            next_phase = Phase.VERIFY if phase is Phase.SETTLING else None
            services.queue.send(lifecycle.rescue(job, counts=False, phase=next_phase, clock=clock))
            report.discarding.append(job.id)
    elif status is JobStatus.FAILED:
        _sweep_failed(job, quiet_for, windows, context, report)


def _sweep_failed(
    job: Job, quiet_for: timedelta, windows: _Windows, context: _Context, report: SweepReport
) -> None:
    """A FAILED job: its automatic retry when due; its staged lines discarded once the
    retry window has closed."""
    services, clock = context.services, context.services.clock
    if job.next_retry_at is not None:
        kind = context.job_types.for_job(job, services)
        if retries.retry_when_due(job, services, kind, context.now):
            report.retried.append(job.id)
    elif attempts := _auto_retry_attempts(job, context):
        if quiet_for >= windows.stale_after and int(job.attempts) < attempts:
            services.queue.send(lifecycle.prepare_retry(job, None, clock=clock))
            report.retried.append(job.id)
    elif Phase(job.checkpoint.phase) is not Phase.DONE and quiet_for >= windows.retry:
        services.queue.send(lifecycle.rescue(job, counts=False, phase=Phase.DISCARD, clock=clock))
        report.discarding.append(job.id)


def _auto_retry_attempts(job: Job, context: _Context) -> int:
    return context.job_types.kind_of(job.type).auto_retry_attempts


def _rescue_or_fail(job: Job, context: _Context, report: SweepReport) -> None:
    services = context.services
    if int(job.rescues) < services.settings.max_attempts:
        services.queue.send(lifecycle.rescue(job, counts=True, clock=services.clock))
        report.rescued.append(job.id)
        return
    kind = context.job_types.kind_of(job.type)
    lifecycle.fail(
        job,
        "WORKER_LOST",
        "El proceso dejó de avanzar varias veces; puede reintentarlo.",
        staged=kind.staged_on_failure(job),
        retry_at=retries.retry_time(job, kind, "WORKER_LOST", services.settings, context.now),
        clock=services.clock,
    )
    report.failed.append(job.id)
