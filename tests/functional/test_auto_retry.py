"""Automatic retry: a job that failed for a transient reason is retried by the sweeper,
with backoff, up to a limit; a data error never is (engine/retries.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from faults import FaultInjector
from support import (
    Api,
    import_file,
    run_until_settled,
    small_budget_pump,
    start_import,
    stored_line_numbers,
)

from chalicelib import runtime
from chalicelib.core.models import Job
from chalicelib.engine import sweeper
from localdev.dktgen import generate_bytes
from localdev.pump import Pump
from localdev.resources import QueueUrls

BUCKET = "test-dkt-uploads"


def at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def sweep_at(moment: datetime) -> sweeper.SweepReport:
    return sweeper.sweep(runtime.services(), moment)


def fail_for_good(api: Api, pump: Pump, job_id: str) -> dict[str, Any]:
    job = run_until_settled(api, pump, job_id)
    assert job["status"] == "FAILED" and job["error"]["code"] == "PROCESSING_ERROR"
    return job


def failing_import(
    api: Api, aws: QueueUrls, lines: int, seed: int, batch: int = 1
) -> tuple[FaultInjector, Pump, str]:
    """An import whose line writes fail for good from the `batch`-th on (dead-lettered)."""
    faults = FaultInjector().install()
    pump = small_budget_pump(aws, faults)
    job_id = start_import(api, generate_bytes(lines, seed=seed))
    faults.break_line_writes_from(batch)
    return faults, pump, job_id


def test_a_transient_failure_is_retried_by_itself_from_its_checkpoint(
    api: Api, aws: QueueUrls
) -> None:
    # GIVEN an import whose storage fails for good at about 40%: dead-lettered, FAILED
    faults, pump, job_id = failing_import(api, aws, 1_000, seed=91, batch=400 // 25)
    failed = fail_for_good(api, pump, job_id)
    # THEN the user is told it will be retried, and when
    assert failed["message"].endswith("Se reintentará automáticamente.")
    due = at(failed["nextRetryAt"])
    # the first: base * 2^0 (the API shows milliseconds: each time rounded on its own)
    assert abs((due - at(failed["completedAt"])) - timedelta(minutes=5)) < timedelta(seconds=0.01)
    # WHEN the sweeper passes before that time, nothing happens; after it, the job retries
    faults.disarm()
    assert sweep_at(due - timedelta(seconds=1)).retried == []
    assert sweep_at(due + timedelta(seconds=1)).retried == [job_id]
    retried = api.job(job_id)
    assert retried["status"] == "QUEUED" and retried["nextRetryAt"] is None
    job = run_until_settled(api, pump, job_id)
    # AND it completes, every line once, in its second attempt
    assert job["status"] == "COMPLETED"
    assert job["attempts"] == 2
    assert stored_line_numbers(job_id) == list(range(1, 1_001))


def test_automatic_retries_back_off_and_stop_at_the_limit(
    api: Api, aws: QueueUrls, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN at most 3 attempts, and storage that never comes back
    monkeypatch.setenv("AUTO_RETRY_ATTEMPTS", "3")
    runtime.reset()
    faults, pump, job_id = failing_import(api, aws, 200, seed=92)
    waits = []
    for _ in range(3):
        failed = fail_for_good(api, pump, job_id)
        if failed["nextRetryAt"] is None:
            break
        waits.append(round((at(failed["nextRetryAt"]) - at(failed["completedAt"])).total_seconds()))
        faults.break_line_writes_from(1)
        assert sweep_at(at(failed["nextRetryAt"]) + timedelta(seconds=1)).retried == [job_id]
    # THEN it waited 5, then 10 minutes, and after its third attempt it stays FAILED
    assert waits == [300, 600]
    assert failed["attempts"] == 3
    assert failed["nextRetryAt"] is None
    assert "automáticamente" not in failed["message"]
    assert sweep_at(at(failed["completedAt"]) + timedelta(days=1)).retried == []
    # AND the user can still retry it by hand
    faults.disarm()
    assert api.post(f"/api/jobs/{job_id}/retry").status_code == 202
    assert run_until_settled(api, pump, job_id)["status"] == "COMPLETED"


def test_a_data_error_is_never_retried_by_itself(api: Api, pump: Pump) -> None:
    data = generate_bytes(50, seed=93).replace(b"\n", b"\nnot a dkt line\n", 1)
    job = import_file(api, pump, data)
    assert job["status"] == "FAILED"
    assert job["nextRetryAt"] is None
    assert sweep_at(at(job["completedAt"]) + timedelta(days=1)).retried == []


def test_an_automatic_retry_whose_file_is_gone_is_dropped_and_says_why(
    api: Api, aws: QueueUrls
) -> None:
    faults, pump, job_id = failing_import(api, aws, 200, seed=94)
    failed = fail_for_good(api, pump, job_id)
    faults.disarm()
    # the raw upload expired (the bucket's lifecycle rule) before the retry came
    job = Job.get(job_id)
    boto3.client("s3").delete_object(Bucket=BUCKET, Key=str(job.upload_key))

    due = at(failed["nextRetryAt"]) + timedelta(seconds=1)
    assert sweep_at(due).retried == []

    after = api.job(job_id)
    assert after["status"] == "FAILED" and after["nextRetryAt"] is None
    assert "automáticamente" not in after["message"]
    assert "ya no está disponible" in after["message"]
    assert sweep_at(due + timedelta(hours=1)).retried == []


def test_an_automatic_retry_waits_for_a_free_slot_of_the_user(api: Api, aws: QueueUrls) -> None:
    # GIVEN a transient failure, and then its user with all 5 active imports running
    faults, pump, job_id = failing_import(api, aws, 200, seed=95)
    failed = fail_for_good(api, pump, job_id)
    faults.disarm()
    busy = [api.create_import(size=10).json_body["job"]["id"] for _ in range(5)]
    assert api.create_import(size=10).status_code == 429
    # WHEN its retry comes due: it waits, still due, and does not pass the limit
    due = at(failed["nextRetryAt"]) + timedelta(seconds=1)
    assert sweep_at(due).retried == []
    assert api.job(job_id)["status"] == "FAILED" and api.job(job_id)["nextRetryAt"]
    # THEN once a slot is free the next sweep retries it, and it completes
    assert api.cancel(busy[0]).status_code == 200
    assert sweep_at(due + timedelta(minutes=5)).retried == [job_id]
    assert run_until_settled(api, pump, job_id)["status"] == "COMPLETED"
