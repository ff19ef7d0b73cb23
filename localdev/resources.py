"""Creates the AWS resources the service expects, on moto (tests and the local stack).

Deployed, infra/ declares the same resources in CloudFormation; this mirrors it
for the emulator: the upload bucket with CORS and its S3 -> SQS notification,
the queues with their dead-letter queues, and the tables.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3

from chalicelib.core.models import bind_models, create_tables
from chalicelib.core.settings import Settings

UPLOAD_QUEUE = "dkt-jobs-uploads"
WORK_QUEUE = "dkt-jobs-work"
NOTIFY_QUEUE = "dkt-jobs-notify"
JOB_FINISHED_RULE = "job-finished-to-notifier"
MAX_RECEIVE_COUNT = 5


@dataclass(frozen=True)
class QueueUrls:
    uploads: str
    uploads_dlq: str
    work: str
    work_dlq: str
    notify: str = ""


def queue_url(region: str, name: str, endpoint: str | None = None) -> str:
    """The URL moto gives a queue, known before the queue exists (settings need it)."""
    if endpoint:
        return f"{endpoint.rstrip('/')}/123456789012/{name}"
    return f"https://sqs.{region}.amazonaws.com/123456789012/{name}"


def _queue_with_dlq(sqs: Any, name: str, visibility_s: int) -> tuple[str, str]:
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
    url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(visibility_s),
            "RedrivePolicy": json.dumps(redrive),
        },
    )["QueueUrl"]
    return url, dlq_url


def create_resources(settings: Settings, visibility_s: int = 30) -> QueueUrls:
    """Bucket, queues and tables for `settings`; safe to call on a fresh emulator only."""
    s3 = boto3.client("s3", region_name=settings.region)
    sqs = boto3.client("sqs", region_name=settings.region)
    uploads, uploads_dlq = _queue_with_dlq(sqs, UPLOAD_QUEUE, visibility_s)
    work, work_dlq = _queue_with_dlq(sqs, WORK_QUEUE, visibility_s)
    notify, _ = _queue_with_dlq(sqs, NOTIFY_QUEUE, visibility_s)
    uploads_arn = sqs.get_queue_attributes(QueueUrl=uploads, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    prefix_rule = {"Name": "prefix", "Value": settings.upload_prefix}
    s3.create_bucket(Bucket=settings.upload_bucket)
    s3.put_bucket_cors(
        Bucket=settings.upload_bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedMethods": ["POST"],
                    "AllowedOrigins": ["*"],
                    "AllowedHeaders": ["*"],
                    "MaxAgeSeconds": 3000,
                }
            ]
        },
    )
    s3.put_bucket_notification_configuration(
        Bucket=settings.upload_bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": uploads_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [prefix_rule]}},
                }
            ]
        },
    )
    if work != settings.work_queue_url:
        raise RuntimeError(f"WORK_QUEUE_URL is {settings.work_queue_url}, the queue is {work}")
    bind_models(settings)
    create_tables()
    _create_idempotency_table(settings)
    if settings.event_bus_name:
        route_job_events(settings.event_bus_name, notify, settings.region)
    if settings.email_sender:  # SES sends only from a verified identity
        boto3.client("sesv2", region_name=settings.region).create_email_identity(
            EmailIdentity=settings.email_sender
        )
    return QueueUrls(uploads, uploads_dlq, work, work_dlq, notify)


def route_job_events(bus: str, queue: str, region: str) -> None:
    """The bus `bus`, and its rule that puts every JobFinished on the queue `queue` (the
    notifier's), as infra/template.yaml declares them."""
    events = boto3.client("events", region_name=region)
    sqs = boto3.client("sqs", region_name=region)
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.create_event_bus(Name=bus)
    pattern = {"source": ["dkt-jobs"], "detail-type": ["JobFinished"]}
    events.put_rule(Name=JOB_FINISHED_RULE, EventBusName=bus, EventPattern=json.dumps(pattern))
    events.put_targets(
        Rule=JOB_FINISHED_RULE, EventBusName=bus, Targets=[{"Id": "notifier", "Arn": arn}]
    )


def unroute_job_events(bus: str, region: str) -> None:
    """Undoes `route_job_events` (a test's moto outlives it)."""
    events = boto3.client("events", region_name=region)
    events.remove_targets(Rule=JOB_FINISHED_RULE, EventBusName=bus, Ids=["notifier"])
    events.delete_rule(Name=JOB_FINISHED_RULE, EventBusName=bus)
    events.delete_event_bus(Name=bus)


def _create_idempotency_table(settings: Settings) -> None:
    """The table Powertools' idempotency utility expects: `id` hash key, TTL on expiration."""
    dynamodb = boto3.client("dynamodb", region_name=settings.region)
    dynamodb.create_table(
        TableName=settings.idempotency_table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
