"""HTTP routes and event handlers: parse input, call chalicelib, shape output."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

from chalice import Chalice, CognitoUserPoolAuthorizer, Rate, Response
from chalice.app import CloudWatchEvent, SQSEvent

from chalicelib import runtime
from chalicelib.adapters import aws as aws_clients
from chalicelib.adapters.auth import Identity, authenticate
from chalicelib.api import imports, jobs, lotes, metrics, openapi, pages, rule_vocabulary, rules
from chalicelib.api.errors import error_response, in_api_shape, status_of
from chalicelib.api.imports import CreatedImport, CreateImportRequest
from chalicelib.api.jobs import (
    ErrorReport,
    JobAction,
    JobList,
    JobView,
    RetryRequest,
    ScheduleRequest,
)
from chalicelib.api.lotes import ExportRequest, LoteDetail, LoteList, LoteRestored
from chalicelib.api.metrics import Metrics, MetricsQuery
from chalicelib.api.openapi import Header, Operation
from chalicelib.api.pages import UiConfig
from chalicelib.api.queries import (
    JobErrorsQuery,
    JobListQuery,
    LoteLinesQuery,
    LoteListQuery,
    RuleVersionsQuery,
)
from chalicelib.api.rule_vocabulary import RuleVocabulary
from chalicelib.api.rules import (
    LookupBody,
    LookupView,
    RulesBody,
    RuleSetView,
    RulesTestBody,
    RulesTestResult,
    RuleVersionList,
)
from chalicelib.api.schema import ApiModel, Request, parse, parse_json
from chalicelib.core import observability
from chalicelib.core.errors import DomainError
from chalicelib.core.observability import logger
from chalicelib.engine import lifecycle, mailer, notifier, runner, sweeper
from chalicelib.engine.messaging import MalformedMessage, WorkMessage
from chalicelib.jobtypes import dkt_upload

# Queue names are fixed when the app is packaged; infra/ creates queues with these names.
UPLOAD_QUEUE = os.environ.get("UPLOAD_QUEUE_NAME", "dkt-jobs-uploads")
WORK_QUEUE = os.environ.get("WORK_QUEUE_NAME", "dkt-jobs-work")
WORK_DLQ = os.environ.get("WORK_DLQ_NAME", "dkt-jobs-work-dlq")
NOTIFY_QUEUE = os.environ.get("NOTIFY_QUEUE_NAME", "dkt-jobs-notify")

# Deployed, API Gateway also rejects requests without a valid Cognito token before they
# reach the Lambda (`make package` sets the variable; infra/ points it at the real pool).
# The app verifies every token itself either way (chalicelib/adapters/auth.py).
_POOL_ARN = os.environ.get("COGNITO_USER_POOL_ARN")
API_AUTHORIZER = (
    CognitoUserPoolAuthorizer("CognitoUsers", provider_arns=[_POOL_ARN]) if _POOL_ARN else None
)

app = Chalice(app_name="dkt-jobs")
observability.install(app)


@app.middleware("http")
def _api_error_shape(event: Any, get_response: Callable[[Any], Response]) -> Response:
    # Chalice answers 405 and 415 before any view, in a shape of its own.
    return in_api_shape(get_response(event))


# (path, method) -> what GET /api/openapi.json says of it; filled by the decorators below.
OPERATIONS: dict[tuple[str, str], Operation] = {}

View = Callable[..., Any]


def api(
    path: str,
    method: str = "GET",
    *,
    summary: str,
    response: type[ApiModel],
    status: int = 200,
    query: type[Request] | None = None,
    body: type[Request] | None = None,
    body_required: bool = True,
    errors: tuple[int, ...] = (),
    headers: tuple[Header, ...] = (),
) -> Callable[[View], View]:
    """A route with the API's conventions, declared for the OpenAPI document.

    The caller's bearer token is verified first; the query string and body are parsed
    into `query` and `body` and passed to the view by those names, with the path
    parameters (an optional body left out is None); the view's model is answered with
    `status`. A domain error is answered
    as {"code", "message"} with its status: never a 500 for a user's mistake.
    """
    OPERATIONS[path, method] = Operation(
        summary=summary,
        response=response,
        status=status,
        query=query,
        body=body,
        body_required=body_required,
        errors=errors,
        headers=headers,
    )

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def handler(**params: Any) -> Response:
            request = app.current_request
            try:
                identity = authenticate(
                    request.headers.get("authorization"), runtime.services().settings
                )
                logger.append_keys(user_id=identity.user_id, tenant_id=identity.tenant_id)
                if query is not None:
                    params["query"] = parse(query, dict(request.query_params or {}))
                if body is not None:
                    given = body_required or bool(request.raw_body)
                    params["body"] = parse_json(body, request.raw_body) if given else None
                result: ApiModel = view(identity, **params)
                return Response(
                    body=result.model_dump(by_alias=True, mode="json"),
                    status_code=status,
                    headers={"Content-Type": "application/json"},
                )
            except DomainError as exc:
                code = status_of(exc)
                logger.info("request refused", extra={"status": code, "reason": str(exc)})
                return error_response(code, exc.code, exc.message, exc.location(), exc.lote_id)
            except Exception:
                logger.exception("unhandled error", extra={"path": request.path})
                return error_response(500, "INTERNAL_ERROR", "Error interno; intente nuevamente.")

        app.route(path, methods=[method], authorizer=API_AUTHORIZER)(handler)
        return view

    return decorator


def public(path: str, operation: Operation) -> Callable[[View], View]:
    """A route anyone may call (it holds no data), declared for the OpenAPI document."""
    OPERATIONS[path, "GET"] = operation
    return app.route(path)


NOT_FOUND = (404,)

# --- the import page and the API's description ---------------------------------------------


@public("/", Operation("The import page.", public=True, content_types=("text/html",)))
def index() -> Response:
    return pages.serve("index.html")


@public(
    "/static/{name}",
    Operation(
        "A file of the import page (HTML, CSS, JS, SVG).",
        public=True,
        errors=NOT_FOUND,
        content_types=tuple(sorted(set(pages.CONTENT_TYPES.values()))),
    ),
)
def static_file(name: str) -> Response:
    return pages.serve(name)


@public("/ui-config", Operation("What the page needs to sign in.", UiConfig, public=True))
def ui_config() -> dict[str, Any]:
    return pages.ui_config(runtime.services().settings).model_dump(by_alias=True, mode="json")


@public("/api/openapi.json", Operation("This document (OpenAPI 3.1).", public=True))
def openapi_document() -> dict[str, Any]:
    return openapi.document(app.routes, OPERATIONS, rules.SCHEMA_MODELS)


# --- jobs -------------------------------------------------------------------------------------

IDEMPOTENCY_KEY = Header(
    "Idempotency-Key", "A repeat with the same key gets the first answer; no second job.", 255
)


@api(
    "/api/jobs/dkt-import",
    "POST",
    summary="Create a DKT import: a presigned upload, or a small file sent inline.",
    body=CreateImportRequest,
    response=CreatedImport,
    status=201,
    errors=(409, 413, 429),
    headers=(IDEMPOTENCY_KEY,),
)
def create_dkt_import(identity: Identity, body: CreateImportRequest) -> CreatedImport:
    services = runtime.services()
    key = app.current_request.headers.get("idempotency-key")
    if key is None:
        return imports.create_import(identity, body, services)
    return imports.create_import_once(
        key, identity, body, services, runtime.idempotency_store(), app.lambda_context
    )


@api("/api/jobs", summary="The caller's jobs, newest first.", query=JobListQuery, response=JobList)
def list_jobs(identity: Identity, query: JobListQuery) -> JobList:
    return jobs.list_jobs(identity, query, runtime.services())


@api("/api/jobs/{job_id}", summary="A job, for polling.", response=JobView, errors=NOT_FOUND)
def get_job(identity: Identity, job_id: str) -> JobView:
    return jobs.get(identity, job_id, runtime.services())


@api(
    "/api/jobs/{job_id}",
    "PATCH",
    summary="Move a QUEUED job's start (runAt; null: now) while it waits.",
    body=ScheduleRequest,
    response=JobView,
    errors=(400, 404, 409),
)
def reschedule_job(identity: Identity, job_id: str, body: ScheduleRequest) -> JobView:
    return jobs.reschedule(identity, job_id, body, runtime.services())


@api(
    "/api/jobs/{job_id}/cancel",
    "POST",
    summary="Cancel a job: at once if QUEUED, within one chunk if PROCESSING.",
    response=JobAction,
    errors=(404, 409),
)
def cancel_job(identity: Identity, job_id: str) -> JobAction:
    return jobs.cancel(identity, job_id, runtime.services())


@api(
    "/api/jobs/{job_id}/retry",
    "POST",
    summary="Retry a FAILED or CANCELLED job from its checkpoint; an import that found "
    "its lote already imported may ask to replace it this time.",
    body=RetryRequest,
    body_required=False,
    response=JobAction,
    status=202,
    errors=(404, 409, 429),
)
def retry_job(identity: Identity, job_id: str, body: RetryRequest | None) -> JobAction:
    return jobs.retry(identity, job_id, runtime.services(), body)


@api(
    "/api/jobs/{job_id}/errors",
    summary="The job's line-level error report, in line order.",
    query=JobErrorsQuery,
    response=ErrorReport,
    errors=NOT_FOUND,
)
def job_errors(identity: Identity, job_id: str, query: JobErrorsQuery) -> ErrorReport:
    return jobs.error_report(identity, job_id, query)


@api(
    "/api/metrics",
    summary="How the tenant's jobs went over a period: by type and status, success rate, "
    "durations, lines imported, imports per day.",
    query=MetricsQuery,
    response=Metrics,
)
def get_metrics(identity: Identity, query: MetricsQuery) -> Metrics:
    return metrics.metrics(identity, query, runtime.services().clock)


# --- lotes -------------------------------------------------------------------------------------


@api("/api/lotes", summary="The tenant's lotes.", query=LoteListQuery, response=LoteList)
def list_lotes(identity: Identity, query: LoteListQuery) -> LoteList:
    return lotes.list_lotes(identity, query, runtime.services().clock.now())


@api(
    "/api/lotes/{lote_id}",
    summary="A lote and a page of its lines, in file order.",
    query=LoteLinesQuery,
    response=LoteDetail,
    errors=NOT_FOUND,
)
def get_lote(identity: Identity, lote_id: str, query: LoteLinesQuery) -> LoteDetail:
    return lotes.get_lote(identity, lote_id, query, runtime.services().clock.now())


@api(
    "/api/lotes/{lote_id}",
    "DELETE",
    summary="Delete a lote: hidden at once, its lines removed by a LOTE_DELETE job.",
    response=JobAction,
    status=202,
    errors=(404, 409),
)
def delete_lote(identity: Identity, lote_id: str) -> JobAction:
    return lotes.delete_lote(identity, lote_id, runtime.services())


@api(
    "/api/lotes/{lote_id}/undo-replace",
    "POST",
    summary="Undo the lote's last replace, within UNDO_WINDOW_S: its previous lines are "
    "shown again at once; those of the replacing import are deleted by a LOTE_DELETE job.",
    response=LoteRestored,
    errors=(404, 409),
)
def undo_replace(identity: Identity, lote_id: str) -> LoteRestored:
    return lotes.undo_replace(identity, lote_id, runtime.services())


@api(
    "/api/lotes/{lote_id}/export",
    "POST",
    summary="Export a lote's lines to CSV or XLSX: an EXPORT job, whose result has a "
    "short-lived downloadUrl once COMPLETED.",
    body=ExportRequest,
    response=JobAction,
    status=202,
    errors=(400, 404),
)
def export_lote(identity: Identity, lote_id: str, body: ExportRequest) -> JobAction:
    return lotes.export_lote(identity, lote_id, body, runtime.services())


@api(
    "/api/jobs/{job_id}/errors/export",
    "POST",
    summary="Export an import's line-error report to CSV or XLSX: an EXPORT job, like a lote's.",
    body=ExportRequest,
    response=JobAction,
    status=202,
    errors=(400, 404, 409),
)
def export_errors(identity: Identity, job_id: str, body: ExportRequest) -> JobAction:
    return jobs.export_errors(identity, job_id, body.format, runtime.services())


# --- business rules ---------------------------------------------------------------------------


@api("/api/rules", summary="The tenant's current rules and lookup tables.", response=RuleSetView)
def get_rules(identity: Identity) -> RuleSetView:
    return rules.get_rules(identity)


@api(
    "/api/rules",
    "PUT",
    summary="Replace the rules (and, if given, the lookup tables) as a new version.",
    body=RulesBody,
    response=RuleSetView,
    errors=(409,),
)
def put_rules(identity: Identity, body: RulesBody) -> RuleSetView:
    return rules.put_rules(identity, body)


@api(
    "/api/rules/vocabulary",
    summary="What a rule may name: the record's fields, the operators, the action types.",
    response=RuleVocabulary,
)
def get_rule_vocabulary(identity: Identity) -> RuleVocabulary:
    return rule_vocabulary.vocabulary()


@api(
    "/api/rules/versions",
    summary="The tenant's rules versions, newest first.",
    query=RuleVersionsQuery,
    response=RuleVersionList,
)
def rule_versions(identity: Identity, query: RuleVersionsQuery) -> RuleVersionList:
    return rules.list_versions(identity, query)


@api(
    "/api/rules/versions/{version}",
    summary="One rules version, as it was saved.",
    response=RuleSetView,
    errors=(400, 404),
)
def rule_version(identity: Identity, version: str) -> RuleSetView:
    return rules.get_version(identity, version)


@api(
    "/api/rules/test",
    "POST",
    summary="Apply rules to sample lines; nothing is written.",
    body=RulesTestBody,
    response=RulesTestResult,
)
def try_rules(identity: Identity, body: RulesTestBody) -> RulesTestResult:
    return rules.try_rules(identity, body, runtime.services().settings.card_hash_key)


@api(
    "/api/rules/lookups/{name}",
    summary="One lookup table.",
    response=LookupView,
    errors=NOT_FOUND,
)
def get_lookup(identity: Identity, name: str) -> LookupView:
    return rules.get_lookup(identity, name)


@api(
    "/api/rules/lookups/{name}",
    "PUT",
    summary="Replace one lookup table, keeping the rules.",
    body=LookupBody,
    response=RuleSetView,
    errors=(409,),
)
def put_lookup(identity: Identity, name: str, body: LookupBody) -> RuleSetView:
    return rules.put_lookup(identity, name, body)


@api(
    "/api/rules/lookups/{name}",
    "DELETE",
    summary="Remove a lookup table; refused while a rule reads it.",
    response=RuleSetView,
    errors=(400, 404, 409),
)
def delete_lookup(identity: Identity, name: str) -> RuleSetView:
    return rules.delete_lookup(identity, name)


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


@app.on_sqs_message(queue=NOTIFY_QUEUE, batch_size=1)
def notify_job_finished(event: SQSEvent) -> None:
    """JobFinished events (from the bus's rule) and delayed retries: the job's webhook,
    and the e-mail its user asked for."""
    services = runtime.services()
    for record in event:
        outcome = notifier.handle(record.body, services, runtime.webhook_secret())
        emailed = mailer.handle(record.body, services, aws_clients.sesv2_client())
        logger.info("job notification", extra={"outcome": outcome, "email": emailed})


@app.schedule(Rate(5, unit=Rate.MINUTES))
def sweep_jobs(event: CloudWatchEvent) -> None:
    """Rescues jobs whose worker vanished and fails those out of attempts."""
    sweeper.sweep(runtime.services())
