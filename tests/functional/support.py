"""Helpers for functional tests: the API as one user sees it, uploads, the pump."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import requests
from chalice.test import Client
from fakes import StepClock
from faults import AwsTime, FaultInjector, StillTime

import app as app_module
from chalicelib import runtime
from chalicelib.core.clock import utcnow
from chalicelib.core.line_keys import generation_key, line_partitions
from chalicelib.core.models import Job, Line, Phase
from chalicelib.core.redact import card_numbers
from chalicelib.engine import sweeper
from localdev.pump import Pump, Route
from localdev.resources import QueueUrls
from localdev.tokens import issue_local_token

TEST_SECRET = "test-local-jwt-secret-at-least-32-bytes"  # as LOCAL_JWT_SECRET in tests/conftest.py


def token_for(user: str, tenant: str = "acme") -> str:
    return issue_local_token(user, tenant, secret=TEST_SECRET)


@dataclass
class Api:
    """The HTTP API as one user sees it."""

    client: Client
    token: str

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/json",
            **(extra or {}),
        }

    def post(self, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        raw = body if isinstance(body, str | bytes) else json.dumps(body or {})
        return self.client.http.post(path, headers=self._headers(headers), body=raw)

    def put(self, path: str, body: Any) -> Any:
        return self.client.http.put(path, headers=self._headers(), body=json.dumps(body))

    def patch(self, path: str, body: Any) -> Any:
        return self.client.http.patch(path, headers=self._headers(), body=json.dumps(body))

    def get(self, path: str) -> Any:
        return self.client.http.get(path, headers=self._headers())

    def delete(self, path: str) -> Any:
        return self.client.http.delete(path, headers=self._headers())

    def create_import(self, **fields: Any) -> Any:
        body = {"codigoTarjeta": "ICBCVC", "filename": "abril.dkt", **fields}
        return self.post("/api/jobs/dkt-import", body)

    def job(self, job_id: str) -> dict[str, Any]:
        response = self.get(f"/api/jobs/{job_id}")
        assert response.status_code == 200, response.body
        return dict(response.json_body)

    def cancel(self, job_id: str) -> Any:
        return self.post(f"/api/jobs/{job_id}/cancel")


def upload(presigned: dict[str, Any], data: bytes) -> None:
    """POSTs a file to S3 the way a browser does with the presigned form."""
    response = requests.post(
        presigned["url"],
        data=presigned["fields"],
        files={"file": ("statement.dkt", data)},
        timeout=30,
    )
    assert response.status_code in (200, 201, 204), response.text


def make_pump(
    urls: QueueUrls, budget_ms: int = 60_000, on_invocation: Any = None, clock: Any = None
) -> Pump:
    """A pump for the app's queues. Its Lambda clock is `clock`; by default time stands
    still, so however slow this machine is, no invocation ever runs low on budget."""
    routes = [
        Route("dkt-jobs-uploads", urls.uploads, app_module.handle_upload, "handle_upload"),
        Route("dkt-jobs-work", urls.work, app_module.process_work, "process_work"),
        Route("dkt-jobs-work-dlq", urls.work_dlq, app_module.handle_dead_letter, "dead_letter"),
        Route("dkt-jobs-notify", urls.notify, app_module.notify_job_finished, "notify"),
    ]
    clock = clock if clock is not None else StillTime()
    return Pump(sqs_client(), routes, budget_ms, "us-east-1", on_invocation, clock)


# Every AWS call the service makes costs this much of an invocation's budget: with the
# 300 ms safety margin of the tests, a 350 ms budget fits exactly one chunk.
AWS_CALL_S = 0.020


def cost_model_pump(
    aws: QueueUrls,
    budget_ms: int = 350,
    faults: FaultInjector | None = None,
    on_invocation: Any = None,
) -> Pump:
    """A pump whose Lambda clock moves only with the service's AWS calls (`AWS_CALL_S`
    each), so the same test gives the same chunks and continuations on any machine.

    The clock is driven by `faults` (installed by the caller), or by an injector of its
    own that only counts."""
    clock = AwsTime(per_call=AWS_CALL_S)
    (faults if faults is not None else FaultInjector().install()).clocks.append(clock)
    return make_pump(aws, budget_ms, on_invocation, clock)


def small_budget_pump(aws: QueueUrls, faults: FaultInjector | None = None) -> Pump:
    # One chunk per invocation: every chunk boundary is also an invocation boundary.
    return cost_model_pump(aws, budget_ms=350, faults=faults)


@functools.cache
def sqs_client() -> Any:
    """The tests' own SQS client (not the service's: fault hooks never see its calls)."""
    return boto3.client("sqs")


def create_and_upload(api: Api, data: bytes, **fields: Any) -> Any:
    """Creates an import of `data` and posts the file to its presigned form, as the page
    does; returns the create response (its `upload` form stays valid)."""
    created = api.create_import(size=len(data), **fields)
    assert created.status_code == 201, created.body
    upload(created.json_body["upload"], data)
    return created


def start_import(api: Api, data: bytes, **fields: Any) -> str:
    """Creates and uploads an import; returns its id (the S3 event waits in its queue)."""
    return str(create_and_upload(api, data, **fields).json_body["job"]["id"])


def run_first_invocations(pump: Pump, invocations: int = 1) -> None:
    """Delivers the S3 event, then the first `invocations` work messages: an import under
    way, with its continuation waiting in the queue."""
    pump.drain(only="dkt-jobs-uploads")
    for _ in range(invocations):
        pump.poll_once(only="dkt-jobs-work")


def import_file(api: Api, pump: Pump, data: bytes, **fields: Any) -> dict[str, Any]:
    """Create -> upload -> drain the queues; returns the job as the API shows it at the end."""
    job_id = start_import(api, data, **fields)
    pump.drain()
    return api.job(job_id)


# --- driving imports to the end, as SQS and the sweeper would -----------------------------

LINES = 500
FINAL = {"COMPLETED", "FAILED", "CANCELLED"}
# Final, but with staged lines still being removed (or waiting for the last pass).
UNSETTLED = {Phase.DISCARD, Phase.SETTLING, Phase.VERIFY}


@contextlib.contextmanager
def service_clock(monkeypatch: pytest.MonkeyPatch, **env: str) -> Iterator[StepClock]:
    """The service's own clock, moved by the test, under the settings `env` (the API and
    the workers read it through runtime.services(); put back when the block ends)."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    runtime.reset()
    moved = StepClock(datetime.now(UTC).replace(microsecond=0))
    services = dataclasses.replace(runtime.services(), clock=moved)
    monkeypatch.setattr(runtime, "services", lambda: services)
    yield moved
    monkeypatch.undo()  # runtime.services itself again, then its cache forgotten
    runtime.reset()


def later() -> Any:
    """A clock reading past the point where any watched job counts as stale."""
    return utcnow() + timedelta(seconds=runtime.services().settings.stale_after_s + 1)


def run_until_settled(api: Api, pump: Pump, job_id: str, rounds: int = 12) -> dict[str, Any]:
    """Drains the queues; when the job stalls (its continuation was lost), lets the
    sweeper rescue it, as its schedule would. Returns the job once nothing is left."""
    for _ in range(rounds):
        pump.drain()
        job = api.job(job_id)
        if job["status"] in FINAL and Job.get(job_id).checkpoint.phase not in UNSETTLED:
            return job
        sweeper.sweep(runtime.services(), later())
    raise AssertionError(f"job {job_id} never settled: {api.job(job_id)}")


def stored_lines(generation: str) -> list[Line]:
    """Every line stored under a generation, on any key it could have used (however many
    shards the generation chose, at most LINE_SHARDS), in line-number order."""
    shards = runtime.services().settings.line_shards
    found = [
        line
        for partition in line_partitions(generation, shards)
        for line in Line.query(partition, consistent_read=True)
    ]
    return sorted(found, key=lambda line: int(line.line_no))


def count_lines(generation: str) -> int:
    return len(stored_lines(generation))


def stored_line_numbers(job_id: str, lote_id: str = "ICBCVC2404") -> list[int]:
    return [int(line.line_no) for line in stored_lines(generation_key("acme", lote_id, job_id))]


def lose_messages(queue_url: str) -> int:
    """Deletes whatever is waiting in a queue, as a lost message would be."""
    sqs = sqs_client()
    lost = 0
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages"):
        for message in batch:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            lost += 1
    return lost


def assert_no_secret(text: str, *secrets: str) -> None:
    """`text` (logs, a response) holds no card number and none of `secrets`."""
    assert text, "nothing was captured: the capture is broken"
    assert card_numbers(text) == [], card_numbers(text)[:3]
    for secret in secrets:
        assert secret not in text
