"""Query strings, one strict model per route: a limit is ASCII digits in range, a cursor
has a bounded length, and a parameter the route does not know is refused."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal, cast

import annotated_types
from pydantic import BeforeValidator, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import ErrorDetails, PydanticCustomError

from chalicelib.api.schema import Request
from chalicelib.stores.line_filter import LineFilter

# Cursors the service hands out are a few hundred characters (a DynamoDB key, base64).
MAX_CURSOR_LENGTH = 2048
_DIGITS = re.compile(r"[0-9]{1,9}")


def _ascii_digits(value: Any) -> Any:
    # str.isdigit() also accepts "²" or "٣", which int() then refuses: only 0-9 here.
    if isinstance(value, str):
        if not _DIGITS.fullmatch(value):
            raise PydanticCustomError("limit_digits", "limit must be ASCII digits")
        return int(value)
    return value


Limit = Annotated[int, BeforeValidator(_ascii_digits)]
Cursor = Annotated[str, StringConstraints(max_length=MAX_CURSOR_LENGTH)]


class PageQuery(Request):
    """`limit` and `cursor` of a paginated listing; subclasses set the limit's range."""

    model_config = ConfigDict(strict=True)

    limit: Limit = Field(default=50, ge=1, le=100)
    # Empty means "from the start", as the page sends it.
    cursor: Cursor | None = None

    @classmethod
    def max_limit(cls) -> int:
        for constraint in cls.model_fields["limit"].metadata:
            if isinstance(constraint, annotated_types.Le):
                return cast(int, constraint.le)
        raise TypeError(f"{cls.__name__}.limit has no maximum")

    @classmethod
    def problem(cls, error: ErrorDetails) -> str:
        field = str(error["loc"][0]) if error["loc"] else ""
        if error["type"] == "extra_forbidden":
            return f"El parámetro {field} no se admite."
        if field == "limit":
            return f"El parámetro limit debe ser un número entre 1 y {cls.max_limit()}."
        if field == "cursor":
            return "El cursor de paginación no es válido."
        return f"El parámetro {field} no es válido."


class LongPageQuery(PageQuery):
    """A page of lines (a lote's, a job's errors): more per page, 100 by default."""

    limit: Limit = Field(default=100, ge=1, le=1000)


CardCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{2,12}$")]
Periodo = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")]
CARD_CODE_PROBLEM = "El parámetro codigoTarjeta debe tener de 2 a 12 letras o números."
PERIODO_PROBLEM = "El parámetro periodo debe tener 4 dígitos (AAMM)."


class JobListQuery(PageQuery):
    """GET /api/jobs: a page of the caller's jobs, or (`status=active`) all that are running;
    a status, card product or periodo keeps only the jobs that have it."""

    status: Literal["active", "QUEUED", "PROCESSING", "COMPLETED", "FAILED", "CANCELLED"] | None = (
        None
    )
    codigo_tarjeta: CardCode | None = None
    periodo: Periodo | None = None

    @model_validator(mode="after")
    def _active_alone(self) -> JobListQuery:
        if self.status == "active" and (self.codigo_tarjeta or self.periodo):
            raise ValueError("status=active no se combina con codigoTarjeta ni periodo.")
        return self

    @classmethod
    def problem(cls, error: ErrorDetails) -> str:
        if error["loc"] == ("status",):
            return (
                "El parámetro status admite active, QUEUED, PROCESSING, COMPLETED, FAILED "
                "o CANCELLED."
            )
        if error["loc"] == ("codigoTarjeta",):
            return CARD_CODE_PROBLEM
        if error["loc"] == ("periodo",):
            return PERIODO_PROBLEM
        if error["type"] == "value_error":
            return str(error.get("ctx", {}).get("error", ""))
        return super().problem(error)


# A filter's text: what a user types in a search box, bounded.
SearchText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
# An amount as the API writes them: "-1234.56".
AmountText = Annotated[str, StringConstraints(pattern=r"^-?[0-9]{1,13}(\.[0-9]{1,2})?$")]


class LoteListQuery(PageQuery):
    """GET /api/lotes: a page of the tenant's lotes, of one card product and/or periodo."""

    codigo_tarjeta: CardCode | None = None
    periodo: Periodo | None = None

    @classmethod
    def problem(cls, error: ErrorDetails) -> str:
        if error["loc"] == ("codigoTarjeta",):
            return CARD_CODE_PROBLEM
        if error["loc"] == ("periodo",):
            return PERIODO_PROBLEM
        return super().problem(error)


class LoteLinesQuery(LongPageQuery):
    """GET /api/lotes/{loteId}: a page of its lines, optionally only those that match."""

    titular: SearchText | None = None
    tarjeta: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")] | None = None
    comercio: SearchText | None = None
    regla: SearchText | None = None
    importe_min: AmountText | None = None
    importe_max: AmountText | None = None

    @model_validator(mode="after")
    def _range_in_order(self) -> LoteLinesQuery:
        low, high = self.importe_min, self.importe_max
        if low is not None and high is not None and Decimal(low) > Decimal(high):
            raise ValueError("importeMin no puede ser mayor que importeMax.")
        return self

    def line_filter(self) -> LineFilter:
        return LineFilter(
            holder=self.titular,
            card_last4=self.tarjeta,
            merchant=self.comercio,
            rule=self.regla,
            amount_min=None if self.importe_min is None else Decimal(self.importe_min),
            amount_max=None if self.importe_max is None else Decimal(self.importe_max),
        )

    @classmethod
    def problem(cls, error: ErrorDetails) -> str:
        field = str(error["loc"][0]) if error["loc"] else ""
        if field == "tarjeta":
            return "El parámetro tarjeta son los últimos 4 dígitos de la tarjeta."
        if field in ("importeMin", "importeMax"):
            return f"El parámetro {field} debe ser un importe como 1234.56."
        if field in ("titular", "comercio", "regla"):
            return f"El parámetro {field} debe tener de 1 a 100 caracteres."
        if error["type"] == "value_error":
            return str(error.get("ctx", {}).get("error", ""))
        return super().problem(error)


class JobErrorsQuery(LongPageQuery):
    """GET /api/jobs/{jobId}/errors: a page of the line-level error report."""


class RuleVersionsQuery(PageQuery):
    """GET /api/rules/versions: a page of the tenant's rules versions."""
