"""Logs and metrics as an operator reads them: correlated, per job, once per invocation, clean."""

from __future__ import annotations

import io
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from chalice.local import LambdaContext, LambdaEventConverter, RouteMatcher
from chalice.test import Client
from faults import AwsTime, FaultInjector
from support import Api, import_file, make_pump, start_import, token_for, upload

import app as app_module
from chalicelib import runtime
from chalicelib.core.observability import logger
from localdev.dktgen import CARDHOLDERS, generate_bytes
from localdev.pump import Invocation
from localdev.resources import QueueUrls

LogLines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def log_lines() -> Iterator[LogLines]:
    """The service logger's JSON lines at INFO, as CloudWatch would receive them."""
    buffer = io.StringIO()
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous_stream = handler.setStream(buffer)
    previous_level = logger.log_level
    logger.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines() if line]
    logger.setLevel(previous_level)
    handler.setStream(previous_stream)


@pytest.fixture
def metrics_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """EMF published to stdout, as in Lambda (tests/environment.py disables it)."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")


def api_gateway_event(method: str, path: str, headers: dict[str, str], request_id: str) -> Any:
    """The proxy event API Gateway sends for one request (the local gateway sets no id)."""
    app = app_module.app
    converter = LambdaEventConverter(RouteMatcher(list(app.routes)), app.api.binary_types)
    event = converter.create_lambda_event(method=method, path=path, headers=headers)
    event["requestContext"]["requestId"] = request_id
    return event


def emf_documents(stdout: str) -> list[dict[str, Any]]:
    return [
        document
        for line in stdout.splitlines()
        if line.startswith("{") and "_aws" in (document := json.loads(line))
    ]


def test_http_request_lines_carry_api_gateway_request_id(api: Api, log_lines: LogLines) -> None:
    # GIVEN a request API Gateway delivered with its request id
    headers = {"authorization": f"Bearer {api.token}"}
    event = api_gateway_event("GET", "/api/jobs/missing-job", headers, "apigw-req-1")

    # WHEN the API function handles it, then another request arrives
    response = app_module.app(event, LambdaContext("api_handler", 512))
    api.get("/api/jobs/another-missing-job")

    # THEN the first request's lines carry that id, and the next request's lines do not
    assert response["statusCode"] == 404
    refused = [line for line in log_lines() if line["message"] == "request refused"]
    assert len(refused) == 2
    assert refused[0]["correlation_id"] == "apigw-req-1"
    assert refused[0]["function_name"] == "api_handler"
    # ... the local gateway sends no API Gateway id: the Lambda request id stands in
    assert refused[1]["correlation_id"] not in (None, "", "apigw-req-1")


def test_worker_lines_carry_the_job_and_user_and_nothing_leaks_to_the_next_request(
    api: Api, pump: Any, log_lines: LogLines
) -> None:
    # GIVEN an imported file
    job = import_file(api, pump, generate_bytes(200, seed=5))
    assert job["status"] == "COMPLETED"

    # WHEN a later request fails in the same process
    api.get("/api/jobs/missing-job")

    # THEN every line of the worker's deliveries names the job and its user
    lines = log_lines()
    worker = [line for line in lines if line.get("function_name") == "process_work"]
    assert {line["message"] for line in worker} >= {"job completed", "work message handled"}
    assert all(line["job_id"] == job["id"] for line in worker)
    assert all(line["user_id"] == "ana" for line in worker)
    assert all(line["correlation_id"] for line in worker)
    # ... and the next invocation starts from a clean log context
    refused = [line for line in lines if line["message"] == "request refused"]
    assert len(refused) == 1
    assert "job_id" not in refused[0]
    assert refused[0]["correlation_id"] not in {line["correlation_id"] for line in worker}


def test_event_handlers_invoked_by_the_chalice_client_are_correlated_too(
    api: Api, aws: QueueUrls, log_lines: LogLines, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a started import the sweeper will find stale (any silence counts), and a
    # message that is not a work message
    pump = make_pump(aws)
    start_import(api, generate_bytes(100, seed=8))
    pump.drain(only="dkt-jobs-uploads")
    monkeypatch.setenv("STALE_AFTER_S", "0")
    runtime.reset()

    # WHEN the schedule's event and the message are delivered by Chalice's test client
    with Client(app_module.app) as client:
        sweep = client.events.generate_cw_event("aws.events", "Scheduled Event", {}, [])
        junk = client.events.generate_sqs_event(["not json"], queue_name="dkt-jobs-work")
        client.lambda_.invoke("sweep_jobs", sweep)
        client.lambda_.invoke("process_work", junk)
        client.lambda_.invoke("process_work", junk)

    # THEN each line names its function and its invocation, a new one every time
    lines = log_lines()
    sweeps = [line for line in lines if line["message"] == "sweep"]
    dropped = [line for line in lines if line["message"].startswith("dropping a message")]
    assert [line["function_name"] for line in sweeps] == ["sweep_jobs"]
    assert [line["function_name"] for line in dropped] == ["process_work"] * 2
    ids = {line["correlation_id"] for line in sweeps + dropped}
    assert len(ids) == 3 and None not in ids


def test_import_publishes_worker_metrics_once_per_invocation(
    api: Api, aws: QueueUrls, metrics_on: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a 3,000-line file and a worker with a 1.2 s budget on a fixed cost model, so
    # the import takes several invocations
    lines = 3_000
    data = generate_bytes(lines, seed=11)
    created = api.create_import(size=len(data))
    clock = AwsTime(per_call=0.020)
    FaultInjector(clocks=[clock]).install()
    documents_by_invocation: list[tuple[str, list[dict[str, Any]]]] = []

    def collect(invocation: Invocation) -> None:
        documents_by_invocation.append((invocation.queue, emf_documents(capsys.readouterr().out)))

    pump = make_pump(aws, budget_ms=1_200, on_invocation=collect, clock=clock)
    capsys.readouterr()

    # WHEN the file is uploaded and the queues drain
    upload(created.json_body["upload"], data)
    pump.drain()

    # THEN each worker invocation published its metrics in one EMF document
    work = [documents for queue, documents in documents_by_invocation if queue == "dkt-jobs-work"]
    assert len(work) >= 3
    assert all(len(documents) == 1 for documents in work)
    documents = [document for invocation in work for document in invocation]
    for document in documents:
        assert document["JobType"] == "DKT_IMPORT"
        assert document["service"] == "dkt-jobs"
        directive = document["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == "DktJobs"
        assert ["JobType", "service"] in [sorted(dims) for dims in directive["Dimensions"]]
    # ... with the chunk metrics of every invocation, and the job's end once
    totals: Counter[str] = Counter()
    for document in documents:
        for name in ("ItemsProcessed", "Continuations", "JobsCompleted", "JobsFailed"):
            value = document.get(name, 0)
            totals[name] += sum(value) if isinstance(value, list) else value
    assert all("ChunkDuration" in document for document in documents)
    assert totals["ItemsProcessed"] >= lines
    assert totals["Continuations"] == len(work) - 1
    assert totals["JobsCompleted"] == 1
    assert totals["JobsFailed"] == 0


def test_no_card_number_or_token_in_logs_or_metrics(
    api: Api,
    pump: Any,
    metrics_on: None,
    log_lines: LogLines,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN a file with every test card of the generator, and a forged bearer token
    data = generate_bytes(300, seed=2)
    forged = token_for("ana")[:-4] + "AAAA"

    # WHEN it is imported and a request with the forged token is refused
    job = import_file(api, pump, data)
    refused = Api(api.client, forged).get(f"/api/jobs/{job['id']}")

    # THEN no card number and no token is in any log line or metric
    assert job["status"] == "COMPLETED"
    assert refused.status_code == 401
    logged = log_lines()
    assert any(line.get("job_id") == job["id"] for line in logged)
    published = capsys.readouterr().out + json.dumps(logged)
    pans = [pan for pan, _ in CARDHOLDERS if pan.encode() in data]
    assert pans
    for pan in pans:
        assert pan not in published
    assert api.token not in published and forged not in published
    # ... not even the signature part of a token
    assert api.token.split(".")[2] not in published and forged.split(".")[2] not in published
