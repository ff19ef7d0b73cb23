"""Starting a DKT import from the API: a presigned upload, or a small file sent inline."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any, ClassVar

from aws_lambda_powertools.utilities.idempotency import (
    BasePersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from pydantic import ConfigDict, Field, StrictBool, model_validator

from chalicelib.adapters import webhooks
from chalicelib.adapters.auth import Identity
from chalicelib.adapters.services import Services
from chalicelib.adapters.storage import PresignedUpload
from chalicelib.adapters.webhooks import MAX_URL_LENGTH
from chalicelib.api.jobs import JobView
from chalicelib.api.schema import ApiModel, Request, UtcDateTime
from chalicelib.core.errors import (
    DuplicateFile,
    FileTooLarge,
    IdempotencyConflict,
    InvalidRequest,
)
from chalicelib.core.models import Job, JobType
from chalicelib.core.settings import Settings
from chalicelib.engine import lifecycle, schedule
from chalicelib.jobtypes.dkt_upload import CODIGO_TARJETA
from chalicelib.stores import active_slots, file_digests


class CreateImportRequest(Request):
    """Body of POST /api/jobs/dkt-import: a file to be uploaded (`size`) or sent inline."""

    model_config = ConfigDict(
        str_strip_whitespace=True,
        # One way to send the file: its size (then the presigned upload) or its content.
        json_schema_extra={"oneOf": [{"required": ["size"]}, {"required": ["content"]}]},
    )

    labels: ClassVar[dict[str, str]] = {
        "codigoTarjeta": "código de tarjeta",
        "filename": "nombre de archivo",
        "size": "tamaño",
        "content": "contenido",
        "skipInvalidLines": "omitir líneas inválidas",
        "replace": "reemplazar lote",
        "callbackUrl": "URL de aviso",
        "sha256": "SHA-256 del archivo",
        "allowDuplicate": "importar archivo repetido",
        "runAt": "fecha de inicio (runAt)",
        "notifyEmail": "avisar por e-mail",
    }

    codigo_tarjeta: str = Field(min_length=2, max_length=12, pattern=r"^[A-Za-z0-9]{2,12}$")
    # A name to show: any text but control characters (the object key is made safe apart).
    filename: str = Field(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f]+$")
    size: int | None = Field(default=None, strict=True)
    content: str | None = None  # base64 of the file, for small files
    skip_invalid_lines: StrictBool = False
    replace: StrictBool = False
    # Called (POST, signed) when the job ends: engine/notifier.py.
    callback_url: str | None = Field(default=None, min_length=1, max_length=MAX_URL_LENGTH)
    # The file's SHA-256 (hex), if the client knows it: a file already imported into one
    # of the tenant's lotes is then refused before it is uploaded. Checked again, on the
    # uploaded object itself, whether given or not (jobtypes/dkt_upload.py).
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")
    allow_duplicate: StrictBool = False
    # Start no earlier than this (ISO 8601; no offset: UTC), at most SCHEDULE_MAX_DAYS
    # ahead: the file is uploaded now and waits (engine/schedule.py).
    run_at: UtcDateTime | None = None
    # E-mail the caller (the address of their token) when the job ends: engine/mailer.py.
    notify_email: StrictBool = False

    @model_validator(mode="after")
    def _one_way_to_send(self) -> CreateImportRequest:
        self.codigo_tarjeta = self.codigo_tarjeta.upper()
        self.sha256 = self.sha256.lower() if self.sha256 else None
        if not CODIGO_TARJETA.match(self.codigo_tarjeta):
            raise ValueError("codigoTarjeta: use de 2 a 12 letras o números, como ICBCVC")
        if (self.size is None) == (self.content is None):
            raise ValueError("indique el tamaño del archivo (size) o envíe su contenido (content)")
        return self


class UploadForm(ApiModel):
    """A presigned POST: the form a browser or CLI sends the file with, straight to S3."""

    url: str
    fields: dict[str, str]
    key: str
    max_size: int
    expires_in: int

    @classmethod
    def of(cls, upload: PresignedUpload) -> UploadForm:
        return cls(
            url=upload.url,
            fields=upload.fields,
            key=upload.key,
            max_size=upload.max_size,
            expires_in=upload.expires_in,
        )


class CreatedImport(ApiModel):
    """The QUEUED job, and where to upload its file (null when it was sent inline)."""

    job: JobView
    upload: UploadForm | None


def create_import(
    owner: Identity, request: CreateImportRequest, services: Services
) -> CreatedImport:
    """Writes a QUEUED job and either returns a presigned upload or stores the inline file."""
    settings = services.settings
    data = _inline_bytes(request.content, settings.inline_max_bytes) if request.content else None
    size = len(data) if data is not None else int(request.size or 0)
    if size <= 0:
        raise InvalidRequest("El archivo está vacío.", "declared size is not positive")
    if size > settings.max_file_size:
        raise FileTooLarge(size, settings.max_file_size)
    if request.callback_url is not None:
        _check_callback(request.callback_url, settings)
    sha256 = file_digests.digest_of(data) if data is not None else request.sha256
    run_at = schedule.check_run_at(request.run_at, services)
    if request.notify_email:
        _check_email(owner, settings)
    if sha256 and not request.allow_duplicate:
        replacing = request.codigo_tarjeta if request.replace else None
        _refuse_duplicate(owner, sha256, replacing)
    job_id = lifecycle.new_job_id(services.new_id)
    active_slots.take(owner, job_id, settings.max_active_jobs_per_user, clock=services.clock)
    key = services.store.upload_key(owner.tenant_id, owner.user_id, job_id, request.filename)
    try:
        job = _create_job(owner, request, services, job_id, key, size, data is not None, run_at)
    except Exception:
        active_slots.release(owner, job_id, clock=services.clock)
        raise
    if data is not None:
        services.store.put(key, data)  # its S3 event starts the processing
        return CreatedImport(job=JobView.of(job), upload=None)
    upload = services.store.presigned_post(key, size, settings.upload_url_ttl_s)
    return CreatedImport(job=JobView.of(job), upload=UploadForm.of(upload))


def _check_email(owner: Identity, settings: Settings) -> None:
    if not settings.email_sender:
        raise InvalidRequest(
            "Los avisos por e-mail (notifyEmail) no están habilitados en este servicio.",
            "notifyEmail given, but no EMAIL_SENDER is configured",
        )
    if owner.email is None:
        raise InvalidRequest(
            "Su sesión no informa una dirección de e-mail verificada: no se puede avisarle "
            "por e-mail.",
            "notifyEmail given, but the token has no verified email",
        )


def _refuse_duplicate(owner: Identity, sha256: str, replacing: str | None) -> None:
    lote = file_digests.active_lote_with(owner.tenant_id, sha256, replacing=replacing)
    if lote is not None:
        raise DuplicateFile(lote.lote_id)


def _check_callback(url: str, settings: Settings) -> None:
    """Refuses a callback URL the notifier would not call (no lookup yet: it is checked
    again, resolved, at every call)."""
    has_secret = settings.webhook_secret or settings.webhook_secret_parameter
    if not (has_secret and settings.notify_queue_url):
        raise InvalidRequest(
            "Los avisos por webhook (callbackUrl) no están habilitados en este servicio.",
            "callbackUrl given, but no webhook secret or notify queue is configured",
        )
    try:
        webhooks.check_url(url, allow_loopback=settings.allow_loopback_callbacks)
    except webhooks.UnsafeCallback as exc:
        raise InvalidRequest(
            "callbackUrl: indique una dirección https pública, sin usuario ni contraseña "
            "(por ejemplo https://erp.empresa.com/avisos/dkt).",
            f"callbackUrl refused: {exc}",
        ) from exc


def _create_job(
    owner: Identity,
    request: CreateImportRequest,
    services: Services,
    job_id: str,
    key: str,
    size: int,
    inline: bool,
    run_at: datetime | None,
) -> Job:
    return lifecycle.create(
        job_type=JobType.DKT_IMPORT,
        owner=owner,
        parameters={
            "codigoTarjeta": request.codigo_tarjeta,
            "filename": request.filename,
            "size": size,
            "skipInvalidLines": request.skip_invalid_lines,
            "replace": request.replace,
            "allowDuplicate": request.allow_duplicate,
            "source": "inline" if inline else "upload",
            **({"callbackUrl": request.callback_url} if request.callback_url else {}),
            **({"notifyEmail": owner.email} if request.notify_email else {}),
        },
        message="Esperando el archivo...",
        ttl_days=services.settings.job_ttl_days,
        upload_key=key,
        job_id=job_id,
        run_at=run_at,
        clock=services.clock,
    )


def _inline_bytes(content: str, limit: int) -> bytes:
    # Checked before decoding: base64 is 4/3 of the data.
    if len(content) > (limit // 3 + 1) * 4:
        raise FileTooLarge(len(content) * 3 // 4, limit)
    try:
        return base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest(
            "El contenido (content) debe ser el archivo codificado en base64.", str(exc)
        ) from exc


def create_import_once(
    idempotency_key: str,
    owner: Identity,
    request: CreateImportRequest,
    services: Services,
    persistence: BasePersistenceLayer,
    lambda_context: Any = None,
) -> CreatedImport:
    """create_import, at most once per (user, Idempotency-Key): a repeat gets the first answer.

    The same key with a different body is a conflict, not a second import.
    """
    if not 1 <= len(idempotency_key) <= 255:
        raise InvalidRequest("El encabezado Idempotency-Key debe tener de 1 a 255 caracteres.")
    config = IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="request",
        expires_after_seconds=24 * 3600,
    )
    if lambda_context is not None:
        config.register_lambda_context(lambda_context)

    first = False  # set by create(): False when the answer is the stored one

    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="payload",
        persistence_store=persistence,
        config=config,
        key_prefix="dkt-import",
    )
    def create(payload: dict[str, Any]) -> dict[str, Any]:
        nonlocal first
        first = True
        return create_import(owner, request, services).model_dump(by_alias=True, mode="json")

    payload = {
        "key": f"{owner.tenant_id}/{owner.user_id}/{idempotency_key}",
        # Wire names: a record stored before the fields were renamed still matches.
        "request": request.model_dump(by_alias=True, mode="json"),
    }
    try:
        result: dict[str, Any] = create(payload=payload)
    except IdempotencyValidationError as exc:
        raise IdempotencyConflict(
            "Idempotency-Key reused with another body",
            "Esta Idempotency-Key ya se usó con otra solicitud.",
        ) from exc
    except IdempotencyAlreadyInProgressError as exc:
        raise IdempotencyConflict(
            "Idempotency-Key request still in progress",
            "Una solicitud con esta Idempotency-Key todavía está en curso.",
        ) from exc
    created = CreatedImport.model_validate(result)
    return created if first else _replayed(created, services)


def _replayed(stored: CreatedImport, services: Services) -> CreatedImport:
    """A repeated create: the job as it is now and, while it still waits for its file, a
    new upload form (the stored one expired UPLOAD_URL_TTL_S after the first answer, and
    the key is kept for 24 h), the wait for the file restarted with it."""
    job = lifecycle.get(stored.job.id)
    if job is None:
        return stored  # past the job's TTL: nothing newer to say
    if stored.upload is None or not lifecycle.renew_upload_window(job, clock=services.clock):
        return CreatedImport(job=JobView.of(job), upload=None)
    ttl = services.settings.upload_url_ttl_s
    form = services.store.presigned_post(stored.upload.key, stored.upload.max_size, ttl)
    return CreatedImport(job=JobView.of(job), upload=UploadForm.of(form))
