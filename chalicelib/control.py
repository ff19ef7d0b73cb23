"""What users do to their jobs and lotes besides creating imports: cancel, retry, delete."""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import TransactWriteError

from chalicelib import job_views, jobs, lotes
from chalicelib.auth import Identity
from chalicelib.dynamo import transaction
from chalicelib.errors import JobConflict, TooManyActiveJobs
from chalicelib.lote_delete import REASON_DELETE
from chalicelib.models import JobType
from chalicelib.processing import Services


def cancel(owner: Identity, job_id: str) -> dict[str, Any]:
    job = jobs.request_cancel(job_views.get_owned(job_id, owner))
    return {"message": job.message, "job": job_views.to_api(job)}


def retry(owner: Identity, job_id: str, services: Services) -> dict[str, Any]:
    """FAILED or CANCELLED -> QUEUED and queued: resumes from its checkpoint."""
    job = job_views.get_owned(job_id, owner)
    settings = services.settings
    if len(job_views.list_active(owner)) >= settings.max_active_jobs_per_user:
        raise TooManyActiveJobs(owner.user_id, settings.max_active_jobs_per_user)
    upload = None
    if job.upload_key:
        found = services.store.head(job.upload_key)
        if found is None or not 0 < found.size <= settings.max_file_size:
            raise JobConflict(
                f"job {job.id}: upload {job.upload_key} is gone or unusable",
                "El archivo de esta importación ya no está disponible; vuelva a subirlo.",
            )
        if job.file_etag and found.etag != job.file_etag and not jobs.starts_over(job):
            raise JobConflict(
                f"job {job.id}: upload {job.upload_key} was replaced",
                "El archivo cambió desde que comenzó esta importación; cree una nueva.",
            )
        upload = (found.size, found.etag)
    services.queue.send(jobs.prepare_retry(job, upload))
    return {"message": job.message, "job": job_views.to_api(job)}


def delete_lote(owner: Identity, lote_id: str, services: Services) -> dict[str, Any]:
    """Hides the lote at once and starts a LOTE_DELETE job that removes its lines."""
    lote = lotes.get_active(owner.tenant_id, lote_id)
    try:
        with transaction() as tx:
            lotes.begin_delete(lote, tx)
            job = jobs.create(
                job_type=JobType.LOTE_DELETE,
                owner=owner,
                parameters={
                    "loteId": lote_id,
                    "generationJobId": lote.job_id,
                    "reason": REASON_DELETE,
                },
                message=f"Eliminación del lote {lote_id} en cola.",
                ttl_days=services.settings.job_ttl_days,
                lote_id=lote_id,
                total_items=int(lote.line_count),
                transaction=tx,
            )
    except TransactWriteError as exc:
        if exc.cause_response_code != "TransactionCanceledException":
            raise
        raise JobConflict(
            f"lote {lote_id} changed while deleting it",
            f"El lote {lote_id} está siendo modificado por otra importación; intente luego.",
        ) from exc
    services.queue.send(jobs.message_for(job))
    return {"message": job.message, "job": job_views.to_api(job)}
