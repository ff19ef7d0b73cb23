"""Events out: one JobFinished event per finished job on the EventBridge bus."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from support import Api, import_file

from chalicelib import runtime
from localdev.dktgen import generate_bytes
from localdev.pump import Pump


@pytest.fixture
def captured_events(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A bus whose events land in a queue the test reads."""
    events, sqs = boto3.client("events"), boto3.client("sqs")
    events.create_event_bus(Name="dkt-test-bus")
    queue_url = sqs.create_queue(QueueName="captured-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events.put_rule(
        Name="all-jobs",
        EventBusName="dkt-test-bus",
        EventPattern=json.dumps({"source": ["dkt-jobs"]}),
    )
    events.put_targets(
        Rule="all-jobs", EventBusName="dkt-test-bus", Targets=[{"Id": "q", "Arn": queue_arn}]
    )
    monkeypatch.setenv("EVENT_BUS_NAME", "dkt-test-bus")
    runtime.reset()
    yield queue_url
    runtime.reset()
    # moto outlives the test: the next one creates the same bus and rule
    events.remove_targets(Rule="all-jobs", EventBusName="dkt-test-bus", Ids=["q"])
    events.delete_rule(Name="all-jobs", EventBusName="dkt-test-bus")
    events.delete_event_bus(Name="dkt-test-bus")


def received(queue_url: str) -> list[dict[str, Any]]:
    messages = boto3.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def test_a_completed_import_publishes_one_job_finished_event(
    api: Api, pump: Pump, captured_events: str
) -> None:
    job = import_file(api, pump, generate_bytes(30, seed=61))

    [event] = received(captured_events)

    assert event["detail-type"] == "JobFinished"
    assert event["detail"]["jobId"] == job["id"]
    assert event["detail"]["status"] == "COMPLETED"
    assert event["detail"]["loteId"] == "ICBCVC2404"
    assert "4111111111111111" not in json.dumps(event)


def test_a_failed_import_publishes_its_error_code(
    api: Api, pump: Pump, captured_events: str
) -> None:
    job = import_file(api, pump, b"no es un archivo DKT\n")

    [event] = received(captured_events)

    assert event["detail"]["jobId"] == job["id"]
    assert event["detail"]["status"] == "FAILED"
    assert event["detail"]["errorCode"] == "NO_VALID_LINES"  # not a statement at all
