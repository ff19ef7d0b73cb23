"""The per-user limit of active jobs, held under any number of simultaneous requests.

Counting the user's QUEUED and PROCESSING jobs and then creating one is a race: the
count comes from an index that lags, and twelve simultaneous creates all saw four. A
slot is taken instead, on one item per user (ActiveSlots) written only if nobody wrote
it since it was read: two creates that read the same version cannot both write it.

A slot is never given back by the job's end (no write on the worker's path, nothing to
lose in a crash): whoever takes the next slot frees those whose job has ended since it
took the slot. A slot whose job is missing, or ended before the slot was taken (a
retry in the moment between taking the slot and re-queueing the job), still counts for
GRACE; then it is free, so a request that died half-way holds a slot a minute at most.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.exceptions import PutError

from chalicelib.adapters.auth import Identity
from chalicelib.adapters.dynamo import condition_failed
from chalicelib.core.clock import SYSTEM_CLOCK, Clock
from chalicelib.core.errors import TooManyActiveJobs
from chalicelib.core.models import ActiveSlots, Job

GRACE = timedelta(seconds=60)
# Lost races in a row before answering 429: each loser re-reads what the winner wrote.
ATTEMPTS = 20
ITEM_TTL = timedelta(days=30)


def slots_id(owner: Identity) -> str:
    return f"slots#{owner.tenant_id}#{owner.user_id}"


def take(owner: Identity, job_id: str, limit: int, *, clock: Clock = SYSTEM_CLOCK) -> None:
    """Takes an active-job slot of `owner` for `job_id` (kept if it already has one).

    Raises:
        TooManyActiveJobs: all `limit` slots are held by live jobs.
    """
    for _ in range(ATTEMPTS):
        slots = _read(owner)
        now = clock.now()
        held = _live(slots.held, now)
        if job_id not in held and len(held) >= limit:
            raise TooManyActiveJobs(owner.user_id, limit)
        held[job_id] = now.isoformat()
        if _write(slots, held, now):
            return
    raise TooManyActiveJobs(owner.user_id, limit)


def release(owner: Identity, job_id: str, *, clock: Clock = SYSTEM_CLOCK) -> None:
    """Gives back the slot of a job that was never created (best effort: GRACE frees it)."""
    slots = _read(owner)
    held = dict(slots.held)
    if held.pop(job_id, None) is not None:
        _write(slots, held, clock.now())


def _read(owner: Identity) -> ActiveSlots:
    try:
        return ActiveSlots.get(slots_id(owner), consistent_read=True)
    except ActiveSlots.DoesNotExist:
        return ActiveSlots(id=slots_id(owner), held={}, version=0)


def _write(slots: ActiveSlots, held: dict[str, str], now: datetime) -> bool:
    """Writes `held` if nobody wrote the item since `slots` was read."""
    seen = int(slots.version)
    condition = ActiveSlots.id.does_not_exist() if seen == 0 else ActiveSlots.version == seen
    written = ActiveSlots(id=slots.id, held=held, version=seen + 1, expires_at=now + ITEM_TTL)
    try:
        written.save(condition=condition)
    except PutError as exc:
        if not condition_failed(exc):
            raise
        return False
    return True


def _live(held: dict[str, str], now: datetime) -> dict[str, str]:
    """The slots still held: their job is QUEUED or PROCESSING, or they are recent and
    their job does not exist yet or has not started again since (see the module)."""
    if not held:
        return {}
    jobs = {job.id: job for job in Job.batch_get(list(held), consistent_read=True)}
    live = {}
    for job_id, taken in held.items():
        if _holds(jobs.get(job_id), datetime.fromisoformat(taken), now):
            live[job_id] = taken
    return live


def _holds(job: Job | None, taken_at: datetime, now: datetime) -> bool:
    if job is not None and (not job.job_status.is_final or job.retry_requested):
        return True
    # Not created yet, or ended before the slot was taken (a retry about to re-queue it).
    return now - taken_at < GRACE and (job is None or job.updated_at < taken_at)
