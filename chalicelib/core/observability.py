"""Logs, metrics and traces: one Logger, Metrics and Tracer, attached through Powertools' hooks.

`install(app)` wraps every handler of the Chalice app (routes and event handlers alike)
with Powertools' own Lambda decorators, converted by Chalice's `ConvertToMiddleware`:
a fresh log context with a correlation id, the X-Ray handler segment, and metrics
published once at the end of the invocation.

Every log line of a job carries `job_id` and `user_id` (appended by the code that
loads the job). Card numbers and tokens are never logged: events, request bodies,
headers, responses and file lines are not passed to the logger or the tracer, and in
case one slips through, every log line is redacted as it is written (core/redact.py):
ours by the Logger's formatter, the libraries' (botocore, PynamoDB) by a filter on the
root logger's handlers, at every level.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from chalice.app import Chalice, ConvertToMiddleware

from chalicelib.core.redact import redact

SERVICE = "dkt-jobs"

NAMESPACE = "DktJobs"


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON log line, with card numbers masked and tokens removed."""

    def serialize(self, log: Any) -> str:
        return redact(super().serialize(log))


class RedactingFilter(logging.Filter):
    """For handlers of plain `logging` records: the message and traceback, redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def redact_root_handlers() -> None:
    """Puts the filter on every handler of the root logger (Lambda's runtime has one)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(known, RedactingFilter) for known in handler.filters):
            handler.addFilter(RedactingFilter())


logger = Logger(service=SERVICE, logger_formatter=RedactingFormatter())
redact_root_handlers()
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE)

Handler = Callable[[Any, Any], Any]

# One EMF document carries one value per dimension, so each job type seen during an
# invocation gets its own set, all published together when the invocation ends.
_by_job_type: dict[str, EphemeralMetrics] = {}


def install(app: Chalice) -> None:
    """Attaches logging, tracing and metrics to every handler of `app`.

    Registered outermost first: the log context exists before the trace segment opens,
    and metrics are published inside it, so a failure to publish is logged with the
    invocation's correlation id.
    """
    app.register_middleware(ConvertToMiddleware(_log_context), "all")
    app.register_middleware(ConvertToMiddleware(_trace), "all")
    app.register_middleware(ConvertToMiddleware(_publish_metrics), "all")


def _log_context(handler: Handler) -> Handler:
    """Clears the keys of the previous invocation and sets this one's correlation id.

    For HTTP requests the id is API Gateway's request id (the `x-amzn-RequestId` a client
    sees, and the id in API Gateway's access log); for events, and for requests that carry
    none (the local gateway), the Lambda request id.
    """

    @functools.wraps(handler)
    def correlated(event: Any, context: Any) -> Any:
        if logger.get_correlation_id() is None and context is not None:
            logger.set_correlation_id(getattr(context, "aws_request_id", None))
        return handler(event, context)

    injected: Handler = logger.inject_lambda_context(
        correlated,
        correlation_id_path=correlation_paths.API_GATEWAY_REST,
        clear_state=True,
        # Fixed here, not left to POWERTOOLS_LOGGER_LOG_EVENT: events carry bearer tokens
        # and file contents.
        log_event=False,
    )
    return injected


def _trace(handler: Handler) -> Handler:
    # Responses hold users' data (lotes, error lines); X-Ray metadata must not.
    traced: Handler = tracer.capture_lambda_handler(handler, capture_response=False)
    return traced


def _publish_metrics(handler: Handler) -> Handler:
    """Publishes the invocation's metrics once it ends, whether it returned or raised.

    What `metrics.log_metrics` does, without its warning on every invocation that
    published nothing (most HTTP requests), and with the per-job-type sets too.
    """

    @functools.wraps(handler)
    def published(event: Any, context: Any) -> Any:
        try:
            return handler(event, context)
        finally:
            publish()

    return published


def publish() -> None:
    """Writes every metric of this invocation as EMF, one document per dimension set."""
    if metrics.metric_set:
        metrics.flush_metrics()
    pending = list(_by_job_type.values())
    _by_job_type.clear()
    for job_metrics in pending:
        if job_metrics.metric_set:
            job_metrics.flush_metrics()


def count(name: str, value: float = 1, unit: MetricUnit = MetricUnit.Count) -> None:
    """Adds to a service-wide metric, published when the invocation ends."""
    if not is_metrics_disabled():
        metrics.add_metric(name=name, unit=unit, value=value)


# --- the worker's metrics (EMF), by job type -----------------------------------------------


def _by_type(name: str, job_type: str, value: float, unit: MetricUnit) -> None:
    # Disabled, nothing would ever publish them, yet Powertools prints a set at 100 values.
    if is_metrics_disabled():
        return
    job_metrics = _by_job_type.get(job_type)
    if job_metrics is None:
        job_metrics = EphemeralMetrics(
            namespace=NAMESPACE, service=SERVICE, default_dimensions={"JobType": job_type}
        )
        _by_job_type[job_type] = job_metrics
    job_metrics.add_metric(name=name, unit=unit, value=value)


def chunk_processed(job_type: str, items: int, duration_ms: float) -> None:
    """One chunk of a job is done: `items` lines (or records) in `duration_ms`."""
    _by_type("ItemsProcessed", job_type, items, MetricUnit.Count)
    _by_type("ChunkDuration", job_type, duration_ms, MetricUnit.Milliseconds)


def continued(job_type: str) -> None:
    """An invocation handed its job to a continuation message."""
    _by_type("Continuations", job_type, 1, MetricUnit.Count)


def job_finished(job_type: str, status: str) -> None:
    """A job reached a final status: `JobsCompleted`, `JobsFailed` or `JobsCancelled`."""
    _by_type(f"Jobs{status.capitalize()}", job_type, 1, MetricUnit.Count)
