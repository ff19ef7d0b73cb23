"""Jobs that start later: `run_at` on a QUEUED job (scheduled imports).

SQS delays a message by at most 15 minutes, so a job due later waits in hops: its work
message is sent delayed by the time left (at most SCHEDULE_HOP_S), and a delivery
that comes before `run_at` sends it on again instead of starting the job. The worker
is the gate, whoever sent the message (a hop, a repeated upload event, the sweeper's
rescue of a hop that was lost), so a job never starts early; it starts within seconds
of `run_at`, once the last hop's delay is over. Each hop notes its wake-up time as the
job's heartbeat, so the sweeper leaves a waiting job alone until a hop is overdue.
Cancelling a waiting job is cancelling a QUEUED one; moving `run_at` moves the job's
fence and sends a message for the new time (the old hops are then dropped as stale).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from chalicelib.adapters.services import Services
from chalicelib.core.errors import InvalidRequest, JobConflict
from chalicelib.core.models import Job, JobStatus, JobType
from chalicelib.engine.guards import CHECKPOINT, message_for, update_if


def check_run_at(run_at: datetime | None, services: Services) -> datetime | None:
    """The `run_at` a caller asked for, if it is ahead (a moment already past: at once);
    InvalidRequest past SCHEDULE_MAX_DAYS."""
    now = services.clock.now()
    if run_at is None or run_at <= now:
        return None
    most = services.settings.schedule_max_days
    if run_at - now > timedelta(days=most):
        days = "1 día" if most == 1 else f"{most} días"
        raise InvalidRequest(
            f"runAt: una importación se programa con hasta {days} de anticipación "
            "(el archivo se guarda unos días, para los reintentos)."
        )
    return run_at


def waiting_message(run_at: datetime) -> str:
    return f"Programada: comenzará el {run_at.astimezone(UTC):%d/%m/%Y a las %H:%M} (UTC)."


def send_when_due(job: Job, services: Services) -> None:
    """Queues the job's work message: now, or, for a job due later, its next hop."""
    if not hold(job, services):
        services.queue.send(message_for(job))


def hold(job: Job, services: Services) -> bool:
    """For a QUEUED job not due yet: sends its message on for the time left (one hop)
    and returns True; False if it may start now."""
    now = services.clock.now()
    if job.job_status is not JobStatus.QUEUED or job.run_at is None or job.run_at <= now:
        return False
    delay = min(math.ceil((job.run_at - now).total_seconds()), services.settings.schedule_hop_s)
    wakes = now + timedelta(seconds=delay)
    actions = [Job.heartbeat_at.set(wakes), Job.message.set(waiting_message(job.run_at))]
    if update_if(job, actions, (Job.status == JobStatus.QUEUED) & (Job.run_at == job.run_at)):
        services.queue.send(message_for(job), delay_seconds=delay)
    # Else the job moved meanwhile (cancelled, rescheduled: that sent its own message).
    return True


def reschedule(job: Job, run_at: datetime | None, services: Services) -> None:
    """Moves a QUEUED import's start to `run_at` (None: now). JobConflict once it started,
    and for other job types (a replace's deletion waits out the undo window on purpose).

    The fence moves on (`seq`): the hops already in flight are dropped as stale, and the
    one message sent now is the job's only chain."""
    if job.type != JobType.DKT_IMPORT:
        raise JobConflict(
            f"job {job.id} is a {job.type}: only an import's start can be moved",
            "Solo se puede cambiar el horario de una importación.",
        )
    now = services.clock.now()
    actions = [Job.updated_at.set(now), CHECKPOINT.seq.add(1), CHECKPOINT.step.set(0)]
    if run_at is None:
        actions += [Job.run_at.remove(), Job.message.set("En cola.")]
    else:
        actions += [Job.run_at.set(run_at), Job.message.set(waiting_message(run_at))]
    if not update_if(job, actions, Job.status == JobStatus.QUEUED):
        raise JobConflict(
            f"job {job.id} is {job.status}: runAt can change only while it waits",
            "La importación ya comenzó o terminó: su horario ya no se puede cambiar.",
        )
    if job.file_size is not None:  # its file is here: a message for the new time
        send_when_due(job, services)
