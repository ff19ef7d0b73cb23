"""Schemathesis against GET /api/openapi.json: every operation, called in-process.

Each operation of the document is one test (`-k "GET /api/jobs"` picks one). Schemathesis
generates its requests, valid and invalid ones (its coverage phase: boundary values,
missing and malformed fields, other methods and media types; then fuzzing), and each
is sent to the real Chalice app through `chalice.test.Client`, on the empty moto of
`aws`, with a valid bearer token. Every answer must be no 5xx, a status the document
lists for the operation, of a content type it lists, with a body that matches the
schema of that status; and every error, Chalice's own 405 and 415 included, is the
API's {"code", "message"}.

Bounded for `make test`: SCHEMATHESIS_MAX_EXAMPLES (default 20) examples per operation
in the fuzzing phase, derandomized and without an example database, so every run sends
the same requests. To look harder (500 examples take a few minutes):

    SCHEMATHESIS_MAX_EXAMPLES=500 .venv/bin/python -m pytest tests/functional/test_schemathesis.py

A failure prints the request that broke the rule as a curl command (its host is a
placeholder): replay its path, headers and body with `api` or `chalice_client`, or
against `make run`.
"""

from __future__ import annotations

import io
import json
import os
import time

import requests
import schemathesis
from chalice.test import Client
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from support import token_for

import app as app_module
from chalicelib.core.redact import card_numbers

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "20"))
# Only so that `requests` can prepare each request; the app gets its path and query.
BASE_URL = "http://dkt-jobs.test"


def _served_document() -> dict[str, object]:
    with Client(app_module.app) as client:
        response = client.http.get("/api/openapi.json")
    assert response.status_code == 200, response.body
    return dict(response.json_body)


schema = schemathesis.openapi.from_dict(_served_document())
TOKEN = token_for("ana")
schema.config.update(headers={"Authorization": f"Bearer {TOKEN}"})
# OPTIONS is answered by API Gateway (CORS preflight), never by the app; chalice.test's
# Client cannot even read the body-less answer its local gateway gives instead.
schema.config.phases.coverage.unexpected_methods -= {"options"}


def errors_are_the_apis_shape(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> None:
    """Every 4xx and 5xx is {"code", "message"} (and a rule set's `location`), as the README
    promises: also the 405s and
    415s Chalice answers itself, which Schemathesis' conformance checks leave alone."""
    if response.status_code < 400:
        return
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    # A rule set's 400 also says where (`location`: the rule and field), as an object.
    shape_ok = (
        isinstance(body, dict)
        and set(body) - {"location"} == {"code", "message"}
        and all(isinstance(body[key], str) and body[key] for key in ("code", "message"))
        and isinstance(body.get("location", {}), dict)
    )
    assert shape_ok, f"{response.status_code} is not {{'code', 'message'}}: {response.content!r}"


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    errors_are_the_apis_shape,
]


def send(client: Client, case: schemathesis.Case) -> schemathesis.Response:
    """Sends `case` to the app in-process, as `requests` would put it on the wire, and
    answers what API Gateway would pass on."""
    kwargs = case.as_transport_kwargs(base_url=BASE_URL)
    prepared = requests.Request(
        method=kwargs["method"],
        url=kwargs["url"],
        headers=kwargs["headers"],
        params=kwargs.get("params"),
        data=kwargs.get("data"),
        json=kwargs.get("json"),
        cookies=kwargs.get("cookies"),
    ).prepare()
    body = prepared.body if prepared.body is not None else b""
    started = time.perf_counter()
    answered = client.http.request(
        prepared.method or case.method,
        prepared.path_url,
        headers=dict(prepared.headers),
        body=body.encode() if isinstance(body, str) else body,
    )
    elapsed = time.perf_counter() - started
    headers = {name.lower(): [value] for name, value in answered.headers.items()}
    # A Lambda answer without a Content-Type goes out as application/json: API Gateway's
    # proxy integration (and `chalice local`, behind `make run`) add it; chalice.test's
    # Client does not.
    headers.setdefault("content-type", ["application/json"])
    return schemathesis.Response(
        status_code=answered.status_code,
        headers=headers,
        content=answered.body,
        request=prepared,
        elapsed=elapsed,
        verify=True,
    )


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_is_the_one_the_openapi_document_describes(
    case: schemathesis.Case, chalice_client: Client, every_log_line: io.StringIO
) -> None:
    logged_before = every_log_line.tell()
    response = send(chalice_client, case)

    case.validate_response(response, checks=CHECKS)
    # Whatever was generated, no card number or token is logged or answered in clear.
    assert card_numbers(every_log_line.getvalue()[logged_before:]) == []
    assert TOKEN not in every_log_line.getvalue()[logged_before:]
    if response.status_code >= 400:
        assert card_numbers(response.text) == []
