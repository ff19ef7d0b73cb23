"""The real pipeline on in-process moto, with or without the AWS model, and its floor.

An import is driven as AWS drives it: the file lands in the bucket (moto sends the S3
notification to the uploads queue), and `localdev.pump` feeds the queues' messages to
the app's own Lambda handlers with a Lambda context whose clock is the model's. The
floor is the same lines' batch writes and nothing else, on the same backend and model.
"""

from __future__ import annotations

import functools
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import aws_model
from bench.aws_model import AwsModel, AwsParameters

ROOT = Path(__file__).resolve().parents[1]
TENANT, USER = "bench", "bench"
BATCH = 25


def setup_environment() -> None:
    """The tests' resource names and fake credentials; the service's default safety margin
    (the tests' 300 ms cap and whole-budget share are test settings, not what a deployment
    runs with)."""
    sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "functional")]
    from environment import TEST_ENV

    os.environ.update(TEST_ENV)
    for name in ("SAFETY_MARGIN_MS", "SAFETY_MARGIN_SHARE", "AWS_ENDPOINT_URL", "AWS_PROFILE"):
        os.environ.pop(name, None)


@dataclass
class Backend:
    """moto with the service's resources: in-process (emptied between runs), or a moto
    server in another process (`on_server`; each run imports its own lote)."""

    state: Any
    urls: Any
    raw: dict[str, Any]  # unhooked clients: the user's upload, the pump, reading back
    key_schemas: dict[str, str]

    @classmethod
    def start(cls) -> Backend:
        from moto_state import MotoState

        state = MotoState()
        urls = state.start()
        return cls(state, urls, *_clients_and_schemas())

    @classmethod
    def on_server(cls) -> Backend:
        """On the moto server AWS_ENDPOINT_URL points at (bench/moto_server.py)."""
        from chalicelib import runtime
        from chalicelib.core.settings import get_settings
        from localdev.resources import create_resources

        urls = create_resources(get_settings())
        runtime.reset()
        return cls(None, urls, *_clients_and_schemas())

    def empty(self) -> None:
        if self.state is not None:
            self.state.empty()

    def service_clients(self) -> list[Any]:
        """Every client the service sends requests with (built on first use, then kept)."""
        from chalicelib import runtime
        from chalicelib.adapters import aws
        from chalicelib.core.models import ALL_MODELS

        runtime.services()  # binds the models first: binding drops their clients
        clients = [aws.s3_client(), aws.sqs_client()]
        clients += [model._get_connection().connection.client for model in ALL_MODELS]
        unique = {id(client): client for client in clients}
        return list(unique.values())

    def model(self, mode: str, params: AwsParameters) -> AwsModel:
        return AwsModel(params, mode, self.key_schemas).install(self.service_clients())

    def lines_table(self) -> str:
        from chalicelib import runtime

        return runtime.services().settings.lines_table

    def stored_lines(self) -> list[dict[str, Any]]:
        table = self.lines_table()
        items: list[dict[str, Any]] = []
        for page in self.raw["dynamodb"].get_paginator("scan").paginate(TableName=table):
            items += page["Items"]
        return items


def _clients_and_schemas() -> tuple[dict[str, Any], dict[str, str]]:
    import boto3

    raw = {name: boto3.client(name) for name in ("dynamodb", "sqs", "s3")}
    schemas: dict[str, str] = {}
    for table in raw["dynamodb"].list_tables()["TableNames"]:
        keys = raw["dynamodb"].describe_table(TableName=table)["Table"]["KeySchema"]
        ordered = sorted(keys, key=lambda key: key["KeyType"])  # HASH before RANGE
        schemas[table] = ordered[0]["AttributeName"]
        schemas[f"{table}#keys"] = ",".join(key["AttributeName"] for key in ordered)
    return raw, schemas


def install_rules() -> None:
    from bench.rulesets import LOOKUPS, TWENTY_RULES
    from chalicelib.adapters.auth import Identity
    from chalicelib.stores import rule_sets

    rule_sets.replace_rules(Identity(USER, TENANT), TWENTY_RULES, LOOKUPS)


def upload(backend: Backend, lines: int, codigo: str) -> tuple[str, int]:
    """Creates the job as the API does and lands the file in the bucket as a browser's
    presigned POST would (through a client the model does not see). Returns (job, bytes)."""
    from chalicelib import runtime
    from chalicelib.adapters.auth import Identity
    from chalicelib.core.models import JobType
    from chalicelib.engine import lifecycle
    from localdev.dktgen import generate_bytes

    services = runtime.services()
    data = generate_bytes(lines, seed=1)
    owner = Identity(USER, TENANT)
    job_id = lifecycle.new_job_id(services.new_id)
    key = services.store.upload_key(owner.tenant_id, owner.user_id, job_id, "f.dkt")
    lifecycle.create(
        job_type=JobType.DKT_IMPORT,
        owner=owner,
        parameters={
            "codigoTarjeta": codigo,
            "filename": "f.dkt",
            "size": len(data),
            "skipInvalidLines": False,
            "replace": False,
            # The same generated file goes to several lotes of one tenant in a run.
            "allowDuplicate": True,
            "source": "upload",
        },
        message="Esperando el archivo...",
        ttl_days=services.settings.job_ttl_days,
        upload_key=key,
        job_id=job_id,
        clock=services.clock,
    )
    backend.raw["s3"].put_object(Bucket=services.settings.upload_bucket, Key=key, Body=data)
    return job_id, len(data)


@dataclass
class Run:
    """One import: how long it took and what it asked of AWS."""

    lines: int
    file_bytes: int
    seconds: float
    invocations: list[float]  # seconds each worker invocation took
    budget_s: float
    model: AwsModel | None
    job_id: str


def run_import(
    backend: Backend,
    lines: int,
    mode: str | None,
    params: AwsParameters | None = None,
    budget_ms: int = 300_000,
) -> Run:
    """An import of `lines` generated lines, from the upload notification to COMPLETED.
    mode: "projected", "measured" (the AWS model) or None (plain moto, wall clock)."""
    import app as app_module
    from chalicelib.core.models import Job
    from localdev.pump import Pump, Route

    codigo = f"B{random.randrange(10**6):06d}"
    job_id, size = upload(backend, lines, codigo)
    model = backend.model(mode, params or AwsParameters()) if mode else None
    clock = model.clock if model else aws_model.WallClock()
    routes = [
        Route("dkt-jobs-uploads", backend.urls.uploads, app_module.handle_upload, "handle_upload"),
        Route("dkt-jobs-work", backend.urls.work, app_module.process_work, "process_work"),
        Route(
            "dkt-jobs-work-dlq", backend.urls.work_dlq, app_module.handle_dead_letter, "dead_letter"
        ),
    ]
    durations: list[float] = []

    def on_invocation(invocation: Any) -> None:
        if invocation.queue == "dkt-jobs-work":
            durations.append((invocation.budget_ms - invocation.remaining_ms_at_end) / 1000)

    pump = Pump(backend.raw["sqs"], routes, budget_ms, "us-east-1", on_invocation, clock)
    started = clock.now()
    try:
        pump.drain()
    finally:
        if model:
            model.uninstall()
    seconds = clock.now() - started
    if model and {id(client) for client in backend.service_clients()} != model.client_ids:
        raise RuntimeError("the service built new AWS clients mid-run: requests went unmodelled")
    job = Job.get(job_id)
    if job.status != "COMPLETED":
        raise RuntimeError(f"bench import {job_id} ended {job.status}: {job.message}")
    return Run(lines, size, seconds, durations, budget_ms / 1000, model, job_id)


def run_floor(
    backend: Backend, items: list[dict[str, Any]], mode: str | None, params: Any
) -> float:
    """Seconds to write `items` with batch writes of 25, `write_concurrency` in flight, by
    the service's own code below its serialization: `_run_bounded` (which the model lays
    on lanes in a projected run, through `_start_bounded`) over `_write_batch` (its
    retries and backoff)."""
    from chalicelib import runtime
    from chalicelib.adapters import dynamo
    from chalicelib.core.models import Line

    model = backend.model(mode, params or AwsParameters()) if mode else None
    clock = model.clock if model else aws_model.WallClock()
    write = functools.partial(
        dynamo._write_batch,
        Line._get_connection(),
        backend.lines_table(),
        max_attempts=30,
        base_delay_s=dynamo.BASE_DELAY_S,
        max_delay_s=dynamo.MAX_DELAY_S,
        sleep=time.sleep,  # the model's, in a projected run
    )
    tasks = [
        functools.partial(write, [{"PutRequest": {"Item": item}} for item in items[i : i + BATCH]])
        for i in range(0, len(items), BATCH)
    ]
    started = clock.now()
    try:
        dynamo._run_bounded(tasks, runtime.services().settings.write_concurrency)
    finally:
        if model:
            model.uninstall()
    return clock.now() - started
