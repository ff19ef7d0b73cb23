"""`make load`: importers and status pollers against the local stack (loopback only).

Started by load/run.py, which starts the stack, prepares the file and the tokens and
passes them in DKT_LOAD_CONFIG (a JSON file); not meant to be run by hand, but it can
be, against a running stack: see load/run.py for what the config holds.

- ImporterUser (LOAD_IMPORTERS of them, one user id each): creates one import
  (POST /api/jobs/dkt-import), uploads the file with the presigned POST form, follows
  its job every LOAD_POLL_S until it is final, then checks it: COMPLETED, processed and
  imported counts equal to the file's lines, nothing skipped, the totals per currency,
  and the lote's lineCount (as GET /api/lotes lists it).
- PollerUser (LOAD_POLLERS of them): each follows one importer's job with that
  importer's token, one GET /api/jobs/{id} every LOAD_POLL_S, as a browser tab does,
  and checks that progress and processedItems never go down.

When every import has ended the run stops itself; locust's --run-time is the upper
bound. The summary (exact percentiles of the status call, failures, per-import
checks) goes to DKT_LOAD_SUMMARY for run.py.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import time
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import gevent
from locust import FastHttpUser, HttpUser, constant, constant_pacing, events, task
from locust.exception import StopUser

CONFIG: dict[str, Any] = json.loads(Path(os.environ["DKT_LOAD_CONFIG"]).read_text())
SUMMARY_PATH = Path(os.environ.get("DKT_LOAD_SUMMARY", "build/load/summary.json"))
POLL_S = float(CONFIG["poll_s"])
LINES = int(CONFIG["lines"])
IMPORTERS: list[dict[str, str]] = CONFIG["importers"]
FILE_BYTES = Path(CONFIG["file"]).read_bytes()
FILE_NAME = Path(CONFIG["file"]).name
FINAL = {"COMPLETED", "FAILED", "CANCELLED"}
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

STATUS = "GET /api/jobs/{id}"
CREATE = "POST /api/jobs/dkt-import"
UPLOAD = "POST presigned upload (S3)"
LOTES = "GET /api/lotes"

# Shared by every user of this (single) locust process.
job_ids: dict[int, str] = {}  # importer index -> its job id
outcomes: dict[int, dict[str, Any]] = {}  # importer index -> what its import ended as
last_seen: dict[int, dict[str, Any]] = {}  # importer index -> its job as last polled
status_ms: list[float] = []  # every successful status call, for exact percentiles
anomalies: list[str] = []
_importer_numbers = itertools.count()
_poller_numbers = itertools.count()
_started_at = time.time()


def _require_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    if host not in LOOPBACK and not host.startswith("127."):
        raise SystemExit(f"refusing to load {url}: loopback addresses only")


def _why(response: Any) -> str:
    """A failed response as one line: its status and body, or the connection error."""
    if not response.status_code:
        return f"no response: {response.error!r}"[:300]
    return f"{response.status_code}: {(response.text or '')[:300]}"


def _auth(index: int) -> dict[str, str]:
    return {"Authorization": f"Bearer {IMPORTERS[index]['token']}"}


@events.request.add_listener
def _on_request(name: str, response_time: float, exception: Any, **_: Any) -> None:
    if name == STATUS and exception is None:
        status_ms.append(response_time)


@events.test_start.add_listener
def _on_test_start(environment: Any, **_: Any) -> None:
    _require_loopback(environment.host)
    gevent.spawn(_watch, environment)


def _watch(environment: Any) -> None:
    """Stops the run once every import has ended; prints progress every 30 s."""
    last_report = time.time()
    while len(outcomes) < len(IMPORTERS):
        gevent.sleep(1)
        if time.time() - last_report >= 30:
            last_report = time.time()
            done = sum(int(job.get("processedItems") or 0) for job in last_seen.values())
            statuses: dict[str, int] = {}
            for job in last_seen.values():
                statuses[job["status"]] = statuses.get(job["status"], 0) + 1
            elapsed = time.time() - _started_at
            print(
                f"[load] {elapsed:6.0f} s  lines {done:,}/{LINES * len(IMPORTERS):,}  "
                f"({done / elapsed:,.0f}/s)  jobs {statuses}  ended {len(outcomes)}  "
                f"status calls {len(status_ms):,}  failures {environment.stats.total.num_failures}",
                flush=True,
            )
    gevent.sleep(2 * POLL_S)  # a last round of polls of the final jobs
    environment.runner.quit()


def _percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


@events.quitting.add_listener
def _on_quitting(environment: Any, **_: Any) -> None:
    stats = environment.stats
    endpoints = {}
    for entry in stats.entries.values():
        endpoints[f"{entry.method} {entry.name}"] = {
            "requests": entry.num_requests,
            "failures": entry.num_failures,
            "avg_ms": round(entry.avg_response_time, 1),
            "p50_ms": entry.get_response_time_percentile(0.5),
            "p95_ms": entry.get_response_time_percentile(0.95),
            "p99_ms": entry.get_response_time_percentile(0.99),
            "max_ms": round(entry.max_response_time or 0, 1),
        }
    summary = {
        "status_call": {
            "name": STATUS,
            "samples": len(status_ms),
            "p50_ms": _percentile(status_ms, 0.50),
            "p95_ms": _percentile(status_ms, 0.95),
            "p99_ms": _percentile(status_ms, 0.99),
            "max_ms": max(status_ms) if status_ms else None,
        },
        "requests": stats.total.num_requests,
        "request_failures": stats.total.num_failures,
        "failures": [
            {
                "name": e.name,
                "method": e.method,
                "error": str(e.error),
                "occurrences": e.occurrences,
            }
            for e in stats.errors.values()
        ],
        "endpoints": endpoints,
        "imports": [outcomes.get(i, _unfinished(i)) for i in range(len(IMPORTERS))],
        "anomalies": anomalies,
        "locust_seconds": round(time.time() - _started_at, 1),
    }
    SUMMARY_PATH.parent.mkdir(parents=True, exist_ok=True)
    SUMMARY_PATH.write_text(json.dumps(summary, indent=2))


def _unfinished(index: int) -> dict[str, Any]:
    job = last_seen.get(index, {})
    return {
        "user": IMPORTERS[index]["user"],
        "jobId": job_ids.get(index),
        "status": job.get("status", "NOT STARTED"),
        "ok": False,
        "problems": ["did not end within the run time"],
        "processedItems": job.get("processedItems"),
    }


def _check(index: int, job: dict[str, Any], lote: dict[str, Any] | None) -> list[str]:
    """Everything a finished import must show, as a list of what is wrong."""
    problems = []
    result = job.get("result") or {}

    def expect(what: str, got: Any, want: Any) -> None:
        if got != want:
            problems.append(f"{what}: {got!r}, expected {want!r}")

    expect("status", job["status"], "COMPLETED")
    expect("progress", job["progress"], 100)
    expect("totalItems", job["totalItems"], LINES)
    expect("processedItems", job["processedItems"], LINES)
    expect("errorCount", job["errorCount"], 0)
    expect("result.linesImported", result.get("linesImported"), LINES)
    expect("result.linesSkipped", result.get("linesSkipped"), 0)
    expect("loteId", job.get("loteId"), f"{IMPORTERS[index]['codigo']}{CONFIG['periodo']}")
    totals = {k: Decimal(v) for k, v in (result.get("totals") or {}).items()}
    expect("result.totals", totals, {k: Decimal(v) for k, v in CONFIG["totals"].items()})
    if lote is None:
        problems.append("lote: not listed by GET /api/lotes")
    else:
        expect("lote.lineCount", lote.get("lineCount"), LINES)
        expect("lote.jobId", lote.get("jobId"), job["id"])
        expect("lote.status", lote.get("status"), "ACTIVE")
    return problems


class ImporterUser(HttpUser):
    """One user id, one import of the whole file, followed to the end."""

    fixed_count = len(IMPORTERS)
    wait_time = constant(0)

    def on_start(self) -> None:
        self.index = next(_importer_numbers)
        self.me = IMPORTERS[self.index]
        self.headers = _auth(self.index)
        self.finished = False

    @task
    def import_file(self) -> None:
        if self.finished:
            gevent.sleep(3600)
            return
        self.finished = True
        began = time.time()
        outcome: dict[str, Any] = {"user": self.me["user"], "codigo": self.me["codigo"]}
        try:
            outcome.update(self._import(began))
        except Exception as exc:
            outcome.update(ok=False, problems=[f"{type(exc).__name__}: {exc}"])
        outcome["clientSeconds"] = round(time.time() - began, 1)
        outcomes[self.index] = outcome

    def _import(self, began: float) -> dict[str, Any]:
        body = {
            "codigoTarjeta": self.me["codigo"],
            "filename": FILE_NAME,
            "size": len(FILE_BYTES),
            "skipInvalidLines": False,
            "replace": False,
            # Every importer sends the same file (to a lote of its own card code).
            "allowDuplicate": True,
        }
        with self.client.post(
            "/api/jobs/dkt-import",
            json=body,
            headers=self.headers,
            name=CREATE,
            timeout=60,
            catch_response=True,
        ) as response:
            if response.status_code != 201:
                response.failure(_why(response))
                return {"ok": False, "problems": [f"create: {response.status_code}"]}
            created = response.json()
        job_id = created["job"]["id"]
        job_ids[self.index] = job_id
        form = created["upload"]
        _require_loopback(form["url"])
        with self.client.post(
            form["url"],
            data=form["fields"],
            files={"file": (FILE_NAME, FILE_BYTES)},
            name=UPLOAD,
            timeout=300,
            catch_response=True,
        ) as response:
            if response.status_code not in (200, 201, 204):
                response.failure(_why(response))
                return {"ok": False, "jobId": job_id, "problems": ["upload refused"]}
        uploaded = time.time()
        job = self._follow(job_id)
        lote = self._lote(job.get("loteId"))
        problems = _check(self.index, job, lote)
        return {
            "ok": not problems,
            "problems": problems,
            "jobId": job_id,
            "status": job["status"],
            "processedItems": job["processedItems"],
            "linesImported": (job.get("result") or {}).get("linesImported"),
            "loteId": job.get("loteId"),
            "loteLineCount": None if lote is None else lote.get("lineCount"),
            "attempts": job.get("attempts"),
            "error": job.get("error"),
            "uploadSeconds": round(uploaded - began, 1),
            "createdAt": job.get("createdAt"),
            "startedAt": job.get("startedAt"),
            "completedAt": job.get("completedAt"),
        }

    def _lote(self, lote_id: str | None) -> dict[str, Any] | None:
        """The lote as GET /api/lotes lists it (lineCount and all).

        Not GET /api/lotes/{loteId}: its page of lines queries every line shard, and
        moto's Query reads the whole lines table each time (it has no per-partition
        index), so with a few hundred thousand lines in it that call takes minutes and
        starves the worker of the one process the local stack is."""
        if not lote_id:
            return None
        with self.client.get(
            "/api/lotes?limit=100",
            headers=self.headers,
            name=LOTES,
            timeout=60,
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(_why(response))
                return None
            listed = response.json()["lotes"]
        return next((lote for lote in listed if lote["loteId"] == lote_id), None)

    def _follow(self, job_id: str) -> dict[str, Any]:
        """Polls the job every POLL_S (never two in flight) until it is final."""
        while True:
            tick = time.time()
            with self.client.get(
                f"/api/jobs/{job_id}",
                headers=self.headers,
                name=STATUS,
                timeout=60,
                catch_response=True,
            ) as response:
                if response.status_code == 200:
                    job: dict[str, Any] = response.json()
                    last_seen[self.index] = job
                    if job["status"] in FINAL:
                        return job
                else:
                    response.failure(_why(response))
            gevent.sleep(max(0.0, POLL_S - (time.time() - tick)))


class PollerUser(FastHttpUser):
    """A browser tab following one import: GET /api/jobs/{id} every POLL_S."""

    fixed_count = int(CONFIG["pollers"])
    wait_time = constant_pacing(POLL_S)
    network_timeout = 60.0
    connection_timeout = 60.0

    def on_start(self) -> None:
        self.index = next(_poller_numbers) % len(IMPORTERS)
        self.headers = _auth(self.index)
        self.progress = -1
        self.processed = -1
        while self.index not in job_ids:  # its importer has not created its job yet
            if self.index in outcomes:  # ... and never will
                raise StopUser()
            gevent.sleep(0.5)
        self.job_id = job_ids[self.index]

    @task
    def poll(self) -> None:
        with self.client.get(
            f"/api/jobs/{self.job_id}",
            headers=self.headers,
            name=STATUS,
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(_why(response))
                return
            job = response.json()
            if job.get("id") != self.job_id:
                response.failure(f"asked for job {self.job_id}, got {job.get('id')}")
                return
        progress, processed = int(job["progress"]), int(job["processedItems"])
        if progress < self.progress or processed < self.processed:
            anomalies.append(
                f"job {self.job_id}: went back from {self.progress}% / {self.processed} "
                f"to {progress}% / {processed} ({job['status']})"
            )
        self.progress, self.processed = max(progress, self.progress), max(processed, self.processed)
        last_seen[self.index] = job
