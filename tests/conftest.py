"""Shared fixtures. The environment is set before the app is imported, and moto is
started before any AWS client exists (cached clients are dropped per test)."""

from __future__ import annotations

import os

TEST_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "JOBS_TABLE": "test-jobs",
    "LOTES_TABLE": "test-lotes",
    "LINES_TABLE": "test-lines",
    "ERRORS_TABLE": "test-line-errors",
    "RULES_TABLE": "test-rules",
    "IDEMPOTENCY_TABLE": "test-idempotency",
    "UPLOAD_BUCKET": "test-dkt-uploads",
    "WORK_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/dkt-jobs-work",
    "CARD_HASH_KEY": "test-card-hash-key",
    "AUTH_MODE": "local",
    "LOCAL_JWT_SECRET": "test-local-jwt-secret-at-least-32-bytes",
    "SAFETY_MARGIN_MS": "300",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}
os.environ.update(TEST_ENV)
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)
