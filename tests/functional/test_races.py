"""Races between deliveries, users, the sweeper and the file itself (one test each)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from faults import FaultInjector
from support import (
    LINES,
    Api,
    count_lines,
    create_and_upload,
    later,
    make_pump,
    run_first_invocations,
    run_until_settled,
    small_budget_pump,
    sqs_client,
    start_import,
    stored_line_numbers,
    upload,
)

from chalicelib import runtime
from chalicelib.core.errors import Fenced, JobConflict
from chalicelib.core.line_keys import generation_key
from chalicelib.core.models import Job, Lote, Phase
from chalicelib.engine import lifecycle, runner, sweeper
from chalicelib.engine.messaging import WorkMessage
from localdev.dktgen import generate_bytes
from localdev.resources import QueueUrls

BUCKET = "test-dkt-uploads"


def first_work_message(api: Api, aws: QueueUrls, data: bytes) -> tuple[str, WorkMessage]:
    """An import whose upload was accepted, and the first work message, taken off the queue."""
    job_id = start_import(api, data)
    make_pump(aws).drain(only="dkt-jobs-uploads")
    sqs = sqs_client()
    [raw] = sqs.receive_message(QueueUrl=aws.work)["Messages"]
    sqs.delete_message(QueueUrl=aws.work, ReceiptHandle=raw["ReceiptHandle"])
    return job_id, WorkMessage.from_json(raw["Body"])


def stop_after(chunks: int) -> Any:
    """A Lambda 'remaining time' that runs out after `chunks` chunks (3 readings each)."""
    readings = {"n": 0}

    def remaining_ms() -> int:
        readings["n"] += 1
        return 600_000 if readings["n"] < 3 * chunks else 0

    return remaining_ms


def test_a_delivery_that_lost_the_race_at_a_chunk_boundary_stops(api: Api, aws: QueueUrls) -> None:
    # GIVEN two copies of the same work message
    job_id, message = first_work_message(api, aws, generate_bytes(LINES, seed=71))
    faults = FaultInjector().install()
    reports: dict[str, runner.InvocationReport] = {}

    def copy_b_runs_two_chunks() -> None:
        reports["b"] = runner.handle(message, runtime.services(), stop_after(2))

    # WHEN copy A is in the middle of its 2nd chunk's writes and copy B runs two chunks
    faults.run_at("after-call.dynamodb.BatchWriteItem", 2, copy_b_runs_two_chunks)
    reports["a"] = runner.handle(message, runtime.services(), lambda: 600_000)
    # THEN B advanced and handed off; A found the fence moved and stopped without recording
    assert reports["b"].continued
    assert reports["a"].outcome == "dropped: fenced"
    job = run_until_settled(api, make_pump(aws), job_id)
    assert job["status"] == "COMPLETED"
    assert job["result"]["linesImported"] == job["processedItems"] == LINES
    assert stored_line_numbers(job_id) == list(range(1, LINES + 1))


def test_a_duplicate_that_cancels_while_the_original_writes_leaves_nothing_in_the_end(
    api: Api, aws: QueueUrls
) -> None:
    # GIVEN a delivery in the middle of writing a chunk
    job_id, message = first_work_message(api, aws, generate_bytes(LINES, seed=72))
    faults = FaultInjector().install()
    generation = generation_key("acme", "ICBCVC2404", job_id)

    def user_cancels_and_a_duplicate_discards() -> None:
        api.cancel(job_id)
        runner.handle(message, runtime.services(), lambda: 600_000)

    # WHEN the user cancels and a duplicate delivery discards everything meanwhile
    faults.run_at("after-call.dynamodb.BatchWriteItem", 6, user_cancels_and_a_duplicate_discards)
    report = runner.handle(message, runtime.services(), lambda: 600_000)
    # THEN the original's last writes landed after the discard, and it stopped
    assert report.outcome == "dropped: fenced"
    assert count_lines(generation) > 0
    assert Job.get(job_id).checkpoint.phase == Phase.SETTLING
    # ... and the sweeper's last pass, once no delivery can still be writing, removes them
    job = run_until_settled(api, make_pump(aws), job_id)
    assert job["status"] == "CANCELLED"
    assert count_lines(generation) == 0
    assert Lote.count("acme") == 0
    assert Job.get(job_id).checkpoint.phase == Phase.DONE


def test_a_retry_cancelled_before_it_starts_still_discards_what_was_staged(
    api: Api, aws: QueueUrls
) -> None:
    # GIVEN an import that failed at about 60%, keeping its staged lines for a retry
    faults = FaultInjector().install()
    pump = small_budget_pump(aws, faults)
    job_id = start_import(api, generate_bytes(1_000, seed=73))

    def break_storage() -> None:
        for _ in range(50):
            faults.crash_at("after-call.dynamodb.BatchWriteItem", 1)

    faults.run_at("after-call.dynamodb.BatchWriteItem", 24, break_storage)
    failed = run_until_settled(api, pump, job_id)
    assert failed["status"] == "FAILED"
    faults.disarm()
    generation = generation_key("acme", "ICBCVC2404", job_id)
    assert count_lines(generation) > 0
    # WHEN the user retries and cancels before a worker picks it up
    assert api.post(f"/api/jobs/{job_id}/retry").status_code == 202
    assert api.cancel(job_id).json_body["job"]["status"] == "CANCELLED"
    # THEN the staged lines are discarded all the same
    job = run_until_settled(api, pump, job_id)
    assert job["status"] == "CANCELLED"
    assert count_lines(generation) == 0
    assert Lote.count("acme") == 0


def test_a_file_replaced_mid_import_fails_the_job_instead_of_mixing_two_files(
    api: Api, aws: QueueUrls
) -> None:
    # GIVEN an import under way
    pump = small_budget_pump(aws)
    created = create_and_upload(api, generate_bytes(LINES, seed=74))
    job_id = created.json_body["job"]["id"]
    run_first_invocations(pump)
    assert api.job(job_id)["status"] == "PROCESSING"
    # WHEN another file is posted to the same key (the presigned form is still valid)
    upload(created.json_body["upload"], generate_bytes(LINES, seed=75))
    job = run_until_settled(api, pump, job_id)
    # THEN the job fails, saying why, and nothing of either file is visible or staged
    assert job["status"] == "FAILED"
    assert job["error"]["code"] == "FILE_CHANGED"
    assert "reemplazado" in job["message"]
    assert stored_line_numbers(job_id) == []
    assert Lote.count("acme") == 0
    # ... and a retry starts over, on the file as it is now (nothing was kept to resume)
    assert api.post(f"/api/jobs/{job_id}/retry").status_code == 202
    assert run_until_settled(api, pump, job_id)["status"] == "COMPLETED"


def test_a_retry_right_after_file_changed_waits_for_the_discard_then_starts_over(
    api: Api, aws: QueueUrls
) -> None:
    # GIVEN an import with lines staged, whose file is replaced: it fails FILE_CHANGED
    pump = small_budget_pump(aws)
    created = create_and_upload(api, generate_bytes(LINES, seed=74))
    job_id = created.json_body["job"]["id"]
    run_first_invocations(pump)
    while (
        Job.get(job_id).checkpoint.phase != Phase.IMPORT or api.job(job_id)["processedItems"] < 300
    ):
        pump.poll_once(only="dkt-jobs-work")
    replacement = generate_bytes(LINES + 30, seed=75)
    upload(created.json_body["upload"], replacement)
    while api.job(job_id)["status"] != "FAILED":
        pump.poll_once(only="dkt-jobs-work")
    assert api.job(job_id)["error"]["code"] == "FILE_CHANGED"
    assert Job.get(job_id).checkpoint.phase == Phase.DISCARD  # still removing staged lines
    # WHEN the user retries at once
    response = api.post(f"/api/jobs/{job_id}/retry")
    # THEN it is accepted, and said to start once the discard is over
    assert response.status_code == 202, response.body
    assert "Reintento pedido" in api.job(job_id)["message"]
    # AND it then starts over on the new file and imports exactly that file
    job = run_until_settled(api, pump, job_id)
    assert job["status"] == "COMPLETED"
    assert job["result"]["linesImported"] == LINES + 30
    assert job["attempts"] == 2
    assert stored_line_numbers(job_id) == list(range(1, LINES + 31))


def test_a_deferred_retry_survives_a_worker_dying_as_the_discard_ends(
    api: Api, aws: QueueUrls
) -> None:
    # GIVEN a FILE_CHANGED import still discarding, and a retry the user asked for meanwhile
    faults = FaultInjector().install()
    pump = small_budget_pump(aws, faults)
    created = create_and_upload(api, generate_bytes(LINES, seed=76))
    job_id = created.json_body["job"]["id"]
    run_first_invocations(pump)
    while (
        Job.get(job_id).checkpoint.phase != Phase.IMPORT or api.job(job_id)["processedItems"] < 300
    ):
        pump.poll_once(only="dkt-jobs-work")
    upload(created.json_body["upload"], generate_bytes(LINES + 30, seed=77))
    while api.job(job_id)["status"] != "FAILED":
        pump.poll_once(only="dkt-jobs-work")
    assert api.post(f"/api/jobs/{job_id}/retry").status_code == 202
    # WHEN the worker dies right after the last discard chunk, as it looks at the new file
    crash = faults.crash_at("before-call.s3.HeadObject", 1)
    job = run_until_settled(api, pump, job_id)
    # THEN the retry still happens: on the new file, every line once
    assert crash.fired
    assert job["status"] == "COMPLETED", job
    assert job["result"]["linesImported"] == LINES + 30
    assert stored_line_numbers(job_id) == list(range(1, LINES + 31))


def test_a_lote_changed_under_a_commit_fails_the_import_cleanly(api: Api, aws: QueueUrls) -> None:
    # GIVEN an import whose lote another writer changes right as it commits
    faults = FaultInjector().install()
    pump = small_budget_pump(aws, faults)

    def another_writer() -> None:
        Lote.get("acme", "ICBCVC2404").update(actions=[Lote.job_id.set("someone-else")])

    faults.run_at("before-call.dynamodb.TransactWriteItems", 1, another_writer)
    job_id = start_import(api, generate_bytes(LINES, seed=76))
    # WHEN it reaches its commit
    job = run_until_settled(api, pump, job_id)
    # THEN it fails with a reason, and discards what it staged
    assert job["status"] == "FAILED"
    assert job["error"]["code"] == "LOTE_CHANGED"
    assert stored_line_numbers(job_id) == []


def test_deleting_a_lote_whose_import_expired_still_completes(api: Api, aws: QueueUrls) -> None:
    pump = make_pump(aws)
    imported = run_until_settled(api, pump, start_import(api, generate_bytes(50, seed=77)))
    Job.get(imported["id"]).delete()  # gone with its TTL; lotes have none

    deletion = api.delete("/api/lotes/ICBCVC2404").json_body["job"]
    pump.drain()

    assert api.job(deletion["id"])["status"] == "COMPLETED"
    assert Lote.count("acme") == 0
    assert stored_line_numbers(imported["id"]) == []


def test_a_failed_lote_deletion_is_retried_by_the_sweeper(api: Api, aws: QueueUrls) -> None:
    pump = make_pump(aws)
    run_until_settled(api, pump, start_import(api, generate_bytes(50, seed=78)))
    faults = FaultInjector().install()
    deletion = api.delete("/api/lotes/ICBCVC2404").json_body["job"]
    for _ in range(5):  # every delivery dies at its completion: dead-lettered, FAILED
        faults.crash_at("before-call.dynamodb.TransactWriteItems", 1)
    pump.drain()
    assert api.job(deletion["id"])["status"] == "FAILED"
    assert api.get("/api/lotes").json_body["lotes"] == []  # still hidden, not half deleted

    report = sweeper.sweep(runtime.services(), later())
    pump.drain()

    assert report.retried == [deletion["id"]]
    assert api.job(deletion["id"])["status"] == "COMPLETED"
    assert Lote.count("acme") == 0


def test_a_retry_racing_the_sweepers_discard_is_refused(api: Api, aws: QueueUrls) -> None:
    faults = FaultInjector().install()
    pump = small_budget_pump(aws, faults)
    job_id = start_import(api, generate_bytes(1_000, seed=79))
    faults.run_at(
        "after-call.dynamodb.BatchWriteItem",
        10,
        lambda: [faults.crash_at("after-call.dynamodb.BatchWriteItem", 1) for _ in range(50)],
    )
    run_until_settled(api, pump, job_id)
    faults.disarm()
    seen_by_user = Job.get(job_id)
    # the retry window closes: the sweeper starts discarding
    lifecycle.rescue(Job.get(job_id), counts=False, phase=Phase.DISCARD)

    with pytest.raises(JobConflict):
        lifecycle.prepare_retry(seen_by_user, None)
    assert Job.get(job_id).status == "FAILED"


def test_an_upload_arriving_as_its_window_closes_is_not_expired(api: Api) -> None:
    data = generate_bytes(20, seed=80)
    created = api.create_import(size=len(data))
    job_id = created.json_body["job"]["id"]
    seen_by_sweeper = Job.get(job_id)
    upload(created.json_body["upload"], data)
    from chalicelib.jobtypes.dkt_upload import accept_upload

    accept_upload(Job.get(job_id), runtime.services())

    with pytest.raises(Fenced):
        lifecycle.expire_upload(seen_by_sweeper)
    assert api.job(job_id)["status"] == "QUEUED"


def test_a_lost_first_work_message_is_sent_again_by_the_repeated_notification(
    api: Api, aws: QueueUrls
) -> None:
    pump = make_pump(aws)
    faults = FaultInjector().install()
    faults.crash_at("before-call.sqs.SendMessage", 1)  # the upload handler dies before sending
    job_id = start_import(api, generate_bytes(100, seed=81))

    pump.drain()  # SQS redelivers the notification

    assert api.job(job_id)["status"] == "COMPLETED"


def test_edited_cursors_and_overlong_ids_are_client_errors(api: Api) -> None:
    def cursor(key: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()

    tampered = [
        {"user_id": {"S": "ana"}},
        {"user_id": {"S": "ana"}, "id": {"N": "1"}, "created_at": {"S": "x"}},
        {"user_id": {"S": "ana"}, "id": {"S": "x" * 5000}, "created_at": {"S": "x"}},
        {"user_id": {"S": "ana"}, "id": {"S": "a"}, "created_at": {"S": "x"}, "extra": {"S": "1"}},
    ]
    for key in tampered:
        response = api.get(f"/api/jobs?cursor={cursor(key)}")
        assert response.status_code == 400, key
    assert api.get(f"/api/lotes?cursor={cursor({'tenant_id': {'S': 'acme'}})}").status_code == 400
    assert api.get("/api/jobs/" + "x" * 3000).status_code == 404
    assert api.get("/api/lotes/" + "x" * 3000).status_code == 404
    assert api.get("/api/rules/lookups/" + "x" * 3000).status_code == 404


def test_a_card_number_in_a_rejected_request_never_reaches_the_logs(
    api: Api, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    body = {
        "codigoTarjeta": "ICBCVC",
        "filename": "a.dkt",
        "size": 10,
        "numeroTarjeta": "4111111111111111",
    }
    response = api.post("/api/jobs/dkt-import", body)

    assert response.status_code == 400
    captured = capsys.readouterr()
    assert "4111111111111111" not in captured.out + captured.err + caplog.text
    assert "4111111111111111" not in json.dumps(response.json_body)
