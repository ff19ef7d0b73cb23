"""Exactly once, all or nothing, never stuck: the worker dies, repeats and races.

Each test drives the real handlers through SQS on moto. Faults are injected at the
AWS boundary (faults.py); redelivery is SQS's own (the pump makes a failed message
visible again), and a job whose continuation was lost is rescued by the sweeper.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from faults import LINES_TABLE, Crash, FaultInjector, StillTime, deletes_lines
from support import (
    LINES,
    Api,
    cost_model_pump,
    later,
    lose_messages,
    make_pump,
    run_first_invocations,
    run_until_settled,
    small_budget_pump,
    sqs_client,
    start_import,
    stored_line_numbers,
)

import app as app_module
from chalicelib import runtime
from chalicelib.core.clock import utcnow
from chalicelib.core.models import Lote
from chalicelib.engine import sweeper
from localdev.dktgen import generate_bytes
from localdev.pump import Pump
from localdev.resources import QueueUrls

FAULT_POINTS = [
    ("after the S3 read", "after-call.s3.GetObject", [1, 2, 4]),
    ("after a batch write", "after-call.dynamodb.BatchWriteItem", [1, 3, 8, 15, 20]),
    ("after a checkpoint update", "after-call.dynamodb.UpdateItem", [2, 3, 4, 5, 7, 9]),
    # The 1st SendMessage is the upload handler's first work message; then continuations.
    ("after sending a work message", "after-call.sqs.SendMessage", [1, 2, 3, 4]),
    ("before sending a work message", "before-call.sqs.SendMessage", [1, 2, 3]),
    ("before the commit transaction", "before-call.dynamodb.TransactWriteItems", [1]),
    ("after the commit transaction", "after-call.dynamodb.TransactWriteItems", [1]),
]
CASES = [
    pytest.param(event, n, id=f"{label} #{n}")
    for label, event, occurrences in FAULT_POINTS
    for n in occurrences
]


@pytest.mark.parametrize(("event", "occurrence"), CASES)
def test_a_worker_killed_at_any_step_still_imports_every_line_once(
    api: Api, aws: QueueUrls, event: str, occurrence: int
) -> None:
    # GIVEN an import whose worker will die once at this step
    faults = FaultInjector().install()
    pump = small_budget_pump(aws, faults)
    trigger = faults.crash_at(event, occurrence)
    job_id = start_import(api, generate_bytes(LINES, seed=31))
    # WHEN SQS redelivers and the sweeper does its rounds
    job = run_until_settled(api, pump, job_id)
    # THEN the fault happened, and the job is complete with each line exactly once
    assert trigger.fired
    assert any(call.error and "Crash" in call.error for call in pump.stats.invocations)
    assert job["status"] == "COMPLETED"
    assert job["processedItems"] == job["totalItems"] == LINES
    assert stored_line_numbers(job_id) == list(range(1, LINES + 1))
    assert job["result"]["linesImported"] == LINES
    assert Lote.get("acme", "ICBCVC2404").line_count == LINES


def puts_lines(params: dict[str, Any]) -> bool:
    """A BatchWriteItem that stores statement lines (one of a chunk's 4)."""
    requests = params.get("RequestItems", {}).get(LINES_TABLE, [])
    return any("PutRequest" in request for request in requests)


def test_a_crash_with_some_of_a_chunks_batches_written_still_imports_every_line_once(
    api: Api, aws: QueueUrls
) -> None:
    # GIVEN an import whose worker dies as it sends the 2nd of the 4 batch writes of its 2nd
    # chunk, while the other 3 are in flight on the writer threads
    faults = FaultInjector().install()
    crashes: list[list[int]] = []

    def after_crash(invocation: Any) -> None:
        if invocation.error and "Crash" in invocation.error:
            crashes.append(stored_line_numbers(job_id))

    pump = cost_model_pump(aws, budget_ms=350, faults=faults, on_invocation=after_crash)
    threads: list[str] = []

    def crash() -> None:
        threads.append(threading.current_thread().name)
        raise Crash("killed at the 2nd batch of a chunk")

    faults.run_at("before-parameter-build.dynamodb.BatchWriteItem", 6, crash, puts_lines)
    job_id = start_import(api, generate_bytes(LINES, seed=40))
    # WHEN SQS redelivers
    job = run_until_settled(api, pump, job_id)
    # THEN the crash happened on a writer thread and reached the handler, with 3 of the
    # chunk's batches written and the 4th not...
    assert threads and threads[0].startswith("batch-write")
    [stored] = crashes
    missing = set(range(101, 201)) - set(stored)
    assert len(missing) == 25
    assert set(range(1, 101)) <= set(stored)
    # ... and the redelivery wrote the chunk again: complete, each line exactly once
    assert job["status"] == "COMPLETED"
    assert stored_line_numbers(job_id) == list(range(1, LINES + 1))
    assert job["result"]["linesImported"] == LINES
    assert faults.line_puts == LINES + 100  # the crashed chunk, once more


def test_a_cancel_while_a_chunks_batches_are_in_flight_stops_within_the_chunk(
    api: Api, aws: QueueUrls
) -> None:
    # GIVEN an import, and a user who clicks Cancel as the 2nd batch of the 3rd chunk
    # goes out, on a writer thread, with the chunk's other batches in flight
    faults = FaultInjector().install()
    pump = small_budget_pump(aws, faults)
    job_id = start_import(api, generate_bytes(LINES, seed=41))
    puts_at_cancel: list[int] = []

    def user_cancels() -> None:
        puts_at_cancel.append(faults.line_puts)
        assert api.cancel(job_id).status_code == 200

    trigger = faults.run_at(
        "before-parameter-build.dynamodb.BatchWriteItem", 10, user_cancels, puts_lines
    )
    # WHEN the queues drain
    job = run_until_settled(api, pump, job_id)
    # THEN it is cancelled and nothing is left, and the rest of that chunk was all that
    # was written after the request
    assert trigger.fired
    assert job["status"] == "CANCELLED"
    assert stored_line_numbers(job_id) == []
    assert Lote.count("acme") == 0
    assert faults.line_puts - puts_at_cancel[0] <= 100


def deliver_each_message_twice(pump: Pump) -> None:
    for index, route in enumerate(pump.routes):

        def twice(event: dict[str, Any], context: Any, handler: Any = route.handler) -> None:
            handler(event, context)
            handler(event, context)

        pump.routes[index] = replace(route, handler=twice)


def test_every_message_delivered_twice_imports_exact_counts(api: Api, aws: QueueUrls) -> None:
    pump = small_budget_pump(aws)
    deliver_each_message_twice(pump)
    job_id = start_import(api, generate_bytes(LINES, seed=32))

    job = run_until_settled(api, pump, job_id)

    assert job["status"] == "COMPLETED"
    assert stored_line_numbers(job_id) == list(range(1, LINES + 1))
    assert job["result"]["linesImported"] == LINES


def test_two_workers_on_the_same_message_at_once_import_exact_counts(
    api: Api, aws: QueueUrls
) -> None:
    # GIVEN the first work message of an import
    pump = make_pump(aws)
    job_id = start_import(api, generate_bytes(1_000, seed=33))
    pump.drain(only="dkt-jobs-uploads")
    sqs = sqs_client()
    [message] = sqs.receive_message(QueueUrl=aws.work, AttributeNames=["All"])["Messages"]
    event = {"Records": [pump.record_for("dkt-jobs-work", message)]}
    # WHEN two Lambdas get it at the same moment
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker() -> None:
        from chalice.local import LambdaContext

        barrier.wait()
        try:
            context = LambdaContext("process_work", 1024, 60_000, time_source=StillTime())
            app_module.process_work(event, context)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sqs.delete_message(QueueUrl=aws.work, ReceiptHandle=message["ReceiptHandle"])
    job = run_until_settled(api, pump, job_id)
    # THEN one of them won each step, and the lote holds each line once
    assert errors == []
    assert job["status"] == "COMPLETED"
    assert stored_line_numbers(job_id) == list(range(1, 1_001))


CANCEL_POINTS = [
    ("after the S3 read", "after-call.s3.GetObject", [1, 2, 4]),
    ("after a batch write", "after-call.dynamodb.BatchWriteItem", [1, 6, 13]),
    ("after a checkpoint update", "after-call.dynamodb.UpdateItem", [2, 3, 5, 7]),
    ("after sending a work message", "after-call.sqs.SendMessage", [1, 2, 3]),
]


@pytest.mark.parametrize(
    ("event", "occurrence"),
    [
        pytest.param(event, n, id=f"{label} #{n}")
        for label, event, occurrences in CANCEL_POINTS
        for n in occurrences
    ],
)
def test_cancel_at_any_step_leaves_nothing(
    api: Api, aws: QueueUrls, event: str, occurrence: int
) -> None:
    # GIVEN an import, and a user who clicks Cancel right at this step
    faults = FaultInjector().install()
    pump = small_budget_pump(aws, faults)
    puts_at_cancel: list[int] = []
    job_id = start_import(api, generate_bytes(LINES, seed=34))

    def user_cancels() -> None:
        puts_at_cancel.append(faults.line_puts)
        assert api.cancel(job_id).status_code == 200

    trigger = faults.run_at(event, occurrence, user_cancels)
    # WHEN the queues drain
    job = run_until_settled(api, pump, job_id)
    # THEN it is cancelled, nothing is visible or left staged, no lote exists
    assert trigger.fired
    assert job["status"] == "CANCELLED"
    assert stored_line_numbers(job_id) == []
    assert Lote.count("acme") == 0
    assert api.get("/api/lotes").json_body["lotes"] == []
    # ... and at most one chunk of lines was written after the request
    assert faults.line_puts - puts_at_cancel[0] <= 100


def test_a_worker_killed_in_the_middle_of_a_discard_still_discards_everything(
    api: Api, aws: QueueUrls
) -> None:
    faults = FaultInjector().install()
    pump = small_budget_pump(aws, faults)
    job_id = start_import(api, generate_bytes(LINES, seed=35))
    faults.run_at(
        "after-call.dynamodb.UpdateItem", 5, lambda: api.cancel(job_id)
    )  # cancel mid-import
    crash = faults.crash_at("before-parameter-build.dynamodb.BatchWriteItem", 2)
    crash.matches = deletes_lines  # die on the second batch of deletions

    job = run_until_settled(api, pump, job_id)

    assert crash.fired
    assert job["status"] == "CANCELLED"
    assert stored_line_numbers(job_id) == []
    assert Lote.count("acme") == 0


def test_retry_after_a_failure_at_60_percent_resumes_there(api: Api, aws: QueueUrls) -> None:
    # GIVEN an import whose line writes start failing for good at about 60%
    faults = FaultInjector().install()
    pump = small_budget_pump(aws, faults)
    job_id = start_import(api, generate_bytes(1_000, seed=36))
    faults.break_line_writes_from(600 // 25, times=50)
    # WHEN SQS gives up (maxReceiveCount) and dead-letters the message
    failed = run_until_settled(api, pump, job_id)
    assert failed["status"] == "FAILED"
    assert failed["error"]["code"] == "PROCESSING_ERROR"
    assert 50 <= failed["progress"] < 80
    done_before = failed["processedItems"]
    assert done_before >= 500
    # ... and the user retries once storage is back
    faults.disarm()
    puts_before_retry = faults.line_puts
    response = api.post(f"/api/jobs/{job_id}/retry")
    assert response.status_code == 202
    assert response.json_body["job"]["status"] == "QUEUED"
    job = run_until_settled(api, pump, job_id)
    # THEN it completed, re-reading only what came after its checkpoint
    assert job["status"] == "COMPLETED"
    assert job["attempts"] == 2
    assert stored_line_numbers(job_id) == list(range(1, 1_001))
    rewritten = faults.line_puts - puts_before_retry
    assert rewritten <= 1_000 - done_before
    assert rewritten >= 1_000 - done_before - 100


def test_a_job_whose_worker_vanished_is_rescued_by_the_sweeper(api: Api, aws: QueueUrls) -> None:
    # GIVEN an import whose continuation message is lost after the first invocation
    pump = small_budget_pump(aws)
    job_id = start_import(api, generate_bytes(LINES, seed=37))
    run_first_invocations(pump)
    assert lose_messages(aws.work) == 1
    stuck = api.job(job_id)
    assert stuck["status"] == "PROCESSING"
    # WHEN the sweeper runs while the heartbeat is still fresh, nothing happens
    assert sweeper.sweep(runtime.services(), utcnow()).rescued == []
    # ... but once it is stale, the job is re-enqueued from its checkpoint
    report = sweeper.sweep(runtime.services(), later())
    assert report.rescued == [job_id]
    pump.drain()
    # THEN it completes
    job = api.job(job_id)
    assert job["status"] == "COMPLETED"
    assert stored_line_numbers(job_id) == list(range(1, LINES + 1))


def test_a_job_that_keeps_losing_its_worker_fails_out_of_attempts(api: Api, aws: QueueUrls) -> None:
    pump = small_budget_pump(aws)
    job_id = start_import(api, generate_bytes(LINES, seed=38))
    run_first_invocations(pump)
    for _ in range(3):
        assert lose_messages(aws.work) == 1
        assert sweeper.sweep(runtime.services(), later()).rescued == [job_id]
    assert lose_messages(aws.work) == 1

    report = sweeper.sweep(runtime.services(), later())

    assert report.failed == [job_id]
    job = api.job(job_id)
    assert job["status"] == "FAILED"
    assert job["error"]["code"] == "WORKER_LOST"
    assert "reintentarlo" in job["message"]
    # ... a transient failure: the sweeper retries it by itself, and it then completes
    assert job["nextRetryAt"] is not None
    due = datetime.fromisoformat(job["nextRetryAt"].replace("Z", "+00:00")) + timedelta(seconds=1)
    assert sweeper.sweep(runtime.services(), due).retried == [job_id]
    assert run_until_settled(api, pump, job_id)["status"] == "COMPLETED"
    assert stored_line_numbers(job_id) == list(range(1, LINES + 1))


def test_an_upload_that_never_arrives_fails_when_the_window_closes(api: Api) -> None:
    job_id = api.create_import(size=1_000).json_body["job"]["id"]
    settings = runtime.services().settings

    soon = sweeper.sweep(runtime.services(), later())
    window = timedelta(seconds=settings.upload_url_ttl_s) + sweeper.UPLOAD_GRACE
    closed = sweeper.sweep(runtime.services(), utcnow() + window + timedelta(seconds=1))

    assert soon.failed == []
    assert closed.failed == [job_id]
    job = api.job(job_id)
    assert job["status"] == "FAILED"
    assert job["error"]["code"] == "UPLOAD_TIMEOUT"
    assert api.get("/api/jobs?status=active").json_body["jobs"] == []


def test_the_sweeper_runs_as_a_scheduled_handler(
    api: Api, aws: QueueUrls, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalice.test import Client

    # GIVEN an import whose continuation was lost, and a sweeper that counts any
    # silence as stale (the handler reads the real clock)
    pump = small_budget_pump(aws)
    job_id = start_import(api, generate_bytes(LINES, seed=39))
    run_first_invocations(pump)
    assert lose_messages(aws.work) == 1
    monkeypatch.setenv("STALE_AFTER_S", "0")
    runtime.reset()
    # WHEN EventBridge invokes the scheduled handler
    with Client(app_module.app) as client:
        event = client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
        )
        client.lambda_.invoke("sweep_jobs", event)
    # THEN the job was re-enqueued, and completes
    pump.drain()
    assert api.job(job_id)["status"] == "COMPLETED"
