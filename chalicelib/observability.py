"""Logs, metrics and traces: one Logger, Metrics and Tracer, attached as Chalice middleware.

Every log line of a job carries `job_id` and `user_id` (appended by the code that
loads the job). Card numbers and tokens are never logged: request bodies, headers
and file lines are not passed to the logger.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = "dkt-jobs"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace="DktJobs", service=SERVICE)
tracer = Tracer(service=SERVICE)


def count(name: str, value: float = 1, unit: MetricUnit = MetricUnit.Count) -> None:
    metrics.add_metric(name=name, unit=unit, value=value)


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
