"""What users do to their jobs and lotes besides creating imports: cancel, retry, delete."""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import TransactWriteError

from chalicelib.adapters.auth import Identity
from chalicelib.adapters.dynamo import transaction, transaction_cancelled
from chalicelib.adapters.services import Services
from chalicelib.api import job_views
from chalicelib.core.errors import JobConflict, TooManyActiveJobs
from chalicelib.engine import lifecycle
from chalicelib.jobtypes import lote_delete
from chalicelib.stores import lotes


def cancel(owner: Identity, job_id: str) -> dict[str, Any]:
    job = lifecycle.request_cancel(job_views.get_owned(job_id, owner))
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
        if job.file_etag and found.etag != job.file_etag and not lifecycle.starts_over(job):
            raise JobConflict(
                f"job {job.id}: upload {job.upload_key} was replaced",
                "El archivo cambió desde que comenzó esta importación; cree una nueva.",
            )
        upload = (found.size, found.etag)
    services.queue.send(lifecycle.prepare_retry(job, upload))
    return {"message": job.message, "job": job_views.to_api(job)}


def delete_lote(owner: Identity, lote_id: str, services: Services) -> dict[str, Any]:
    """Hides the lote at once and starts a LOTE_DELETE job that removes its lines."""
    lote = lotes.get_active(owner.tenant_id, lote_id)
    try:
        with transaction() as tx:
            lotes.begin_delete(lote, tx)
            job = lote_delete.deletion_job(
                owner=owner,
                lote_id=lote_id,
                generation_job_id=lote.job_id,
                reason=lote_delete.REASON_DELETE,
                line_count=int(lote.line_count),
                settings=services.settings,
                transaction=tx,
            )
    except TransactWriteError as exc:
        if not transaction_cancelled(exc):
            raise
        raise JobConflict(
            f"lote {lote_id} changed while deleting it",
            f"El lote {lote_id} está siendo modificado por otra importación; intente luego.",
        ) from exc
    services.queue.send(lifecycle.message_for(job))
    return {"message": job.message, "job": job_views.to_api(job)}
