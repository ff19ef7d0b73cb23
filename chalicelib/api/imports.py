"""Starting DKT imports: from the API (presigned or inline upload) and from S3 uploads."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    BasePersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, model_validator

from chalicelib.adapters.auth import Identity
from chalicelib.adapters.services import Services
from chalicelib.api import job_views
from chalicelib.core.errors import (
    FileTooLarge,
    IdempotencyConflict,
    InvalidRequest,
    TooManyActiveJobs,
)
from chalicelib.core.models import JobType
from chalicelib.engine import lifecycle
from chalicelib.jobtypes.dkt_upload import CODIGO_TARJETA

FIELD_LABELS = {
    "codigoTarjeta": "código de tarjeta",
    "filename": "nombre de archivo",
    "size": "tamaño",
    "content": "contenido",
    "skipInvalidLines": "omitir líneas inválidas",
    "replace": "reemplazar lote",
}


class CreateImportRequest(BaseModel):
    """Body of POST /api/jobs/dkt-import: a file to be uploaded (`size`) or sent inline."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    codigoTarjeta: str = Field(min_length=2, max_length=12)
    filename: str = Field(min_length=1, max_length=255)
    size: int | None = Field(default=None, strict=True)
    content: str | None = None  # base64 of the file, for small files
    skipInvalidLines: StrictBool = False
    replace: StrictBool = False

    @model_validator(mode="after")
    def _one_way_to_send(self) -> CreateImportRequest:
        self.codigoTarjeta = self.codigoTarjeta.upper()
        if not CODIGO_TARJETA.match(self.codigoTarjeta):
            raise ValueError("codigoTarjeta: use de 2 a 12 letras o números, como ICBCVC")
        if (self.size is None) == (self.content is None):
            raise ValueError("indique el tamaño del archivo (size) o envíe su contenido (content)")
        return self


def parse_create_request(body: Any) -> CreateImportRequest:
    """Validates the JSON body; a 400 names the field and says what is wrong, in Spanish."""
    try:
        return CreateImportRequest.model_validate(body)
    except ValidationError as exc:
        # Never the input itself in the log: a misplaced field could hold a card number.
        problems = exc.errors(include_input=False, include_url=False, include_context=False)
        raise InvalidRequest(_first_problem(exc), f"invalid create request: {problems}") from exc


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    location = ".".join(str(part) for part in error["loc"])
    label = FIELD_LABELS.get(location, location)
    kind = error["type"]
    if kind == "missing":
        return f"Falta el campo {label} ({location})."
    if kind == "extra_forbidden":
        return f"El campo {location} no se admite."
    if kind == "value_error":
        return "Solicitud inválida: " + str(error["ctx"]["error"])
    return f"El campo {label} ({location}) no es válido."


def create_import(
    owner: Identity, request: CreateImportRequest, services: Services
) -> dict[str, Any]:
    """Writes a QUEUED job and either returns a presigned upload or stores the inline file."""
    settings = services.settings
    data = _inline_bytes(request.content, settings.inline_max_bytes) if request.content else None
    size = len(data) if data is not None else int(request.size or 0)
    if size <= 0:
        raise InvalidRequest("El archivo está vacío.", "declared size is not positive")
    if size > settings.max_file_size:
        raise FileTooLarge(size, settings.max_file_size)
    if len(job_views.list_active(owner)) >= settings.max_active_jobs_per_user:
        raise TooManyActiveJobs(owner.user_id, settings.max_active_jobs_per_user)
    job_id = lifecycle.new_job_id()
    key = services.store.upload_key(owner.tenant_id, owner.user_id, job_id, request.filename)
    job = lifecycle.create(
        job_type=JobType.DKT_IMPORT,
        owner=owner,
        parameters={
            "codigoTarjeta": request.codigoTarjeta,
            "filename": request.filename,
            "size": size,
            "skipInvalidLines": request.skipInvalidLines,
            "replace": request.replace,
            "source": "inline" if data is not None else "upload",
        },
        message="Esperando el archivo...",
        ttl_days=settings.job_ttl_days,
        upload_key=key,
        job_id=job_id,
    )
    if data is not None:
        services.store.put(key, data)  # its S3 event starts the processing
        return {"job": job_views.to_api(job), "upload": None}
    upload = services.store.presigned_post(key, settings.max_file_size, settings.upload_url_ttl_s)
    return {"job": job_views.to_api(job), "upload": upload.to_api()}


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
) -> dict[str, Any]:
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

    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="payload",
        persistence_store=persistence,
        config=config,
        key_prefix="dkt-import",
    )
    def create(payload: dict[str, Any]) -> dict[str, Any]:
        return create_import(owner, request, services)

    payload = {
        "key": f"{owner.tenant_id}/{owner.user_id}/{idempotency_key}",
        "request": request.model_dump(),
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
    return result
