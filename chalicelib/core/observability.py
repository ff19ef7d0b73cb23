"""Logs, metrics and traces: one Logger, Metrics and Tracer, attached as Chalice middleware.

Every log line of a job carries `job_id` and `user_id` (appended by the code that
loads the job). Card numbers and tokens are never logged: request bodies, headers
and file lines are not passed to the logger.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric

SERVICE = "dkt-jobs"

NAMESPACE = "DktJobs"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE)


def count(name: str, value: float = 1, unit: MetricUnit = MetricUnit.Count) -> None:
    metrics.add_metric(name=name, unit=unit, value=value)


# --- the worker's metrics (EMF), by job type -----------------------------------------------


def _by_type(name: str, job_type: str, value: float, unit: MetricUnit) -> None:
    with single_metric(
        name=name,
        unit=unit,
        value=value,
        namespace=NAMESPACE,
        default_dimensions=metrics.default_dimensions,
    ) as metric:
        metric.add_dimension(name="JobType", value=job_type)


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


def middleware(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Fresh log context per invocation, request id as correlation id, metrics flushed."""
    logger.clear_state()
    context = getattr(event, "context", None) or {}
    request_id = getattr(context, "aws_request_id", None)
    if request_id:
        logger.set_correlation_id(request_id)
    try:
        return get_response(event)
    finally:
        if metrics.metric_set:
            metrics.flush_metrics()
