"""HTTP routes and event handlers: parse input, call chalicelib, shape output."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from typing import Any

from chalice import Chalice, CognitoUserPoolAuthorizer, Rate, Response
from chalice.app import CloudWatchEvent, SQSEvent

from chalicelib import runtime
from chalicelib.adapters.auth import Identity, authenticate
from chalicelib.api import control, imports, job_views, web
from chalicelib.core import observability
from chalicelib.core.clock import utcnow
from chalicelib.core.errors import (
    DomainError,
    FileTooLarge,
    IdempotencyConflict,
    InvalidRequest,
    JobConflict,
    JobNotFound,
    LookupNotFound,
    LoteExists,
    LoteNotFound,
    TooManyActiveJobs,
    Unauthenticated,
)
from chalicelib.core.observability import logger
from chalicelib.engine import lifecycle, runner, sweeper
from chalicelib.engine.messaging import MalformedMessage, WorkMessage
from chalicelib.jobtypes import dkt_upload
from chalicelib.stores import line_errors, lotes, rule_sets

# Queue names are fixed when the app is packaged; infra/ creates queues with these names.
UPLOAD_QUEUE = os.environ.get("UPLOAD_QUEUE_NAME", "dkt-jobs-uploads")
WORK_QUEUE = os.environ.get("WORK_QUEUE_NAME", "dkt-jobs-work")
WORK_DLQ = os.environ.get("WORK_DLQ_NAME", "dkt-jobs-work-dlq")

# Deployed, API Gateway also rejects requests without a valid Cognito token before they
# reach the Lambda (`make package` sets the variable; infra/ points it at the real pool).
# The app verifies every token itself either way (chalicelib/auth.py).
_POOL_ARN = os.environ.get("COGNITO_USER_POOL_ARN")
API_AUTHORIZER = (
    CognitoUserPoolAuthorizer("CognitoUsers", provider_arns=[_POOL_ARN]) if _POOL_ARN else None
)

app = Chalice(app_name="dkt-jobs")
observability.install(app)

# Domain errors -> HTTP status, in one place.
HTTP_STATUS: dict[type[DomainError], int] = {
    InvalidRequest: 400,
    Unauthenticated: 401,
    JobNotFound: 404,
    LoteNotFound: 404,
    LookupNotFound: 404,
    JobConflict: 409,
    LoteExists: 409,
    IdempotencyConflict: 409,
    FileTooLarge: 413,
    TooManyActiveJobs: 429,
}

View = Callable[..., Any]


def _error(status: int, code: str, message: str) -> Response:
    return Response(
        body={"code": code, "message": message},
        status_code=status,
        headers={"Content-Type": "application/json"},
    )


def api(path: str, methods: tuple[str, ...] = ("GET",)) -> Callable[[View], View]:
    """A route with the API's conventions: a verified bearer identity first, and domain
    errors answered as {"code", "message"} with their status; never a 500 for a user's
    mistake."""

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def handler(**params: str) -> Any:
            request = app.current_request
            try:
                identity = authenticate(
                    request.headers.get("authorization"), runtime.services().settings
                )
                return view(identity, **params)
            except DomainError as exc:
                status = HTTP_STATUS.get(type(exc), 400)
                logger.info("request refused", extra={"status": status, "reason": str(exc)})
                return _error(status, exc.code, exc.message)
            except Exception:
                logger.exception("unhandled error", extra={"path": request.path})
                return _error(500, "INTERNAL_ERROR", "Error interno; intente nuevamente.")

        app.route(path, methods=list(methods), authorizer=API_AUTHORIZER)(handler)
        return view

    return decorator


def _json_body() -> Any:
    raw = app.current_request.raw_body
    if not raw:
        raise InvalidRequest("Falta el cuerpo de la solicitud (JSON).")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest("El cuerpo de la solicitud no es JSON válido.", str(exc)) from exc


def _query() -> dict[str, str]:
    return dict(app.current_request.query_params or {})


def _limit(query: dict[str, str], default: int = 50, maximum: int = 100) -> int:
    raw = query.get("limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise InvalidRequest(f"El parámetro limit debe ser un número entre 1 y {maximum}.")
    return int(raw)


# --- the import page (public: it holds no data; the API behind it needs a token) ---------------


def _page(name: str) -> Response:
    found = web.read(name)
    if found is None:
        return _error(404, "NOT_FOUND", "No existe.")
    body, content_type = found
    headers = {
        "Content-Type": content_type,
        "Cache-Control": "no-cache",
        # The page shows a user's imports: never inside another site's frame.
        "Content-Security-Policy": "frame-ancestors 'none'",
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    return Response(body=body, headers=headers)


@app.route("/")
def index() -> Response:
    return _page("index.html")


@app.route("/static/{name}")
def static_file(name: str) -> Response:
    return _page(name)


@app.route("/ui-config")
def ui_config() -> dict[str, Any]:
    return web.ui_config(runtime.services().settings)


# --- jobs -------------------------------------------------------------------------------------


@api("/api/jobs/dkt-import", methods=("POST",))
def create_dkt_import(identity: Identity) -> Response:
    request = imports.parse_create_request(_json_body())
    services = runtime.services()
    key = app.current_request.headers.get("idempotency-key")
    if key is None:
        body = imports.create_import(identity, request, services)
    else:
        body = imports.create_import_once(
            key, identity, request, services, runtime.idempotency_store(), app.lambda_context
        )
    return Response(body=body, status_code=201)


@api("/api/jobs")
def list_jobs(identity: Identity) -> dict[str, Any]:
    query = _query()
    if query.get("status") == "active":
        active = job_views.list_active(identity)
        return {"jobs": [job_views.to_api(job) for job in active], "nextCursor": None}
    page = job_views.list_owned(identity, _limit(query), query.get("cursor"))
    return {"jobs": [job_views.to_api(job) for job in page.items], "nextCursor": page.next_cursor}


@api("/api/jobs/{job_id}")
def get_job(identity: Identity, job_id: str) -> dict[str, Any]:
    return job_views.to_api(job_views.get_owned(job_id, identity))


@api("/api/jobs/{job_id}/cancel", methods=("POST",))
def cancel_job(identity: Identity, job_id: str) -> dict[str, Any]:
    return control.cancel(identity, job_id)


@api("/api/jobs/{job_id}/retry", methods=("POST",))
def retry_job(identity: Identity, job_id: str) -> Response:
    return Response(body=control.retry(identity, job_id, runtime.services()), status_code=202)


@api("/api/jobs/{job_id}/errors")
def job_errors(identity: Identity, job_id: str) -> dict[str, Any]:
    query = _query()
    job = job_views.get_owned(job_id, identity)
    return line_errors.report(job, _limit(query, default=100, maximum=1000), query.get("cursor"))


# --- lotes -------------------------------------------------------------------------------------


@api("/api/lotes")
def list_lotes(identity: Identity) -> dict[str, Any]:
    query = _query()
    items, cursor = lotes.list_active(identity.tenant_id, _limit(query), query.get("cursor"))
    return {"lotes": [lotes.to_api(lote) for lote in items], "nextCursor": cursor}


@api("/api/lotes/{lote_id}")
def get_lote(identity: Identity, lote_id: str) -> dict[str, Any]:
    query = _query()
    lote = lotes.get_active(identity.tenant_id, lote_id)
    lines, cursor = lotes.lines_page(lote, _limit(query, 100, 1000), query.get("cursor"))
    return {
        "lote": lotes.to_api(lote),
        "lines": [lotes.line_to_api(line) for line in lines],
        "nextCursor": cursor,
    }


@api("/api/lotes/{lote_id}", methods=("DELETE",))
def delete_lote(identity: Identity, lote_id: str) -> Response:
    body = control.delete_lote(identity, lote_id, runtime.services())
    return Response(body=body, status_code=202)


# --- business rules ---------------------------------------------------------------------------


@api("/api/rules")
def get_rules(identity: Identity) -> dict[str, Any]:
    return rule_sets.get_current(identity)


@api("/api/rules", methods=("PUT",))
def put_rules(identity: Identity) -> dict[str, Any]:
    return rule_sets.replace_rules(identity, _json_body())


@api("/api/rules/test", methods=("POST",))
def try_rules(identity: Identity) -> dict[str, Any]:
    key = runtime.services().settings.card_hash_key
    return rule_sets.try_rules(identity, _json_body(), key)


@api("/api/rules/lookups/{name}")
def get_lookup(identity: Identity, name: str) -> dict[str, Any]:
    return rule_sets.get_lookup(identity, name)


@api("/api/rules/lookups/{name}", methods=("PUT",))
def put_lookup(identity: Identity, name: str) -> dict[str, Any]:
    return rule_sets.put_lookup(identity, name, _json_body())


@api("/api/rules/lookups/{name}", methods=("DELETE",))
def delete_lookup(identity: Identity, name: str) -> dict[str, Any]:
    return rule_sets.delete_lookup(identity, name)


# --- event handlers ---------------------------------------------------------------------------


@app.on_sqs_message(queue=UPLOAD_QUEUE, batch_size=1)
def handle_upload(event: SQSEvent) -> None:
    """S3 ObjectCreated notifications (routed through SQS): start the upload's job."""
    services = runtime.services()
    for record in event:
        queued = dkt_upload.handle_s3_notification(record.body, services)
        logger.info("upload notification", extra={"queued_jobs": queued})


@app.on_sqs_message(queue=WORK_QUEUE, batch_size=1)
def process_work(event: SQSEvent) -> None:
    """Work messages: process a job until the time budget runs low, then re-enqueue."""
    services = runtime.services()
    for record in event:
        try:
            message = WorkMessage.from_json(record.body)
        except MalformedMessage:
            logger.warning("dropping a message that is not a work message")
            continue
        try:
            report = runner.handle(message, services, event.context.get_remaining_time_in_millis)
        except Exception as exc:
            # Raised on purpose: SQS redelivers, and past maxReceiveCount dead-letters it.
            logger.exception("work message failed; SQS will redeliver it")
            lifecycle.note_delivery_error(message.job_id, f"{type(exc).__name__}: {exc}")
            raise
        logger.info("work message handled", extra={"report": report.__dict__})


@app.on_sqs_message(queue=WORK_DLQ, batch_size=1)
def handle_dead_letter(event: SQSEvent) -> None:
    """Work messages that failed every delivery: the job is FAILED with the reason."""
    for record in event:
        try:
            message = WorkMessage.from_json(record.body)
        except MalformedMessage:
            continue
        failed = runner.fail_dead_letter(message)
        logger.warning("dead-lettered work message", extra={"job_failed": failed})


@app.schedule(Rate(5, unit=Rate.MINUTES))
def sweep_jobs(event: CloudWatchEvent) -> None:
    """Rescues jobs whose worker vanished and fails those out of attempts."""
    sweeper.sweep(runtime.services(), utcnow())
