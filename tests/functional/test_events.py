"""Events out: one JobFinished event per finished job on the EventBridge bus."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from support import Api, cost_model_pump, import_file, run_first_invocations, start_import

from chalicelib import runtime
from chalicelib.core.clock import utcnow
from chalicelib.engine import sweeper
from localdev.dktgen import generate_bytes
from localdev.pump import Pump
from localdev.resources import QueueUrls


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
    """Every event that reached the queue since the last call."""
    sqs, events = boto3.client("sqs"), []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
        "Messages", []
    ):
        events += [json.loads(message["Body"]) for message in batch]
        for message in batch:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return events


def details(queue_url: str) -> list[dict[str, Any]]:
    return [event["detail"] for event in received(queue_url)]


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
    # what a listener acts on without asking the API
    detail = event["detail"]
    assert (detail["processedItems"], detail["totalItems"], detail["errorCount"]) == (30, 30, 0)
    assert detail["codigoTarjeta"] == "ICBCVC" and detail["filename"] == "abril.dkt"
    assert detail["durationSeconds"] >= 0 and detail["completedAt"] >= detail["startedAt"]
    assert detail["errorCode"] is None and detail["attempts"] == 1


def test_a_failed_import_publishes_its_error_code(
    api: Api, pump: Pump, captured_events: str
) -> None:
    job = import_file(api, pump, b"no es un archivo DKT\n")

    [event] = received(captured_events)

    assert event["detail"]["jobId"] == job["id"]
    assert event["detail"]["status"] == "FAILED"
    assert event["detail"]["errorCode"] == "NO_VALID_LINES"  # not a statement at all


def test_a_job_cancelled_before_it_started_publishes_one_event(
    api: Api, captured_events: str
) -> None:
    job_id = api.create_import(size=1_000).json_body["job"]["id"]
    assert api.cancel(job_id).status_code == 200
    [detail] = details(captured_events)
    assert (detail["jobId"], detail["status"]) == (job_id, "CANCELLED")
    assert detail["startedAt"] is None and detail["durationSeconds"] is None


def test_a_job_cancelled_while_running_publishes_one_event(
    api: Api, aws: QueueUrls, captured_events: str
) -> None:
    pump = cost_model_pump(aws, budget_ms=400)  # stops after its first invocation
    job_id = start_import(api, generate_bytes(2_000, seed=62))
    run_first_invocations(pump)
    assert api.job(job_id)["status"] == "PROCESSING"
    assert api.cancel(job_id).status_code == 200
    pump.drain()
    [detail] = details(captured_events)
    assert (detail["jobId"], detail["status"]) == (job_id, "CANCELLED")
    assert detail["startedAt"] is not None  # it had begun: the discard follows


def test_an_upload_that_never_came_publishes_its_timeout(api: Api, captured_events: str) -> None:
    job_id = api.create_import(size=1_000).json_body["job"]["id"]
    assert sweeper.sweep(runtime.services(), utcnow() + timedelta(days=1)).failed == [job_id]
    [detail] = details(captured_events)
    assert (detail["jobId"], detail["status"]) == (job_id, "FAILED")
    assert detail["errorCode"] == "UPLOAD_TIMEOUT"


def test_a_dropped_file_refused_publishes_why(api: Api, pump: Pump, captured_events: str) -> None:
    boto3.client("s3").put_object(
        Bucket="test-dkt-uploads", Key="uploads/acme/ana/statement.dkt", Body=generate_bytes(5)
    )
    pump.drain()
    [detail] = details(captured_events)
    assert (detail["status"], detail["errorCode"]) == ("FAILED", "INVALID_REQUEST")


def test_a_lote_deletion_publishes_its_own_event(
    api: Api, pump: Pump, captured_events: str
) -> None:
    imported = import_file(api, pump, generate_bytes(40, seed=63))
    received(captured_events)  # the import's own event
    deletion = api.delete("/api/lotes/ICBCVC2404").json_body["job"]["id"]
    pump.drain()
    [detail] = details(captured_events)
    assert (detail["jobId"], detail["type"], detail["status"]) == (
        deletion,
        "LOTE_DELETE",
        "COMPLETED",
    )
    assert detail["loteId"] == imported["loteId"] == "ICBCVC2404"
