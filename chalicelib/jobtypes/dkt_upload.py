"""Files arriving in the upload bucket: the S3 notification (through SQS) starts the
DKT import they belong to, or a new one for a file dropped straight in the bucket."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from pynamodb.exceptions import PutError

from chalicelib.adapters.auth import Identity
from chalicelib.adapters.dynamo import condition_failed
from chalicelib.adapters.services import Services
from chalicelib.adapters.storage import UploadPath
from chalicelib.core.errors import DuplicateFile, FileChanged, FileTooLarge, TooManyActiveJobs
from chalicelib.core.models import Job, JobStatus, JobType, Staged
from chalicelib.engine import lifecycle, schedule
from chalicelib.stores import active_slots, file_digests

CODIGO_TARJETA = re.compile(r"^[A-Z0-9]{2,12}$")
# The largest upload the handler hashes (its Lambda has 60 s; S3 streams ~100 MB/s).
HASH_MAX_BYTES = 1024 * 1024 * 1024
# A file dropped in the bucket names its card as documented (README): in its folder,
# uploads/{tenant}/{user}/{CODIGO}/file.dkt, or first in its name, {CODIGO}_anything.dkt,
# in capitals and followed by an underscore. Anything else ("sin-codigo.dkt",
# "icbcvc-abril.dkt") fails the job saying so: a guessed code would invent a lote.
_CODIGO_IN_FILENAME = re.compile(r"^([A-Z0-9]{2,12})_")


def handle_s3_notification(body: str, services: Services) -> list[str]:
    """Reads one S3 notification (an SQS message body); returns the ids of jobs it queued."""
    try:
        event: Any = json.loads(body)
    except ValueError:
        return []
    if not isinstance(event, dict) or event.get("Event") == "s3:TestEvent":
        return []
    queued: list[str] = []
    for record in event.get("Records", []):
        if not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        s3_object = record.get("s3", {}).get("object", {})
        path = services.store.parse_key(str(s3_object.get("key", "")))
        if path is None:
            continue
        job = _job_for_upload(path, str(s3_object.get("sequencer", "")), services)
        if job is not None and accept_upload(job, services):
            queued.append(job.id)
    return queued


def _job_for_upload(path: UploadPath, sequencer: str, services: Services) -> Job | None:
    """The job the object was uploaded for, or a new one for a file dropped in the bucket."""
    if path.folder:
        job = lifecycle.get(path.folder)
        if job is not None and job.upload_key == path.key:
            return job
    codigo = (path.folder or _codigo_from_filename(path.filename) or "").upper()
    # One job per object version, however often S3 repeats the event.
    digest = hashlib.sha256(f"{path.key}|{sequencer}".encode()).hexdigest()[:24]
    job_id = f"s3{digest}"
    owner = Identity(user_id=path.user_id, tenant_id=path.tenant_id)
    try:
        job = lifecycle.create(
            job_type=JobType.DKT_IMPORT,
            owner=owner,
            parameters={
                "codigoTarjeta": codigo,
                "filename": path.filename,
                "skipInvalidLines": False,
                "replace": False,
                "source": "s3",
            },
            message="Archivo recibido en el bucket; en cola.",
            ttl_days=services.settings.job_ttl_days,
            upload_key=path.key,
            job_id=job_id,
            clock=services.clock,
        )
    except PutError as exc:
        if not condition_failed(exc):
            raise
        # A repeated event: the first may have died before taking the slot.
        job = lifecycle.get(job_id)
        return job if job is None or _holds_a_slot(job, services) else None
    if not CODIGO_TARJETA.match(codigo):
        lifecycle.fail(
            job,
            "INVALID_REQUEST",
            "No se pudo saber el código de tarjeta del archivo: súbalo en "
            "uploads/{empresa}/{usuario}/{CODIGO}/archivo.dkt, o nómbrelo "
            "{CODIGO}_archivo.dkt (por ejemplo ICBCVC_abril.dkt).",
            staged=Staged.NONE,
            fenced=False,
            clock=services.clock,
        )
        return None
    return job if _holds_a_slot(job, services) else None


def _holds_a_slot(job: Job, services: Services) -> bool:
    """Takes the user's active-import slot for a dropped file's job, as a create through
    the API does (the same limit, under the same races); a user with every slot held
    gets the job FAILED, with the file kept so that a retry can import it later."""
    if job.job_status is not JobStatus.QUEUED:
        return True  # past the start, or ended: nothing to hold
    owner = Identity(user_id=job.user_id, tenant_id=job.tenant_id)
    limit = services.settings.max_active_jobs_per_user
    try:
        active_slots.take(owner, job.id, limit, clock=services.clock)
    except TooManyActiveJobs as exc:
        lifecycle.fail(
            job,
            exc.code,
            f"Ya tiene {limit} importaciones en curso. El archivo quedó guardado: "
            "reintente esta importación cuando termine alguna.",
            staged=Staged.NONE,
            fenced=False,
            clock=services.clock,
        )
        return False
    return True


def _codigo_from_filename(filename: str) -> str | None:
    match = _CODIGO_IN_FILENAME.match(filename)
    return match.group(1) if match else None


def accept_upload(job: Job, services: Services) -> bool:
    """Checks the arrived object and queues the job's first work message.

    The presigned POST policy caps the size, but S3 emulators do not enforce it and
    files can be dropped straight in the bucket, so the size is checked here too.
    """
    if job.job_status is not JobStatus.QUEUED or job.upload_key is None:
        return False
    settings = services.settings
    found = services.store.head(job.upload_key)
    if found is None:
        return False
    size = found.size
    if size > settings.max_file_size:
        services.store.delete(job.upload_key)
        error = FileTooLarge(size, settings.max_file_size)
        lifecycle.fail(
            job, error.code, error.message, staged=Staged.NONE, fenced=False, clock=services.clock
        )
        return False
    if size == 0:
        lifecycle.fail(
            job,
            "EMPTY_FILE",
            "El archivo está vacío.",
            staged=Staged.NONE,
            fenced=False,
            clock=services.clock,
        )
        return False
    declared = job.parameters.get("size")
    if declared is not None and size != int(declared) and job.file_size is None:
        services.store.delete(job.upload_key)
        lifecycle.fail(
            job,
            "SIZE_MISMATCH",
            f"El archivo subido tiene {lifecycle.format_count(size)} bytes y se declararon "
            f"{lifecycle.format_count(int(declared))}: súbalo de nuevo creando otra importación.",
            staged=Staged.NONE,
            fenced=False,
            clock=services.clock,
        )
        return False
    try:
        # Read whole once more (~1 s for 50 MiB), by the first delivery only (a repeated
        # event finds the file recorded); a file too large to read in the handler's time
        # is not hashed, and not told from its duplicates.
        hashed = job.file_size is None and size <= HASH_MAX_BYTES
        sha256 = services.store.sha256(job.upload_key, found.etag) if hashed else None
    except FileChanged:
        return False  # replaced while it was read: its own notification follows
    first = lifecycle.record_upload(job, size, found.etag, sha256, clock=services.clock)
    if not first and (job.job_status is not JobStatus.QUEUED or job.file_etag != found.etag):
        return False
    # Only by the delivery that recorded the file, before its message is sent: a repeated
    # one could find the job started by then, and must not fail it.
    if first and sha256 and _refused_as_duplicate(job, sha256, services):
        return False
    # Sent again for a repeated notification too: the first send may have failed after
    # the upload was recorded, and a duplicate message only loses a race on `start`.
    schedule.send_when_due(job, services)
    return True


def _refused_as_duplicate(job: Job, sha256: str, services: Services) -> bool:
    """Fails the job when its file is already the content of one of the tenant's lotes
    and the user did not allow that. The file and its digest stay with the job: a retry
    with allowDuplicate imports it, and its lote then records the file too. Replacing a
    lote of the same card with the same file is no duplicate: it re-reads the file."""
    parameters = job.parameters
    if parameters.get("allowDuplicate"):
        return False
    replacing = parameters.get("codigoTarjeta") if parameters.get("replace") else None
    lote = file_digests.active_lote_with(job.tenant_id, sha256, replacing=replacing)
    if lote is None:
        return False
    error = DuplicateFile(lote.lote_id)
    lifecycle.fail(
        job,
        error.code,
        error.message,
        staged=Staged.NONE,
        details={"loteId": lote.lote_id},
        fenced=False,
        clock=services.clock,
    )
    return True
