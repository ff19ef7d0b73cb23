"""Cancel: QUEUED at once, PROCESSING within one chunk, final states refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from support import (
    Api,
    cost_model_pump,
    count_lines,
    import_file,
    run_first_invocations,
    sqs_client,
    start_import,
    upload,
)

from chalicelib import runtime
from chalicelib.core.line_keys import generation_key
from chalicelib.core.models import Lote
from chalicelib.engine import runner
from chalicelib.engine.messaging import WorkMessage
from localdev.dktgen import generate_bytes
from localdev.pump import Pump
from localdev.resources import QueueUrls


def receive_work(urls: QueueUrls) -> WorkMessage:
    sqs = sqs_client()
    messages = sqs.receive_message(QueueUrl=urls.work, MaxNumberOfMessages=1)["Messages"]
    sqs.delete_message(QueueUrl=urls.work, ReceiptHandle=messages[0]["ReceiptHandle"])
    return WorkMessage.from_json(messages[0]["Body"])


def clock_with(actions: dict[int, Callable[[], None]]) -> Callable[[], int]:
    """A Lambda 'remaining time' that never runs low and runs actions[n] at its nth reading.

    The engine reads it only at chunk boundaries, so an action there happens between
    two chunks, as a user's click mid-import would."""
    calls = {"n": 0}

    def remaining_ms() -> int:
        calls["n"] += 1
        if calls["n"] in actions:
            actions[calls["n"]]()
        return 600_000

    return remaining_ms


def test_cancel_during_processing_stops_within_one_chunk(
    api: Api, aws: QueueUrls, pump: Pump
) -> None:
    # GIVEN an import whose upload arrived and whose validation is done
    job_id = start_import(api, generate_bytes(3_000, seed=2))
    pump.drain(only="dkt-jobs-uploads")  # the S3 notification queues the first work message
    message = receive_work(aws)
    generation = generation_key("acme", "ICBCVC2404", job_id)
    seen: dict[str, Any] = {}

    def user_cancels() -> None:
        seen["before"] = api.job(job_id)
        seen["staged_before"] = count_lines(generation)
        response = api.cancel(job_id)
        assert response.status_code == 200
        seen["response"] = response.json_body

    def count_staged() -> None:
        seen["staged_after"] = count_lines(generation)

    # WHEN the user cancels between two import chunks (3 readings per chunk: the 12th
    # ends the 2nd import chunk); the 14th reading is the first after the chunk in flight
    remaining_ms = clock_with({12: user_cancels, 14: count_staged})
    report = runner.handle(message, runtime.services(), remaining_ms)

    # THEN the API said the cancel was requested while still processing
    assert seen["response"]["job"]["status"] == "PROCESSING"
    assert seen["response"]["job"]["cancelRequested"] is True
    assert 0 < seen["before"]["processedItems"] < 3_000
    # ... at most one chunk was written after the request, and none was recorded
    assert seen["staged_after"] - seen["staged_before"] <= 100
    job = api.job(job_id)
    assert job["status"] == "CANCELLED"
    assert job["processedItems"] == seen["before"]["processedItems"]
    assert report.outcome == "cancelled: discarded"
    # ... and nothing it staged is left, nor a lote
    assert count_lines(generation) == 0
    assert Lote.count("acme") == 0


def test_cancel_of_queued_job_is_immediate(api: Api) -> None:
    created = api.create_import(size=1_000)
    job_id = created.json_body["job"]["id"]

    response = api.cancel(job_id)

    assert response.status_code == 200
    assert response.json_body["job"]["status"] == "CANCELLED"
    assert "cancelada" in response.json_body["message"]
    assert api.job(job_id)["status"] == "CANCELLED"


def test_upload_arriving_after_cancel_starts_nothing(api: Api, pump: Pump) -> None:
    data = generate_bytes(100, seed=1)
    created = api.create_import(size=len(data))
    job_id = created.json_body["job"]["id"]
    api.cancel(job_id)

    upload(created.json_body["upload"], data)
    pump.drain()

    job = api.job(job_id)
    assert job["status"] == "CANCELLED"
    assert job["processedItems"] == 0


def test_cancel_of_a_finished_job_is_a_conflict(api: Api, pump: Pump) -> None:
    job = import_file(api, pump, generate_bytes(100, seed=4))
    assert job["status"] == "COMPLETED"

    response = api.cancel(job["id"])

    assert response.status_code == 409
    assert response.json_body["code"] == "JOB_CONFLICT"
    assert "completado" in response.json_body["message"]
    assert api.job(job["id"])["status"] == "COMPLETED"


def test_cancel_requested_between_invocations_is_honoured_by_the_next(
    api: Api, aws: QueueUrls
) -> None:
    # GIVEN an import that stopped after its first invocation (tiny budget)
    pump = cost_model_pump(aws, budget_ms=400)
    job_id = start_import(api, generate_bytes(2_000, seed=8))
    run_first_invocations(pump)  # the first invocation re-enqueues itself
    assert api.job(job_id)["status"] == "PROCESSING"
    # WHEN the user cancels, then the continuation runs
    api.cancel(job_id)
    pump.drain()
    # THEN the job is cancelled and nothing is stored
    assert api.job(job_id)["status"] == "CANCELLED"
    assert count_lines(generation_key("acme", "ICBCVC2404", job_id)) == 0
