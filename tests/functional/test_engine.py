"""The engine on its own: a job type from an explicit table, time and ids injected, the
worker's metrics, and a completion transaction read item by item."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from datetime import timedelta
from typing import Any, ClassVar

import boto3
import pytest
from fakes import CountingIds, LambdaTime, StepClock
from faults import FaultInjector
from support import Api, make_pump, run_until_settled, stored_line_numbers, upload

from chalicelib import runtime
from chalicelib.adapters.auth import Identity
from chalicelib.adapters.services import Services
from chalicelib.core import observability
from chalicelib.core.models import Job, JobType, Lote, Phase, Staged
from chalicelib.engine import lifecycle, registry, runner
from chalicelib.engine.commit import completing
from chalicelib.engine.jobtype import (
    Advanced,
    CheckpointUpdate,
    ChunkOutcome,
    Finished,
    Progress,
    Start,
)
from chalicelib.engine.messaging import WorkMessage
from localdev.dktgen import generate_bytes
from localdev.resources import QueueUrls

ROWS_PER_CHUNK = 100
CHUNKS = 3
SECONDS_PER_CHUNK = 2


class Counting:
    """A job type that counts to 300 in chunks of 100, two seconds each, then completes."""

    cancel_refusal: ClassVar[str | None] = None
    auto_retry_attempts: ClassVar[int] = 0

    def __init__(self, services: Services) -> None:
        self._clock = services.clock
        assert isinstance(self._clock, StepClock)

    def start(self, job: Job) -> Start:
        return Start("Contando...", {"rules_version": 7})

    def run_chunk(self, job: Job) -> ChunkOutcome:
        self._clock.advance(SECONDS_PER_CHUNK)
        done = int(job.processed_items) + ROWS_PER_CHUNK
        if done > ROWS_PER_CHUNK * CHUNKS:
            with completing(job, {"counted": done - ROWS_PER_CHUNK}, "Listo.", clock=self._clock):
                pass
            return Finished("counted")
        return Advanced(
            CheckpointUpdate(Phase.IMPORT.value, 0, done),
            Progress(done // 4, done, ROWS_PER_CHUNK * CHUNKS, f"{done} contados."),
        )

    @classmethod
    def staged_on_failure(cls, job: Job) -> Staged:
        return Staged.NONE

    def discard_chunk(self, job: Job) -> bool:
        return True

    def accept_overdue_upload(self, job: Job) -> bool:
        return False


def emitted_metrics(capsys: pytest.CaptureFixture[str]) -> Counter[tuple[str, str]]:
    """(metric, JobType) -> sum of the values the invocation published as EMF on stdout (the
    handlers' middleware publishes them when an invocation ends; here the test does)."""
    observability.publish()
    totals: Counter[tuple[str, str]] = Counter()
    for line in capsys.readouterr().out.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                values = document[metric["Name"]]
                total = sum(values) if isinstance(values, list) else values
                totals[(metric["Name"], document["JobType"])] += total
    return totals


@pytest.fixture
def counting(aws: QueueUrls, monkeypatch: pytest.MonkeyPatch) -> tuple[Services, Any]:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    services = dataclasses.replace(runtime.services(), clock=StepClock(), new_id=CountingIds())
    return services, registry.JobTypes({JobType.DKT_IMPORT: Counting})


def create_counting_job(services: Services) -> Job:
    return lifecycle.create(
        job_type=JobType.DKT_IMPORT,
        owner=Identity(user_id="ana", tenant_id="acme"),
        parameters={},
        message="En cola.",
        ttl_days=1,
        clock=services.clock,
        new_id=services.new_id,
    )


def test_a_job_type_from_the_table_runs_on_the_injected_clock_and_ids(
    counting: tuple[Services, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a job of a type the engine only knows from the table it is handed
    services, job_types = counting
    started_at = services.clock.now()
    job = create_counting_job(services)
    # WHEN one delivery with time to spare runs it
    report = runner.handle(
        lifecycle.message_for(job), services, LambdaTime(600_000), job_types=job_types
    )
    # THEN it completed, with the id and times of the injected generator and clock
    assert report.outcome == "completed"
    assert report.chunks == CHUNKS + 1
    stored = Job.get("job-1")
    assert stored.status == "COMPLETED"
    assert stored.result == {"counted": 300}
    assert stored.started_at == started_at
    assert stored.completed_at == started_at + timedelta(seconds=(CHUNKS + 1) * SECONDS_PER_CHUNK)
    # ... it froze what its type froze at start
    assert stored.rules_version == 7
    # ... and the worker counted its chunks and its completion, by type
    metrics = emitted_metrics(capsys)
    assert metrics[("ItemsProcessed", "DKT_IMPORT")] == 300
    assert metrics[("JobsCompleted", "DKT_IMPORT")] == 1
    assert metrics[("Continuations", "DKT_IMPORT")] == 0


def test_a_job_keeps_what_its_first_start_froze(counting: tuple[Services, Any]) -> None:
    # GIVEN a job that already froze version 3 at an earlier start (a retry)
    services, job_types = counting
    job = create_counting_job(services)
    job.update(actions=[Job.rules_version.set(3)])
    # WHEN it starts again, its type freezing version 7
    runner.handle(lifecycle.message_for(job), services, LambdaTime(600_000), job_types=job_types)
    # THEN it runs on the version it froze first
    assert Job.get(job.id).rules_version == 3


def test_a_job_out_of_time_hands_off_and_counts_the_continuation(
    counting: tuple[Services, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a delivery whose Lambda has no more than its safety margin left
    services, job_types = counting
    job = create_counting_job(services)
    margin = services.settings.safety_margin_ms
    # WHEN it runs
    report = runner.handle(
        lifecycle.message_for(job), services, LambdaTime(margin), job_types=job_types
    )
    # THEN it did one chunk, sent the continuation and counted it
    assert (report.outcome, report.chunks, report.continued) == ("continued", 1, True)
    assert emitted_metrics(capsys)[("Continuations", "DKT_IMPORT")] == 1
    body = boto3.client("sqs").receive_message(QueueUrl=_work_queue())["Messages"][0]["Body"]
    assert WorkMessage.from_json(body).seq == 1


def test_a_dead_lettered_job_is_counted_as_failed(
    counting: tuple[Services, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    services, job_types = counting
    job = create_counting_job(services)
    assert runner.fail_dead_letter(lifecycle.message_for(job), services, job_types=job_types)
    assert Job.get(job.id).status == "FAILED"
    assert emitted_metrics(capsys)[("JobsFailed", "DKT_IMPORT")] == 1


def _work_queue() -> str:
    return runtime.services().settings.work_queue_url


# --- a replace's commit: a put, two updates; each cancellation reason read on its own item ---


def replacing_import(api: Api, aws: QueueUrls) -> tuple[str, str, WorkMessage]:
    """A committed import of lote ICBCVC2404, and the first work message of one replacing it."""
    pump = make_pump(aws)
    data = generate_bytes(60, seed=91)
    first = api.create_import(size=len(data))
    upload(first.json_body["upload"], data)
    first_id = first.json_body["job"]["id"]
    assert run_until_settled(api, pump, first_id)["status"] == "COMPLETED"
    data = generate_bytes(40, seed=92)
    second = api.create_import(size=len(data), replace=True)
    upload(second.json_body["upload"], data)
    pump.drain(only="dkt-jobs-uploads")
    sqs = boto3.client("sqs")
    [raw] = sqs.receive_message(QueueUrl=aws.work)["Messages"]
    sqs.delete_message(QueueUrl=aws.work, ReceiptHandle=raw["ReceiptHandle"])
    return first_id, second.json_body["job"]["id"], WorkMessage.from_json(raw["Body"])


def test_a_cancel_landing_on_the_commit_of_a_replace_cancels_it(api: Api, aws: QueueUrls) -> None:
    # GIVEN a replacing import whose user cancels just as it commits
    first_id, second_id, message = replacing_import(api, aws)
    faults = FaultInjector().install()

    def user_cancels() -> None:
        Job(second_id).update(actions=[Job.cancel_requested.set(True)])

    faults.run_at("before-call.dynamodb.TransactWriteItems", 1, user_cancels)
    # WHEN the delivery reaches its commit
    report = runner.handle(message, runtime.services(), LambdaTime(600_000))
    # THEN the delivery itself cancels the job (no error for SQS to retry)...
    assert report.outcome.startswith("cancelled")
    assert api.job(second_id)["status"] == "CANCELLED"
    # ... and the lote still shows the lines it had
    assert Lote.get("acme", "ICBCVC2404").job_id == first_id
    assert len(stored_line_numbers(first_id)) == 60


def test_a_lote_changed_under_the_commit_of_a_replace_fails_it_cleanly(
    api: Api, aws: QueueUrls
) -> None:
    # GIVEN a replacing import whose lote another writer changes just as it commits
    _, second_id, message = replacing_import(api, aws)
    faults = FaultInjector().install()

    def another_writer() -> None:
        Lote.get("acme", "ICBCVC2404").update(actions=[Lote.job_id.set("someone-else")])

    faults.run_at("before-call.dynamodb.TransactWriteItems", 1, another_writer)
    # WHEN the delivery reaches its commit
    runner.handle(message, runtime.services(), LambdaTime(600_000))
    # THEN the import failed with the lote's reason, and kept nothing
    job = api.job(second_id)
    assert job["status"] == "FAILED"
    assert job["error"]["code"] == "LOTE_CHANGED"
    assert stored_line_numbers(second_id) == []
