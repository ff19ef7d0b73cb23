"""The sweeper (an EventBridge schedule): no job stays PROCESSING forever.

It reads only the sparse index of watched jobs, oldest sign of life first, and:
- re-enqueues a QUEUED or PROCESSING job whose worker vanished, from its checkpoint,
  and fails it once the attempt's rescues are used up;
- fails a QUEUED import whose upload never arrived once the upload window closed (or
  queues it, if the file is there but its notification was lost);
- resumes an interrupted discard, and starts discarding the lines a FAILED import
  kept for a retry once the retry window closed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from chalicelib import imports, jobs
from chalicelib.errors import Fenced
from chalicelib.models import SWEEP_SHARD, Job, JobStatus, Phase, Staged
from chalicelib.observability import logger
from chalicelib.processing import Services

UPLOAD_GRACE = timedelta(minutes=5)


@dataclass
class SweepReport:
    """Job ids by what the sweep did to them."""

    rescued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    discarding: list[str] = field(default_factory=list)


def sweep(services: Services, now: datetime) -> SweepReport:
    settings = services.settings
    stale_after = timedelta(seconds=settings.stale_after_s)
    upload_window = timedelta(seconds=settings.upload_url_ttl_s) + UPLOAD_GRACE
    report = SweepReport()
    oldest_worth_a_look = now - min(stale_after, upload_window)
    for job in Job.sweep.query(SWEEP_SHARD, Job.heartbeat_at <= oldest_worth_a_look):
        quiet_for = now - (job.heartbeat_at or job.updated_at)
        try:
            _sweep_one(job, quiet_for, stale_after, upload_window, services, report)
        except Fenced:
            logger.info("job moved during the sweep", extra={"job_id": job.id})
    if report.rescued or report.failed or report.discarding:
        logger.info("sweep", extra={"report": report.__dict__})
    return report


def _sweep_one(
    job: Job,
    quiet_for: timedelta,
    stale_after: timedelta,
    upload_window: timedelta,
    services: Services,
    report: SweepReport,
) -> None:
    settings = services.settings
    status = job.job_status
    awaiting_upload = job.upload_key is not None and job.file_size is None
    if status is JobStatus.QUEUED and awaiting_upload:
        if quiet_for < upload_window:
            return
        if imports.accept_upload(job, services):
            report.rescued.append(job.id)
            return
        jobs.fail(
            job,
            "UPLOAD_TIMEOUT",
            "No se recibió el archivo a tiempo; cree la importación de nuevo.",
            staged=Staged.NONE,
        )
        report.failed.append(job.id)
    elif status in (JobStatus.QUEUED, JobStatus.PROCESSING):
        if quiet_for < stale_after:
            return
        if int(job.rescues) >= settings.max_attempts:
            staged = Staged.KEEP if job.checkpoint.phase == Phase.IMPORT else Staged.NONE
            jobs.fail(
                job,
                "WORKER_LOST",
                "La importación dejó de avanzar varias veces; puede reintentarla.",
                staged=staged,
            )
            report.failed.append(job.id)
            return
        services.queue.send(jobs.rescue(job, counts=True))
        report.rescued.append(job.id)
    elif job.checkpoint.phase == Phase.DISCARD:
        if quiet_for >= stale_after:
            services.queue.send(jobs.rescue(job, counts=False))
            report.discarding.append(job.id)
    elif (
        status is JobStatus.FAILED
        and job.checkpoint.phase != Phase.DONE
        and quiet_for >= timedelta(seconds=settings.retry_window_s)
    ):
        services.queue.send(jobs.rescue(job, counts=False, phase=Phase.DISCARD))
        report.discarding.append(job.id)
