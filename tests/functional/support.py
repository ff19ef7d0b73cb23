"""Helpers for functional tests: the API as one user sees it, uploads, the pump."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import boto3
import requests
from chalice.test import Client

import app as app_module
from chalicelib import runtime
from chalicelib.core.clock import utcnow
from chalicelib.core.models import Job, Line, Phase, generation_key
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
    routes = [
        Route("dkt-jobs-uploads", urls.uploads, app_module.handle_upload, "handle_upload"),
        Route("dkt-jobs-work", urls.work, app_module.process_work, "process_work"),
        Route("dkt-jobs-work-dlq", urls.work_dlq, app_module.handle_dead_letter, "dead_letter"),
    ]
    return Pump(boto3.client("sqs"), routes, budget_ms, "us-east-1", on_invocation, clock)


def import_file(api: Api, pump: Pump, data: bytes, **fields: Any) -> dict[str, Any]:
    """Create -> upload -> drain the queues; returns the job as the API shows it at the end."""
    created = api.create_import(size=len(data), **fields)
    assert created.status_code == 201, created.body
    upload(created.json_body["upload"], data)
    pump.drain()
    return api.job(created.json_body["job"]["id"])


# --- driving imports to the end, as SQS and the sweeper would -----------------------------

LINES = 500
FINAL = {"COMPLETED", "FAILED", "CANCELLED"}
# Final, but with staged lines still being removed (or waiting for the last pass).
UNSETTLED = {Phase.DISCARD, Phase.SETTLING, Phase.VERIFY}


def later() -> Any:
    """A clock reading past the point where any watched job counts as stale."""
    return utcnow() + timedelta(seconds=runtime.services().settings.stale_after_s + 1)


def start_import(api: Api, data: bytes) -> str:
    created = api.create_import(size=len(data))
    upload(created.json_body["upload"], data)
    return str(created.json_body["job"]["id"])


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


def stored_line_numbers(job_id: str, lote_id: str = "ICBCVC2404") -> list[int]:
    return [int(line.line_no) for line in Line.query(generation_key("acme", lote_id, job_id))]


def lose_messages(queue_url: str) -> int:
    """Deletes whatever is waiting in a queue, as a lost message would be."""
    sqs = boto3.client("sqs")
    lost = 0
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages"):
        for message in batch:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            lost += 1
    return lost


def small_budget_pump(aws: QueueUrls) -> Pump:
    # About one chunk per invocation: every chunk boundary is also an invocation boundary.
    return make_pump(aws, budget_ms=350)
