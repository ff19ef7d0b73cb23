"""Jobs as their owner sees them: get, list, cancel, retry, and the line-error report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

from pydantic import StrictBool

from chalicelib.adapters import pagination
from chalicelib.adapters.auth import Identity
from chalicelib.adapters.services import Services
from chalicelib.api.queries import JobErrorsQuery, JobListQuery
from chalicelib.api.schema import ApiModel, Request, Timestamp, UtcDateTime
from chalicelib.core.errors import JobNotFound
from chalicelib.core.models import Job, JobStatus, JobType, LineErrorItem
from chalicelib.engine import lifecycle, registry, retries, schedule
from chalicelib.jobtypes import lote_export
from chalicelib.stores import line_errors
from chalicelib.stores.page import Page

# Ids the service hands out are far shorter; a longer one cannot exist (and would be
# refused by DynamoDB as a key).
MAX_ID_LENGTH = 64


class JobView(ApiModel):
    """A job as the API shows it: the seed's ProcessingJob, plus what users ask for."""

    id: str
    type: JobType
    status: JobStatus
    progress: int
    total_items: int | None
    processed_items: int
    message: str
    user_id: str
    parameters: dict[str, Any]
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    error_count: int
    attempts: int
    # When the service retries the job by itself (a FAILED job, transient failure).
    next_retry_at: Timestamp | None
    # A scheduled job: it starts no earlier (shown while it waits, and after).
    run_at: Timestamp | None
    # Whether POST .../retry could help (FAILED or CANCELLED, and not a fault of the file).
    retryable: bool
    cancel_requested: bool
    # How the call to the job's callbackUrl went: status DELIVERED, RETRYING or FAILED,
    # attempts, httpStatus of the last one; None until a call was made.
    callback: dict[str, Any] | None
    # DynamoDB gives back 12.0 as 12: both are kept as they come.
    rows_per_second: int | float | None
    eta_seconds: int | None
    lote_id: str | None
    lote_deleted: bool
    # QUEUED for a file that has not reached S3 yet (the page tells an upload it runs from
    # one that was interrupted by a reload or a closed tab).
    awaiting_upload: bool
    # SHA-256 (hex) of the uploaded file, once it arrived (what duplicates are told by).
    file_sha256: str | None
    started_at: Timestamp | None
    completed_at: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, job: Job, services: Services | None = None) -> JobView:
        """The job as shown; with `services`, a finished export's result carries a fresh
        `downloadUrl` (a presigned GET, valid DOWNLOAD_URL_TTL_S)."""
        result = job.result
        if services is not None and result and _downloadable(job, services):
            result = {**result, "downloadUrl": _download_url(job, services)}
        return cls(
            id=job.id,
            type=JobType(job.type),
            status=JobStatus(job.status),
            progress=int(job.progress),
            total_items=None if job.total_items is None else int(job.total_items),
            processed_items=int(job.processed_items),
            message=job.message,
            user_id=job.user_id,
            parameters=job.parameters,
            result=result,
            error=job.error,
            error_count=int(job.error_count),
            attempts=int(job.attempts),
            next_retry_at=job.next_retry_at if job.job_status is JobStatus.FAILED else None,
            run_at=job.run_at,
            retryable=retries.retryable(job),
            cancel_requested=bool(job.cancel_requested),
            callback=job.callback,
            rows_per_second=job.rows_per_second,
            eta_seconds=None if job.eta_seconds is None else int(job.eta_seconds),
            lote_id=job.lote_id,
            lote_deleted=bool(job.lote_deleted),
            awaiting_upload=job.job_status == JobStatus.QUEUED
            and bool(job.upload_key)
            and job.file_size is None,
            file_sha256=job.file_sha256,
            started_at=job.started_at,
            completed_at=job.completed_at,
            created_at=job.created_at,
            updated_at=job.updated_at,
        )


class JobList(ApiModel):
    """GET /api/jobs: the caller's jobs, newest first."""

    jobs: list[JobView]
    next_cursor: str | None


class JobAction(ApiModel):
    """What a cancel, retry or lote deletion did: the job's message and the job itself."""

    message: str
    job: JobView

    @classmethod
    def of(cls, job: Job) -> JobAction:
        return cls(message=job.message, job=JobView.of(job))


class LineErrorView(ApiModel):
    """One line that could not be imported, and why."""

    line_no: int
    field: str | None
    value: str | None
    reason: str

    @classmethod
    def of(cls, item: LineErrorItem) -> LineErrorView:
        return cls(
            line_no=int(item.line_no), field=item.field, value=item.value, reason=item.reason
        )


class ErrorReport(ApiModel):
    """GET /api/jobs/{job_id}/errors: one page of a job's line errors, in line order."""

    job_id: str
    total: int
    errors: list[LineErrorView]
    next_cursor: str | None


# --- reads ----------------------------------------------------------------------------------


def get_owned(job_id: str, owner: Identity) -> Job:
    """The caller's job; anyone else's is reported as not found, as if it did not exist."""
    if not 0 < len(job_id) <= MAX_ID_LENGTH:
        raise JobNotFound(job_id[:MAX_ID_LENGTH])
    job = lifecycle.get(job_id)
    if job is None or job.user_id != owner.user_id or job.tenant_id != owner.tenant_id:
        raise JobNotFound(job_id)
    return job


# A filtered history reads up to this many of the caller's jobs per request, a page of
# this many at a time: its page may hold fewer matches, and goes on from where it stopped.
JOB_FILTER_SCAN = 500
JOB_FILTER_READ = 100


@dataclass(frozen=True)
class JobFilter:
    """What a history row must be: its status, card product and periodo (unset: any)."""

    status: JobStatus | None = None
    codigo_tarjeta: str | None = None
    periodo: str | None = None

    def matches(self, job: Job) -> bool:
        card, periodo = card_and_periodo(job)
        return (
            (self.status is None or job.job_status == self.status)
            and (self.codigo_tarjeta is None or card == self.codigo_tarjeta)
            and (self.periodo is None or periodo == self.periodo)
        )


def card_and_periodo(job: Job) -> tuple[str | None, str | None]:
    """The card product and periodo a job is about: an import's card, and the lote it
    read (known once its file was read); an export's or deletion's lote."""
    lote = job.lote_id or job.parameters.get("loteId")
    card = job.parameters.get("codigoTarjeta") or (lote[:-4] if lote else None)
    return card, (lote[-4:] if lote else None)


def list_owned(
    owner: Identity, limit: int, cursor: str | None, matching: JobFilter | None = None
) -> Page[Job]:
    """The caller's jobs, newest first; with a filter, those of the next JOB_FILTER_SCAN
    that match it (the job table keeps the card and periodo inside the job's parameters,
    where DynamoDB cannot filter)."""
    start = pagination.decode(
        cursor, ("user_id", owner.user_id), {"id": "S", "user_id": "S", "created_at": "S"}
    )
    if matching is None or matching == JobFilter():
        results = Job.user_jobs.query(
            owner.user_id, scan_index_forward=False, limit=limit, last_evaluated_key=start
        )
        items = [job for job in results if job.tenant_id == owner.tenant_id]
        return Page(items, pagination.encode(results.last_evaluated_key))
    found: list[Job] = []
    read = 0
    while read < JOB_FILTER_SCAN:
        results = Job.user_jobs.query(
            owner.user_id,
            scan_index_forward=False,
            limit=JOB_FILTER_READ,
            last_evaluated_key=start,
        )
        for job in results:
            read += 1
            if job.tenant_id == owner.tenant_id and matching.matches(job):
                found.append(job)
                if len(found) == limit:
                    return Page(found, pagination.encode(_index_key(job)))
        start = results.last_evaluated_key
        if not start:
            return Page(found, None)
    return Page(found, pagination.encode(start))


def _index_key(job: Job) -> dict[str, Any]:
    """The user-jobs index key of `job`: a cursor that goes on after it."""
    created = Job.created_at.serialize(job.created_at)
    return {"id": {"S": job.id}, "user_id": {"S": job.user_id}, "created_at": {"S": created}}


def list_active(owner: Identity) -> list[Job]:
    """The caller's QUEUED and PROCESSING jobs (a sparse index: no history is read)."""
    return [
        job
        for job in Job.active_jobs.query(owner.user_id, scan_index_forward=False)
        if job.tenant_id == owner.tenant_id
    ]


def _downloadable(job: Job, services: Services) -> bool:
    """A finished export whose file the bucket still keeps."""
    if job.type != JobType.EXPORT or job.job_status is not JobStatus.COMPLETED:
        return False
    kept = timedelta(days=services.settings.export_retention_days)
    return job.completed_at is not None and services.clock.now() < job.completed_at + kept


def _download_url(job: Job, services: Services) -> str:
    return services.exports.download_url(
        lote_export.key_of(job, services.exports),
        job.parameters["filename"],
        services.settings.download_url_ttl_s,
    )


# --- use cases ------------------------------------------------------------------------------


def get(owner: Identity, job_id: str, services: Services) -> JobView:
    return JobView.of(get_owned(job_id, owner), services)


def list_jobs(owner: Identity, query: JobListQuery, services: Services) -> JobList:
    """A page of the caller's jobs, or with `status=active` every running one (no paging)."""
    if query.status == "active":
        views = [JobView.of(job, services) for job in list_active(owner)]
        return JobList(jobs=views, next_cursor=None)
    matching = JobFilter(
        status=JobStatus(query.status) if query.status else None,
        codigo_tarjeta=query.codigo_tarjeta,
        periodo=query.periodo,
    )
    page = list_owned(owner, query.limit, query.cursor or None, matching)
    views = [JobView.of(job, services) for job in page.items]
    return JobList(jobs=views, next_cursor=page.next_cursor)


class ScheduleRequest(Request):
    """Body of PATCH /api/jobs/{job_id}: when a QUEUED job starts (`runAt`, ISO 8601;
    no offset: UTC), or null for now."""

    labels: ClassVar[dict[str, str]] = {"runAt": "fecha de inicio (runAt)"}

    run_at: UtcDateTime | None


def reschedule(owner: Identity, job_id: str, body: ScheduleRequest, services: Services) -> JobView:
    """Moves a scheduled (or any QUEUED) job's start; JobConflict once it has started."""
    job = get_owned(job_id, owner)
    schedule.reschedule(job, schedule.check_run_at(body.run_at, services), services)
    return JobView.of(job)


def cancel(owner: Identity, job_id: str, services: Services) -> JobAction:
    """Asks the job to stop; a QUEUED job is CANCELLED at once, a running one within a chunk."""
    job = get_owned(job_id, owner)
    return JobAction.of(lifecycle.request_cancel(job, clock=services.clock))


class RetryRequest(Request):
    """Body of POST /api/jobs/{job_id}/retry, optional: `replace` retries an import that
    found its lote already imported, replacing the lote this time; `allowDuplicate` one
    refused because its file was already imported, importing it anyway."""

    labels: ClassVar[dict[str, str]] = {
        "replace": "reemplazar lote",
        "allowDuplicate": "importar archivo repetido",
    }

    replace: StrictBool = False
    allow_duplicate: StrictBool = False

    def options(self) -> frozenset[str]:
        """The import parameters this retry sets to true (retries.RETRY_OPTIONS)."""
        asked = {"replace": self.replace, "allowDuplicate": self.allow_duplicate}
        return frozenset(name for name, given in asked.items() if given)


def retry(
    owner: Identity, job_id: str, services: Services, body: RetryRequest | None = None
) -> JobAction:
    """FAILED or CANCELLED -> QUEUED and queued (resuming from its checkpoint, or over on
    the file as it is now); while its staged lines are still being removed, right after.

    Raises:
        TooManyActiveJobs: the caller already runs as many jobs as allowed.
        JobConflict: the job's upload is gone, unusable, or was replaced since it started.
    """
    job = get_owned(job_id, owner)
    kind = registry.installed().for_job(job, services)
    retries.retry_holding(job, services, kind, options=body.options() if body else frozenset())
    return JobAction.of(job)


def error_report(owner: Identity, job_id: str, query: JobErrorsQuery) -> ErrorReport:
    job = get_owned(job_id, owner)
    page = line_errors.list_page(job, query.limit, query.cursor or None)
    return ErrorReport(
        job_id=job.id,
        total=int(job.error_count),
        errors=[LineErrorView.of(item) for item in page.items],
        next_cursor=page.next_cursor,
    )


def export_errors(owner: Identity, job_id: str, file_format: str, services: Services) -> JobAction:
    """Starts an EXPORT job of an import's line-error report (CSV or XLSX).

    Raises:
        JobNotFound: the caller has no such job.
        JobConflict: the job kept no line errors.
    """
    source = get_owned(job_id, owner)
    job = lote_export.errors_export_job(
        owner=owner, source=source, file_format=file_format, services=services
    )
    services.queue.send(lifecycle.message_for(job))
    return JobAction.of(job)
