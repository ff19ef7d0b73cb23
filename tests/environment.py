"""The environment every test runs in: fake AWS credentials, resource names, a local key."""

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
    "NOTIFY_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/dkt-jobs-notify",
    "CARD_HASH_KEY": "test-card-hash-key",
    "AUTH_MODE": "local",
    "LOCAL_JWT_SECRET": "test-local-jwt-secret-at-least-32-bytes",
    # The margin is 300 ms whatever the budget: the whole budget's share, capped at 300 ms
    # (below the engine's 1 s floor, so the cap alone decides). The cost-model pumps'
    # 350 ms budgets then fit exactly one chunk per invocation.
    "SAFETY_MARGIN_SHARE": "1",
    "SAFETY_MARGIN_MS": "300",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    # A replace removes the lines it replaced at once, as the tests of replacing expect;
    # the undo window (24 h deployed) is tested with a window of its own
    # (tests/functional/test_undo_replace.py).
    "UNDO_WINDOW_S": "0",
    # One moto serves the whole run and its queues are purged between tests, more
    # often than AWS's one purge a minute.
    "MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR": "false",
}
