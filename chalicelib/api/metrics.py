"""GET /api/metrics: how the tenant's jobs went over a period, for the page's dashboard.

Read from the `tenant-jobs` index (a tenant's jobs by creation time, projecting only
what is counted here: type, status, start, end and result), so polling it never reads
whole jobs, and a job's progress updates never write to it. A job counts in the period
it was created in. Durations are from its start to its end (the time it was worked on,
not the wait for its file); the success rate is COMPLETED over COMPLETED + FAILED
(a cancel is the user's choice, not a failure).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from pydantic import ConfigDict, Field
from pydantic_core import ErrorDetails

from chalicelib.adapters.auth import Identity
from chalicelib.api.schema import ApiModel, Request, Timestamp, UtcDateTime
from chalicelib.core.clock import Clock
from chalicelib.core.errors import InvalidRequest
from chalicelib.core.models import FINAL_STATUSES, Job, JobStatus, JobType

DEFAULT_PERIOD = timedelta(days=30)
MAX_PERIOD = timedelta(days=366)
# Jobs one answer counts at most (a few MB of the index); past them it says `truncated`.
MAX_JOBS = 10_000
# Jobs exist only in between: anything else is a mistake (and would overflow the dates).
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


class MetricsQuery(Request):
    """`from` and `to` (ISO 8601; default the last 30 days, at most 366), and the caller's
    UTC offset in minutes for the days of `byDay` (the page sends its own)."""

    model_config = ConfigDict(extra="forbid")

    labels: ClassVar[dict[str, str]] = {
        "from": "desde (from)",
        "to": "hasta (to)",
        "utcOffsetMinutes": "diferencia horaria (utcOffsetMinutes)",
    }

    since: UtcDateTime | None = Field(default=None, alias="from")
    to: UtcDateTime | None = None
    utc_offset_minutes: int = Field(default=0, ge=-720, le=840)

    @classmethod
    def problem(cls, error: ErrorDetails) -> str:
        field = str(error["loc"][0]) if error["loc"] else ""
        if field in ("from", "to") and error["type"] == "value_error":
            return "Las fechas de las métricas deben estar entre 2000 y 2100."
        if field in ("from", "to"):
            return f"El parámetro {field} debe ser una fecha ISO 8601, como 2026-11-01T00:00:00Z."
        return super().problem(error)

    def period(self, now: datetime) -> tuple[datetime, datetime]:
        until = self.to or now
        if not EARLIEST <= until <= LATEST or not EARLIEST <= (self.since or until) <= LATEST:
            raise InvalidRequest("Las fechas de las métricas deben estar entre 2000 y 2100.")
        since = self.since or until - DEFAULT_PERIOD
        if since >= until:
            raise InvalidRequest("El parámetro from debe ser anterior a to.")
        if until - since > MAX_PERIOD:
            raise InvalidRequest("El período de las métricas es de 366 días como máximo.")
        return since, until


class TypeMetrics(ApiModel):
    """One job type: how many of each status, and how the finished ones went."""

    type: JobType
    jobs: int
    by_status: dict[JobStatus, int]
    success_rate: float | None
    average_seconds: float | None
    p95_seconds: float | None


class DayMetrics(ApiModel):
    """One day (in the caller's UTC offset) of imports: how many ended how, lines in."""

    date: str
    completed: int
    failed: int
    cancelled: int
    lines_imported: int


class Metrics(ApiModel):
    """The tenant's jobs created in [start, end): by type and status, imports per day."""

    start: Timestamp
    end: Timestamp
    jobs: int
    by_type: list[TypeMetrics]
    success_rate: float | None
    lines_imported: int
    lines_per_second: float | None
    by_day: list[DayMetrics]
    truncated: bool


def metrics(owner: Identity, query: MetricsQuery, clock: Clock) -> Metrics:
    since, until = query.period(clock.now())
    found = Job.tenant_jobs.query(
        owner.tenant_id,
        Job.created_at.between(since, until - timedelta(microseconds=1)),
        limit=MAX_JOBS + 1,
    )
    jobs = list(found)
    truncated = len(jobs) > MAX_JOBS
    jobs = jobs[:MAX_JOBS]
    imports = [job for job in jobs if job.type == JobType.DKT_IMPORT]
    completed = [job for job in imports if job.job_status is JobStatus.COMPLETED]
    lines = sum(_lines_imported(job) for job in completed)
    seconds = sum(_seconds(job) or 0.0 for job in completed)
    return Metrics(
        start=since,
        end=until,
        jobs=len(jobs),
        by_type=[_of_type(job_type, jobs) for job_type in JobType if _has(job_type, jobs)],
        success_rate=_success_rate(jobs),
        lines_imported=lines,
        lines_per_second=round(lines / seconds, 1) if seconds > 0 else None,
        by_day=_by_day(imports, since, until, timedelta(minutes=query.utc_offset_minutes)),
        truncated=truncated,
    )


def _has(job_type: JobType, jobs: list[Job]) -> bool:
    return any(job.type == job_type for job in jobs)


def _of_type(job_type: JobType, jobs: list[Job]) -> TypeMetrics:
    mine = [job for job in jobs if job.type == job_type]
    statuses = Counter(job.job_status for job in mine)
    durations = [
        seconds
        for job in mine
        if job.job_status is JobStatus.COMPLETED and (seconds := _seconds(job)) is not None
    ]
    return TypeMetrics(
        type=job_type,
        jobs=len(mine),
        by_status={status: statuses.get(status, 0) for status in JobStatus},
        success_rate=_success_rate(mine),
        average_seconds=round(statistics.fmean(durations), 1) if durations else None,
        p95_seconds=round(_p95(durations), 1) if durations else None,
    )


def _success_rate(jobs: list[Job]) -> float | None:
    ended = Counter(job.job_status for job in jobs if job.job_status in FINAL_STATUSES)
    counted = ended[JobStatus.COMPLETED] + ended[JobStatus.FAILED]
    return round(ended[JobStatus.COMPLETED] / counted, 4) if counted else None


def _p95(durations: list[float]) -> float:
    if len(durations) == 1:
        return durations[0]
    # The 19th of 20 cut points, interpolated between the values themselves.
    return statistics.quantiles(durations, n=20, method="inclusive")[18]


def _seconds(job: Job) -> float | None:
    if job.started_at is None or job.completed_at is None:
        return None
    return max(0.0, (job.completed_at - job.started_at).total_seconds())


def _lines_imported(job: Job) -> int:
    return int((job.result or {}).get("linesImported", 0))


def _by_day(
    imports: list[Job], since: datetime, until: datetime, offset: timedelta
) -> list[DayMetrics]:
    days: dict[str, Counter[str]] = defaultdict(Counter)
    for job in imports:
        day = days[(job.created_at + offset).date().isoformat()]
        if job.job_status in FINAL_STATUSES:
            day[job.job_status.value] += 1
        if job.job_status is JobStatus.COMPLETED:
            day["lines"] += _lines_imported(job)
    first, last = (since + offset).date(), (until - timedelta(microseconds=1) + offset).date()
    every_day = (first + timedelta(days=n) for n in range((last - first).days + 1))
    return [
        DayMetrics(
            date=date.isoformat(),
            completed=(counts := days[date.isoformat()])[JobStatus.COMPLETED.value],
            failed=counts[JobStatus.FAILED.value],
            cancelled=counts[JobStatus.CANCELLED.value],
            lines_imported=counts["lines"],
        )
        for date in every_day
    ]
