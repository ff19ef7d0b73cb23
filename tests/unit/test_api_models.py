"""The API's request and response models: strict query strings, Spanish 400s, camelCase."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.api.errors import status_of
from chalicelib.api.imports import CreateImportRequest
from chalicelib.api.jobs import JobView
from chalicelib.api.queries import MAX_CURSOR_LENGTH, JobErrorsQuery, JobListQuery
from chalicelib.api.rules import LookupBody, RulesBody, RulesTestBody
from chalicelib.api.schema import Request, parse, parse_json
from chalicelib.core.errors import DomainError, InvalidRequest, JobNotFound, TooManyActiveJobs


def refused(model: type[Request], data: Any) -> str:
    with pytest.raises(InvalidRequest) as caught:
        parse(model, data)
    return caught.value.message


# --- query strings --------------------------------------------------------------------------


@pytest.mark.parametrize("limit", ["²", "٣", "0", "1001", " 5", "5 ", "+5", "-1", "", "1e3"])
def test_a_limit_is_ascii_digits_in_range(limit: str) -> None:
    message = refused(JobErrorsQuery, {"limit": limit})

    assert message == "El parámetro limit debe ser un número entre 1 y 1000."


def test_each_listing_has_its_own_default_and_maximum() -> None:
    assert parse(JobListQuery, {}).limit == 50
    assert parse(JobListQuery, {"limit": "100"}).limit == 100
    assert "entre 1 y 100." in refused(JobListQuery, {"limit": "101"})
    assert parse(JobErrorsQuery, {}).limit == 100
    assert parse(JobErrorsQuery, {"limit": "1000"}).limit == 1000


def test_a_cursor_has_a_bounded_length() -> None:
    assert parse(JobListQuery, {"cursor": "a" * MAX_CURSOR_LENGTH}).cursor
    message = refused(JobListQuery, {"cursor": "a" * (MAX_CURSOR_LENGTH + 1)})

    assert message == "El cursor de paginación no es válido."


def test_status_admits_active_and_the_states_and_unknown_parameters_are_refused() -> None:
    assert parse(JobListQuery, {"status": "active"}).status == "active"
    assert parse(JobListQuery, {"status": "FAILED"}).status == "FAILED"
    assert "admite active, QUEUED, PROCESSING" in refused(JobListQuery, {"status": "done"})
    assert refused(JobListQuery, {"page": "2"}) == "El parámetro page no se admite."


# --- bodies ---------------------------------------------------------------------------------


def test_a_body_that_is_missing_or_not_json_is_a_400() -> None:
    with pytest.raises(InvalidRequest) as not_json:
        parse_json(RulesBody, b"{nope")
    with pytest.raises(InvalidRequest) as missing:
        parse_json(RulesBody, b"")

    assert not_json.value.message == "El cuerpo de la solicitud no es JSON válido."
    assert missing.value.message == "Falta el cuerpo de la solicitud (JSON)."


def test_rule_bodies_keep_their_spanish_messages() -> None:
    assert refused(RulesBody, []) == "Envíe un objeto con rules (y opcionalmente lookups)."
    assert refused(RulesBody, {"rules": {}}) == "El campo rules debe ser una lista de reglas."
    assert "El campo lookups" in refused(RulesBody, {"rules": [], "lookups": None})
    assert parse(RulesBody, {"rules": []}).lookups is None  # absent: keep the stored tables
    assert refused(LookupBody, {"entries": []}) == 'Envíe {"entries": {clave: valor, ...}}.'


def test_rule_test_lines_are_counted_and_checked_one_by_one() -> None:
    assert refused(RulesTestBody, {"lines": []}) == "Envíe entre 1 y 100 líneas."
    assert refused(RulesTestBody, {"lines": ["x"] * 101}) == "Envíe entre 1 y 100 líneas."
    message = refused(RulesTestBody, {"lines": ["x", {"a": 1}, 7]})
    assert message.startswith("La línea 3 debe ser texto DKT")
    assert "rules" in refused(RulesTestBody, {"lines": ["x"], "rules": None})


def test_create_request_round_trips_through_camel_case() -> None:
    wire = {"codigoTarjeta": "icbcvc", "filename": "abril.dkt", "size": 10}

    request = parse(CreateImportRequest, wire)

    assert (request.codigo_tarjeta, request.skip_invalid_lines) == ("ICBCVC", False)
    dumped = request.model_dump(by_alias=True)
    assert list(dumped) == [
        "codigoTarjeta",
        "filename",
        "size",
        "content",
        "skipInvalidLines",
        "replace",
        "callbackUrl",
        "sha256",
        "allowDuplicate",
        "runAt",
        "notifyEmail",
    ]
    assert parse(CreateImportRequest, dumped) == request
    assert "código de tarjeta" in refused(CreateImportRequest, {"filename": "a", "size": 1})


def test_a_job_is_shown_in_camel_case_with_millisecond_utc_times() -> None:
    moment = datetime(2024, 4, 1, 12, 30, 5, 123456, tzinfo=UTC)
    view = JobView(
        id="j1",
        type="DKT_IMPORT",
        status="QUEUED",
        progress=0,
        total_items=None,
        processed_items=0,
        message="Esperando el archivo...",
        user_id="ana",
        parameters={},
        result=None,
        error=None,
        error_count=0,
        attempts=1,
        next_retry_at=None,
        run_at=None,
        retryable=False,
        cancel_requested=False,
        callback=None,
        rows_per_second=12,
        eta_seconds=None,
        lote_id=None,
        lote_deleted=False,
        awaiting_upload=False,
        file_sha256=None,
        started_at=None,
        completed_at=None,
        created_at=moment,
        updated_at=moment,
    )

    wire = view.model_dump(by_alias=True, mode="json")

    assert wire["createdAt"] == "2024-04-01T12:30:05.123Z"
    assert wire["rowsPerSecond"] == 12 and isinstance(wire["rowsPerSecond"], int)
    assert {"totalItems", "etaSeconds", "cancelRequested", "loteDeleted", "awaitingUpload"} <= set(
        wire
    )
    assert JobView.model_validate(wire).model_dump(by_alias=True, mode="json") == wire


# --- errors to statuses ---------------------------------------------------------------------


class GoneJob(JobNotFound):
    """A subclass the status table does not name."""


class Oddity(DomainError):
    """A domain error with no entry of its own."""


def test_statuses_follow_the_exception_class_hierarchy() -> None:
    assert status_of(GoneJob("j1")) == 404
    assert status_of(Oddity("detail", "mensaje")) == 400
    assert status_of(TooManyActiveJobs("ana", 3)) == 429
