"""Domain errors as HTTP answers: one table from exception class to status, one error body."""

from __future__ import annotations

from chalice.app import Response

from chalicelib.api.schema import ApiModel
from chalicelib.core.errors import (
    DomainError,
    DuplicateFile,
    FileTooLarge,
    IdempotencyConflict,
    InvalidRequest,
    JobConflict,
    JobNotFound,
    LookupNotFound,
    LoteExists,
    LoteNotFound,
    RuleVersionNotFound,
    TooManyActiveJobs,
    Unauthenticated,
)
from chalicelib.core.redact import redact
from chalicelib.dkt.text import clipped

# Looked up along the exception's class hierarchy, so a new subclass of JobNotFound is a
# 404 without an entry of its own; DomainError itself is the caller's fault, hence 400.
STATUS_BY_ERROR: dict[type[DomainError], int] = {
    DomainError: 400,
    InvalidRequest: 400,
    Unauthenticated: 401,
    JobNotFound: 404,
    LoteNotFound: 404,
    LookupNotFound: 404,
    RuleVersionNotFound: 404,
    JobConflict: 409,
    LoteExists: 409,
    DuplicateFile: 409,
    IdempotencyConflict: 409,
    FileTooLarge: 413,
    TooManyActiveJobs: 429,
}

# What each error status means, for the OpenAPI document.
ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Invalid input: a malformed body, parameter or cursor.",
    401: "No bearer token, or one that does not verify.",
    404: "Not found, or not the caller's.",
    409: "The resource is in a state that does not allow the operation.",
    413: "The file is larger than the configured limit.",
    405: "The path does not take this method.",
    415: "The body is not JSON (Content-Type).",
    429: "The caller has too many imports in progress.",
    500: "An internal fault of the service.",
}


class ErrorLocation(ApiModel):
    """Where a rule set is wrong: the rule (index in `rules`, code) and the field's path
    inside it ("conditions[0].op"), so an editor can point at it."""

    rule_index: int | None = None
    rule_code: str | None = None
    field: str | None = None


class ErrorBody(ApiModel):
    """Every error the API answers: a stable code and a message for the person at the screen;
    `location` only where the request has a place the problem is at (a rule's field);
    `loteId` only where the error is about a lote (LOTE_EXISTS, DUPLICATE_FILE)."""

    code: str
    message: str
    location: ErrorLocation | None = None
    lote_id: str | None = None


def status_of(exc: DomainError) -> int:
    """The HTTP status of a domain error: that of its nearest class in the table."""
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 400  # unreachable: DomainError is in the table


# The longest message the API writes is about 250 characters; past this one it is quoting.
MAX_MESSAGE_LENGTH = 500


def error_response(
    status: int,
    code: str,
    message: str,
    location: dict[str, object] | None = None,
    lote_id: str | None = None,
) -> Response:
    """The one way out for an error: whatever user text the message quotes, redacted."""
    # Redacted first: a cut card number would no longer look like one.
    body = ErrorBody(
        code=code,
        message=clipped(redact(message), MAX_MESSAGE_LENGTH),
        location=None if location is None else ErrorLocation.model_validate(_redacted(location)),
        lote_id=lote_id,
    )
    return Response(
        body=body.model_dump(by_alias=True, mode="json", exclude_none=True),
        status_code=status,
        headers={"Content-Type": "application/json"},
    )


def _redacted(location: dict[str, object]) -> dict[str, object]:
    # A rule's code or an unknown key the caller sent is theirs: treated like the message.
    return {
        key: clipped(redact(value), MAX_ID_TEXT) if isinstance(value, str) else value
        for key, value in location.items()
    }


MAX_ID_TEXT = 64  # as much as a message quotes of the caller's text

# What Chalice answers itself, before any view runs, as {"Code", "Message"}: the same
# answers in the API's shape, with a message that repeats nothing of the request.
CHALICE_ERRORS: dict[str, tuple[str, str]] = {
    "MethodNotAllowedError": ("METHOD_NOT_ALLOWED", "La ruta no admite este método."),
    "UnsupportedMediaType": (
        "UNSUPPORTED_MEDIA_TYPE",
        "El cuerpo de la solicitud debe enviarse como application/json.",
    ),
    "BadRequest": ("INVALID_REQUEST", "Solicitud inválida."),
    "InternalServerError": ("INTERNAL_ERROR", "Error interno; intente nuevamente."),
}


def in_api_shape(response: Response) -> Response:
    """`response` itself, or, if Chalice wrote it, the same status in the API's error shape."""
    body = response.body
    if not (isinstance(body, dict) and body.keys() == {"Code", "Message"}):
        return response
    code, message = CHALICE_ERRORS.get(str(body["Code"]), CHALICE_ERRORS["BadRequest"])
    if response.status_code >= 500:
        code, message = CHALICE_ERRORS["InternalServerError"]
    shaped = error_response(response.status_code, code, message)
    shaped.headers = {**response.headers, **shaped.headers}
    return shaped
