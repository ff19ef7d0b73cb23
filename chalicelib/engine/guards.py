"""What every transition of the lifecycle shares: the conditional update, the fence,
the actions of a final status, and reading a job.

A worker-side transition is fenced by the checkpoint (`seq`, `step`): a delivery that
lost the race gets `Fenced`, or `CancelRequested` if what moved the job was a cancel.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from chalicelib.adapters.dynamo import condition_failed
from chalicelib.core.errors import CancelRequested, Fenced
from chalicelib.core.models import Job, JobStatus
from chalicelib.engine.messaging import WorkMessage

# PynamoDB's stubs type a typed map's nested attributes as their values; this is the
# checkpoint as the path that update and condition expressions need.
CHECKPOINT: Any = Job.checkpoint

STATUS_LABELS = {
    JobStatus.QUEUED: "en cola",
    JobStatus.PROCESSING: "en proceso",
    JobStatus.COMPLETED: "completado",
    JobStatus.FAILED: "fallido",
    JobStatus.CANCELLED: "cancelado",
}


def format_count(number: int) -> str:
    """18000 -> '18.000', as Spanish-speaking users read numbers."""
    return f"{number:,}".replace(",", ".")


def update_if(job: Job, actions: Sequence[Action], condition: Condition) -> bool:
    """Applies `actions` if `condition` holds; False (job reloaded) if it did not."""
    try:
        job.update(actions=list(actions), condition=condition)
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        job.refresh(consistent_read=True)
        return False
    return True


def fence(job: Job) -> Condition:
    """Holds while nobody else moved the job since this worker loaded it."""
    condition: Condition = (
        (Job.status == job.status)
        & (CHECKPOINT.seq == job.checkpoint.seq)
        & (CHECKPOINT.step == job.checkpoint.step)
    )
    return condition


def no_cancel() -> Condition:
    condition: Condition = Job.cancel_requested == False  # noqa: E712 - a DynamoDB condition
    return condition


def raise_lost_fence(job: Job) -> None:
    """After a failed fenced update (job reloaded): why this worker must stop."""
    if job.job_status is JobStatus.PROCESSING and job.cancel_requested:
        raise CancelRequested(f"job {job.id} has a cancel request")
    raise Fenced(
        f"job {job.id} moved on: status {job.status}, "
        f"seq {job.checkpoint.seq}, step {job.checkpoint.step}"
    )


def finished(now: datetime) -> list[Action]:
    """Actions every final transition shares."""
    return [
        Job.completed_at.set(now),
        Job.updated_at.set(now),
        Job.heartbeat_at.set(now),
        Job.active_user_id.remove(),
        Job.cancel_requested.set(False),
        Job.eta_seconds.remove(),
        CHECKPOINT.step.add(1),
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
