"""The sweeper (an EventBridge schedule): no job stays PROCESSING forever.

It reads only the sparse index of watched jobs, oldest sign of life first, and:
- re-enqueues a QUEUED or PROCESSING job whose worker vanished, from its checkpoint,
  and fails it once the attempt's rescues are used up;
- fails a QUEUED import whose upload never arrived once the upload window closed (or
  queues it, if the file is there but its notification was lost);
- resumes an interrupted discard; gives a discarded job its last pass (VERIFY) once no
  earlier delivery can still be writing; starts discarding the lines a FAILED import
  kept for a retry once the retry window closed;
- retries a failed lote deletion, which must not leave a lote half deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from chalicelib.adapters.services import Services
from chalicelib.core.errors import Fenced, JobConflict
from chalicelib.core.models import SWEEP_SHARDS, Job, JobStatus, JobType, Phase, Staged
from chalicelib.core.observability import logger
from chalicelib.engine import lifecycle
from chalicelib.jobtypes import dkt_upload

UPLOAD_GRACE = timedelta(minutes=5)
# Automatic retries of a failed lote deletion before a person must look at it.
MAX_DELETE_ATTEMPTS = 5


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


def sweep(services: Services, now: datetime) -> SweepReport:
    settings = services.settings
    windows = _Windows(
        stale_after=timedelta(seconds=settings.stale_after_s),
        upload=timedelta(seconds=settings.upload_url_ttl_s) + UPLOAD_GRACE,
        retry=timedelta(seconds=settings.retry_window_s),
    )
    report = SweepReport()
    oldest_worth_a_look = now - min(windows.stale_after, windows.upload)
    for shard in range(SWEEP_SHARDS):
        for key in Job.sweep.query(f"SWEEP#{shard}", Job.heartbeat_at <= oldest_worth_a_look):
            job = lifecycle.get(key.id)  # the index holds keys only; act on the job as it is now
            if job is None or job.sweep_shard is None:
                continue
            quiet_for = now - (job.heartbeat_at or job.updated_at)
            try:
                _sweep_one(job, quiet_for, windows, services, report)
            except (Fenced, JobConflict):
                logger.info("job moved during the sweep", extra={"job_id": job.id})
    if report.rescued or report.failed or report.discarding or report.retried:
        logger.info("sweep", extra={"report": report.__dict__})
    return report


def _sweep_one(
    job: Job, quiet_for: timedelta, windows: _Windows, services: Services, report: SweepReport
) -> None:
    status = job.job_status
    phase = Phase(job.checkpoint.phase)
    if status is JobStatus.QUEUED and job.upload_key is not None and job.file_size is None:
        if quiet_for < windows.upload:
            return
        if dkt_upload.accept_upload(job, services):
            report.rescued.append(job.id)
            return
        lifecycle.expire_upload(job)
        report.failed.append(job.id)
    elif status in (JobStatus.QUEUED, JobStatus.PROCESSING):
        if quiet_for >= windows.stale_after:
            _rescue_or_fail(job, services, report)
    elif phase in (Phase.DISCARD, Phase.VERIFY, Phase.SETTLING):
        if quiet_for >= windows.stale_after:
            # SETTLING: every delivery older than the discard is gone by now: last pass.
            next_phase = Phase.VERIFY if phase is Phase.SETTLING else None
            services.queue.send(lifecycle.rescue(job, counts=False, phase=next_phase))
            report.discarding.append(job.id)
    elif status is JobStatus.FAILED and job.type == JobType.LOTE_DELETE:
        if quiet_for >= windows.stale_after and int(job.attempts) < MAX_DELETE_ATTEMPTS:
            services.queue.send(lifecycle.prepare_retry(job, None))
            report.retried.append(job.id)
    elif status is JobStatus.FAILED and phase is not Phase.DONE and quiet_for >= windows.retry:
        services.queue.send(lifecycle.rescue(job, counts=False, phase=Phase.DISCARD))
        report.discarding.append(job.id)


def _rescue_or_fail(job: Job, services: Services, report: SweepReport) -> None:
    if int(job.rescues) < services.settings.max_attempts:
        services.queue.send(lifecycle.rescue(job, counts=True))
        report.rescued.append(job.id)
        return
    keeps_work = job.checkpoint.phase == Phase.IMPORT or job.type == JobType.LOTE_DELETE
    lifecycle.fail(
        job,
        "WORKER_LOST",
        "El proceso dejó de avanzar varias veces; puede reintentarlo.",
        staged=Staged.KEEP if keeps_work else Staged.NONE,
    )
    report.failed.append(job.id)
