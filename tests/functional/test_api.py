"""The HTTP API: identity, isolation between users, input errors, listing, idempotency."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import jwt
import pytest
from support import TEST_SECRET, Api, start_import, token_for, upload

from chalicelib import runtime
from chalicelib.adapters.auth import LOCAL_AUDIENCE, LOCAL_ISSUER
from chalicelib.core.clock import utcnow
from chalicelib.engine import sweeper
from localdev.dktgen import generate_bytes
from localdev.pump import Pump
from localdev.tokens import issue_local_token

MAX_FILE_SIZE = 50 * 1024 * 1024


# --- identity -----------------------------------------------------------------------------


def _token(**overrides: object) -> str:
    claims = {
        "sub": "ana",
        "tenant": "acme",
        "iss": LOCAL_ISSUER,
        "aud": LOCAL_AUDIENCE,
        "exp": int(time.time()) + 600,
        **overrides,
    }
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, TEST_SECRET, "HS256")


# Each case builds its Authorization header when the test runs: a token built at import
# would count its 600 s of validity from collection, and could expire before its test.
BAD_AUTHORIZATIONS: dict[str, Callable[[], str | None]] = {
    "missing": lambda: None,
    "empty": lambda: "",
    "basic": lambda: "Basic YW5hOnNlY3JldA==",
    "empty-bearer": lambda: "Bearer ",
    "garbage": lambda: "Bearer not-a-jwt",
    "other-key": lambda: f"Bearer {issue_local_token('ana', 'acme', secret='x' * 40)}",
    "expired": lambda: f"Bearer {_token(exp=int(time.time()) - 60)}",
    "other-audience": lambda: f"Bearer {_token(aud='someone-else')}",
    "no-tenant": lambda: f"Bearer {_token(tenant=None)}",
    "no-subject": lambda: f"Bearer {_token(sub=None)}",
}


@pytest.mark.parametrize("case", list(BAD_AUTHORIZATIONS))
def test_requests_without_a_valid_token_get_401(api: Api, case: str) -> None:
    authorization = BAD_AUTHORIZATIONS[case]()
    headers = {} if authorization is None else {"Authorization": authorization}
    routes = [("get", "/api/jobs"), ("get", "/api/jobs/x"), ("post", "/api/jobs/x/cancel")]
    for method, path in routes:
        response = getattr(api.client.http, method)(path, headers=headers)
        assert response.status_code == 401, (path, response.body)
        assert response.json_body["code"] == "UNAUTHENTICATED"
        assert "ingresar" in response.json_body["message"]


def test_user_id_comes_from_the_token_not_the_request(api: Api) -> None:
    response = api.post(
        "/api/jobs/dkt-import",
        {"codigoTarjeta": "ICBCVC", "filename": "a.dkt", "size": 10, "userId": "bruno"},
    )
    assert response.status_code == 400
    created = api.create_import(size=10)
    assert created.json_body["job"]["userId"] == "ana"


# --- isolation ----------------------------------------------------------------------------


def test_another_users_job_is_not_found_for_get_and_cancel(api: Api, other_api: Api) -> None:
    # GIVEN a job of Ana's
    job_id = api.create_import(size=100).json_body["job"]["id"]
    # WHEN Bruno asks for it or tries to cancel it
    got = other_api.get(f"/api/jobs/{job_id}")
    cancelled = other_api.cancel(job_id)
    # THEN he is told it does not exist, and it is untouched
    assert got.status_code == 404
    assert cancelled.status_code == 404
    assert got.json_body == {"code": "JOB_NOT_FOUND", "message": "No existe el proceso solicitado."}
    assert api.job(job_id)["status"] == "QUEUED"


def test_each_user_lists_only_their_own_jobs(api: Api, other_api: Api) -> None:
    ana = {api.create_import(size=10).json_body["job"]["id"] for _ in range(2)}
    bruno = {other_api.create_import(size=10).json_body["job"]["id"]}

    assert {job["id"] for job in api.get("/api/jobs").json_body["jobs"]} == ana
    assert {job["id"] for job in other_api.get("/api/jobs").json_body["jobs"]} == bruno


def test_same_user_id_in_another_tenant_sees_nothing(api: Api) -> None:
    job_id = api.create_import(size=10).json_body["job"]["id"]
    stranger = Api(api.client, token_for("ana", tenant="globex"))

    assert stranger.get(f"/api/jobs/{job_id}").status_code == 404
    assert stranger.get("/api/jobs").json_body["jobs"] == []


# --- input errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("{not json", None),
        ("", None),
        ("[1, 2]", None),
        (json.dumps({"filename": "a.dkt", "size": 10}), "codigoTarjeta"),
        (json.dumps({"codigoTarjeta": "ICBCVC", "size": 10}), "filename"),
        (json.dumps({"codigoTarjeta": "ICBCVC", "filename": "a.dkt"}), "size"),
        (json.dumps({"codigoTarjeta": "IC BC!", "filename": "a.dkt", "size": 10}), "codigo"),
        (json.dumps({"codigoTarjeta": "ICBCVC", "filename": "a.dkt", "size": "10"}), "size"),
        (json.dumps({"codigoTarjeta": "ICBCVC", "filename": "a.dkt", "size": 0}), None),
        (json.dumps({"codigoTarjeta": "ICBCVC", "filename": "a.dkt", "content": "***"}), None),
        (
            json.dumps({"codigoTarjeta": "ICBCVC", "filename": "a", "size": 1, "replace": "si"}),
            "replace",
        ),
    ],
)
def test_malformed_create_requests_get_400_in_spanish(
    api: Api, body: str, field: str | None
) -> None:
    response = api.post("/api/jobs/dkt-import", body)
    assert response.status_code == 400, response.body
    assert response.json_body["code"] == "INVALID_REQUEST"
    if field:
        assert field in response.json_body["message"]
    assert api.get("/api/jobs").json_body["jobs"] == []


def test_declared_size_over_the_limit_gets_413(api: Api) -> None:
    response = api.create_import(size=MAX_FILE_SIZE + 1)
    assert response.status_code == 413
    assert response.json_body["code"] == "FILE_TOO_LARGE"
    assert "52.428.800" in response.json_body["message"]


def test_inline_content_over_the_inline_limit_gets_413(api: Api) -> None:
    content = base64.b64encode(b"x" * (4 * 1024 * 1024 + 10)).decode()
    response = api.create_import(content=content)
    assert response.status_code == 413


def test_unknown_job_is_404_and_bad_limit_is_400(api: Api) -> None:
    assert api.get("/api/jobs/doesnotexist").status_code == 404
    assert api.get("/api/jobs?limit=0").status_code == 400
    assert api.get("/api/jobs?limit=abc").status_code == 400
    assert api.get("/api/jobs?cursor=%%%").status_code == 400


def test_too_many_active_imports_get_429(api: Api) -> None:
    for _ in range(5):
        assert api.create_import(size=10).status_code == 201
    response = api.create_import(size=10)
    assert response.status_code == 429
    assert response.json_body["code"] == "TOO_MANY_ACTIVE_JOBS"


def test_a_job_that_ends_gives_its_slot_to_the_next_create(api: Api, other_api: Api) -> None:
    created = [api.create_import(size=10).json_body["job"]["id"] for _ in range(5)]
    assert other_api.create_import(size=10).status_code == 201  # the limit is per user
    assert api.create_import(size=10).status_code == 429

    assert api.cancel(created[0]).status_code == 200

    assert api.create_import(size=10).status_code == 201
    assert api.create_import(size=10).status_code == 429


def test_a_retry_needs_a_free_slot_too(api: Api) -> None:
    first = start_import(api, generate_bytes(5))  # uploaded, so it could be retried
    assert api.cancel(first).status_code == 200
    for _ in range(5):
        assert api.create_import(size=10).status_code == 201

    response = api.post(f"/api/jobs/{first}/retry")

    assert response.status_code == 429
    assert api.job(first)["status"] == "CANCELLED"


# --- creation and listing -----------------------------------------------------------------


def test_create_returns_a_queued_job_and_a_presigned_post_pinned_to_it(api: Api) -> None:
    response = api.create_import(size=12_345, filename="../../abril 2024.dkt")

    assert response.status_code == 201
    job = response.json_body["job"]
    assert job["status"] == "QUEUED"
    assert job["progress"] == 0
    assert job["parameters"]["codigoTarjeta"] == "ICBCVC"
    upload = response.json_body["upload"]
    assert upload["key"] == f"uploads/acme/ana/{job['id']}/abril_2024.dkt"
    policy = json.loads(base64.b64decode(upload["fields"]["policy"]))
    conditions = policy["conditions"]
    assert ["content-length-range", 12_345, 12_345] in conditions  # the declared size, exactly
    assert upload["maxSize"] == 12_345
    assert {"key": upload["key"]} in conditions
    assert {"bucket": "test-dkt-uploads"} in conditions


def test_job_list_is_newest_first_and_paginates(api: Api) -> None:
    ids = []
    for _ in range(3):
        ids.append(api.create_import(size=10).json_body["job"]["id"])
        api.cancel(ids[-1])  # keep under the active-jobs limit
    first = api.get("/api/jobs?limit=2").json_body
    second = api.get(f"/api/jobs?limit=2&cursor={first['nextCursor']}").json_body

    listed = [job["id"] for job in first["jobs"] + second["jobs"]]
    assert listed == list(reversed(ids))
    assert all(job["loteDeleted"] is False for job in first["jobs"])


def test_a_cursor_cannot_page_through_another_users_jobs(api: Api, other_api: Api) -> None:
    for _ in range(2):
        api.cancel(api.create_import(size=10).json_body["job"]["id"])
    cursor = api.get("/api/jobs?limit=1").json_body["nextCursor"]
    assert other_api.get(f"/api/jobs?cursor={cursor}").status_code == 400


def test_active_filter_lists_only_queued_and_processing_jobs(api: Api) -> None:
    active = api.create_import(size=10).json_body["job"]["id"]
    api.cancel(api.create_import(size=10).json_body["job"]["id"])

    jobs = api.get("/api/jobs?status=active").json_body["jobs"]

    assert [job["id"] for job in jobs] == [active]


def test_idempotency_key_returns_the_first_job_for_a_repeat(api: Api) -> None:
    body = {"codigoTarjeta": "ICBCVC", "filename": "a.dkt", "size": 10}
    headers = {"Idempotency-Key": "abc-123"}
    first = api.post("/api/jobs/dkt-import", body, headers)
    again = api.post("/api/jobs/dkt-import", body, headers)
    other = api.post("/api/jobs/dkt-import", {**body, "size": 11}, headers)

    assert first.status_code == again.status_code == 201
    assert again.json_body["job"]["id"] == first.json_body["job"]["id"]
    assert other.status_code == 409
    assert other.json_body["code"] == "IDEMPOTENCY_CONFLICT"
    assert len(api.get("/api/jobs").json_body["jobs"]) == 1


def policy_expiration(form: dict[str, Any]) -> str:
    return str(json.loads(base64.b64decode(form["fields"]["policy"]))["expiration"])


def test_a_repeated_create_hands_out_a_new_upload_form_and_restarts_the_wait(
    api: Api, pump: Pump, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an import created with an Idempotency-Key, whose upload form lasts 1 s
    monkeypatch.setenv("UPLOAD_URL_TTL_S", "1")
    runtime.reset()
    data = generate_bytes(300, seed=12)
    body = {"codigoTarjeta": "ICBCVC", "filename": "a.dkt", "size": len(data)}
    headers = {"Idempotency-Key": "retry-after-a-dropped-connection"}
    first = api.post("/api/jobs/dkt-import", body, headers).json_body
    created_at = utcnow()
    time.sleep(1.5)  # the first form has expired
    # WHEN the client repeats the request (its connection dropped before it saw the answer)
    again = api.post("/api/jobs/dkt-import", body, headers).json_body
    # THEN it gets the same job with a form that expires later, for the same object
    assert again["job"]["id"] == first["job"]["id"]
    assert again["upload"]["key"] == first["upload"]["key"]
    assert policy_expiration(again["upload"]) > policy_expiration(first["upload"])
    # AND the wait for the file counts from the repeat: past the first window, not expired
    services = runtime.services()
    window = timedelta(seconds=1) + sweeper.UPLOAD_GRACE
    sweeper.sweep(services, created_at + window + timedelta(seconds=0.5))
    assert api.job(first["job"]["id"])["status"] == "QUEUED"
    # AND the file sent with the new form is imported
    upload(again["upload"], data)
    pump.drain()
    assert api.job(first["job"]["id"])["processedItems"] == 300
    # AND a repeat after that answers the job as it is, with nothing left to upload
    last = api.post("/api/jobs/dkt-import", body, headers)
    assert last.status_code == 201
    assert last.json_body["job"]["status"] == "COMPLETED"
    assert last.json_body["upload"] is None
