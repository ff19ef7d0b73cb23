"""The API's JSON conventions, shared by every request and response model.

Python attributes are snake_case and the wire is camelCase (`populate_by_name`, so
code can build a model by attribute name). A request that fails validation is an
InvalidRequest whose Spanish message names the field; the caller's input is never
copied into the log, since a misplaced field could hold a card number.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
)
from pydantic.alias_generators import to_camel
from pydantic_core import ErrorDetails

from chalicelib.core.clock import iso
from chalicelib.core.errors import InvalidRequest


def _iso(moment: datetime) -> str:
    return iso(moment) or ""


# Times as the API has always shown them: UTC, milliseconds, a Z.
Timestamp = Annotated[
    datetime,
    PlainSerializer(_iso, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


def _as_utc(moment: datetime) -> datetime:
    # A time without an offset is UTC, as every time the API writes.
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError as exc:  # year 1 or 9999 with an offset: no such UTC time
        raise ValueError("la fecha está fuera de rango") from exc


# A time a caller sends (ISO 8601), in UTC whatever offset it came with.
UtcDateTime = Annotated[datetime, AfterValidator(_as_utc)]


class ApiModel(BaseModel):
    """Base of every body the API reads or writes: camelCase on the wire."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        # Titles from the Python name: "Total items", not pydantic's "Totalitems".
        field_title_generator=lambda name, _: name.replace("_", " ").capitalize(),
    )


class Request(ApiModel):
    """A body or query string a caller sends; unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")

    # Field (wire name) -> how to say it in Spanish, for the generic messages.
    labels: ClassVar[dict[str, str]] = {}

    @classmethod
    def problem(cls, error: ErrorDetails) -> str:
        """The Spanish message for the first thing wrong with a request."""
        location = ".".join(str(part) for part in error["loc"])
        label = cls.labels.get(location, location)
        kind = error["type"]
        if kind in ("model_type", "model_attributes_type"):  # not an object at all
            return "El cuerpo de la solicitud debe ser un objeto JSON."
        if kind == "missing":
            return f"Falta el campo {label} ({location})."
        if kind == "extra_forbidden":
            return f"El campo {location} no se admite."
        if kind == "value_error":
            return "Solicitud inválida: " + str(error.get("ctx", {}).get("error", ""))
        return f"El campo {label} ({location}) no es válido."


R = TypeVar("R", bound=Request)


def parse(model: type[R], data: Any) -> R:
    """`data` as `model`; raises InvalidRequest with the model's Spanish message."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = exc.errors(include_input=False, include_url=False, include_context=False)
        raise InvalidRequest(
            model.problem(exc.errors(include_input=False)[0]),
            f"invalid {model.__name__}: {problems}",
        ) from exc


# No body of this API nests deeper than a rule's actions inside a list of rules (4 levels);
# the bound keeps a hostile body from the parser's and the validator's recursion.
MAX_JSON_DEPTH = 16


def parse_json(model: type[R], raw: str | bytes | None) -> R:
    """A JSON request body as `model`; a missing, unreadable or too deep body is a 400 too."""
    if not raw:
        raise InvalidRequest("Falta el cuerpo de la solicitud (JSON).")
    try:
        data = json.loads(raw, parse_constant=_not_json)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidRequest("El cuerpo de la solicitud no es JSON válido.", str(exc)) from exc
    if depth(data) > MAX_JSON_DEPTH:
        raise InvalidRequest(
            f"El cuerpo de la solicitud anida más de {MAX_JSON_DEPTH} niveles.", "too deep"
        )
    try:
        # JSON's \ud800 escapes decode to lone surrogates, which are no text: UTF-8 has none.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidRequest(
            "El cuerpo de la solicitud tiene texto inválido (un carácter UTF-16 suelto).",
            "lone surrogate",
        ) from exc
    return parse(model, data)


def _not_json(constant: str) -> Any:
    # Python's json reads NaN and Infinity, which JSON has not (nor DynamoDB, nor the page).
    raise ValueError(f"{constant} is not JSON")


def depth(data: Any) -> int:
    """How deep lists and objects nest in `data` (a scalar is 0), without recursion."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, level = stack.pop()
        children = value.values() if isinstance(value, dict) else value
        if isinstance(value, dict | list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in children)
    return deepest
