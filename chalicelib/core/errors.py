"""Domain exceptions. No boto, PynamoDB or HTTP type leaks out of chalicelib.

Each user-facing error carries a stable `code` and a Spanish `message` for the
person at the screen; `str(exc)` is the English detail for logs.
"""

from __future__ import annotations

from chalicelib.dkt.text import clipped


class DomainError(Exception):
    """Base of the errors a caller of the API can cause."""

    code = "ERROR"
    # The lote the error is about, for a client to link to (LOTE_EXISTS, DUPLICATE_FILE).
    lote_id: str | None = None

    def __init__(self, detail: str, message: str) -> None:
        super().__init__(detail)
        self.message = message

    def location(self) -> dict[str, object] | None:
        """Where in the request the problem is, for a client to point at; None: nowhere."""
        return None


class InvalidRequest(DomainError):
    """The request is malformed or breaks a validation rule."""

    code = "INVALID_REQUEST"

    def __init__(self, message: str, detail: str | None = None) -> None:
        super().__init__(detail or message, message)


class InvalidRuleSet(InvalidRequest):
    """A rule set that does not validate: the message, and the rule and field, say where."""

    def __init__(
        self, message: str, *, rule_index: int | None, rule_code: str | None, field: str | None
    ) -> None:
        super().__init__(message, f"invalid rule set: {message}")
        self.rule_index = rule_index
        self.rule_code = rule_code
        self.field = field

    def location(self) -> dict[str, object] | None:
        return {"ruleIndex": self.rule_index, "ruleCode": self.rule_code, "field": self.field}


class TooManyRows(InvalidRequest):
    """An XLSX export of more rows than a spreadsheet holds."""

    code = "TOO_MANY_ROWS"


class Unauthenticated(DomainError):
    """No bearer token, or one that does not verify."""

    code = "UNAUTHENTICATED"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, "Sesión inválida o vencida: vuelva a ingresar.")


class JobNotFound(DomainError):
    """No job with that id is visible to the caller."""

    code = "JOB_NOT_FOUND"

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id} not found", "No existe el proceso solicitado.")


class LoteNotFound(DomainError):
    """No lote with that id is visible to the caller's tenant."""

    code = "LOTE_NOT_FOUND"

    def __init__(self, lote_id: str) -> None:
        super().__init__(f"lote {lote_id} not found", "No existe el lote solicitado.")


class LookupNotFound(DomainError):
    """The tenant has no lookup table of that name."""

    code = "LOOKUP_NOT_FOUND"

    def __init__(self, name: str) -> None:
        shown = clipped(name)  # a path parameter: never echo more than a valid name can be
        super().__init__(f"lookup table {shown} not found", f"No existe la tabla {shown}.")


class RuleVersionNotFound(DomainError):
    """The tenant has no rules version of that number."""

    code = "RULES_VERSION_NOT_FOUND"

    def __init__(self, version: int) -> None:
        super().__init__(
            f"rules version {version} not found", f"No existe la versión {version} de las reglas."
        )


class JobConflict(DomainError):
    """The job is in a state that does not allow the operation."""

    code = "JOB_CONFLICT"


class LoteExists(DomainError):
    """The lote was already imported and the caller did not ask to replace it."""

    code = "LOTE_EXISTS"

    def __init__(self, lote_id: str) -> None:
        super().__init__(
            f"lote {lote_id} already exists",
            f"El lote {lote_id} ya fue importado. Elimínelo o pida reemplazarlo.",
        )
        self.lote_id = lote_id


class DuplicateFile(DomainError):
    """The same file (by SHA-256) is what an ACTIVE lote of the tenant was imported from,
    and the caller did not ask to import it again anyway."""

    code = "DUPLICATE_FILE"

    def __init__(self, lote_id: str) -> None:
        super().__init__(
            f"the file is the content of lote {lote_id}",
            f"Este archivo ya está importado: es el lote {lote_id}. No se importó de nuevo; "
            "si quiere importarlo otra vez, pida importarlo de todos modos.",
        )
        self.lote_id = lote_id


class FileTooLarge(DomainError):
    """The declared or uploaded file exceeds the configured limit."""

    code = "FILE_TOO_LARGE"

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            f"file of {size} bytes exceeds the limit of {limit}",
            f"El archivo pesa {size:,} bytes y el máximo es {limit:,}.".replace(",", "."),
        )


class TooManyActiveJobs(DomainError):
    """The caller already has the maximum number of imports in progress."""

    code = "TOO_MANY_ACTIVE_JOBS"

    def __init__(self, user_id: str, limit: int) -> None:
        super().__init__(
            f"user {user_id} has {limit} active jobs",
            f"Ya tiene {limit} importaciones en curso; espere a que termine alguna.",
        )


class IdempotencyConflict(DomainError):
    """An Idempotency-Key was reused with a different request, or is still in flight."""

    code = "IDEMPOTENCY_CONFLICT"


class FileChanged(Exception):
    """The uploaded object is no longer the version the job accepted."""


class TransientError(Exception):
    """A failure worth retrying as is: raised so SQS delivers the message again."""


class Fenced(Exception):
    """The job's checkpoint moved on under this worker: another delivery owns it."""


class CancelRequested(Exception):
    """The job's owner asked to cancel while this worker held it."""
