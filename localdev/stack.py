"""The local stack: moto server as AWS, the Chalice API on 127.0.0.1, and the SQS pump.

    python -m localdev.stack        (what `make run` starts)

Two processes: moto in server mode in its own (so browsers and the CLI reach S3 over
HTTP; it is the stack's heaviest CPU user and would otherwise hold the GIL against the
rest), and this one: the resources the service expects, Chalice's local server for the
routes, and a pump thread that feeds SQS messages to the same Lambda handlers with a
real time budget. The data lives in moto's memory: a stopped stack forgets it.
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import boto3

from localdev.resources import NOTIFY_QUEUE, UPLOAD_QUEUE, WORK_QUEUE, QueueUrls, queue_url
from localdev.tokens import DEV_JWT_SECRET, issue_local_token

API_PORT = 8000
AWS_PORT = 4566
DEV_USER = "dev"
DEV_TENANT = "demo"
# The dev user's address: job e-mails (notifyEmail) land in moto's SES.
DEV_EMAIL = "dev@demo.local"
REGION = "us-east-1"


@dataclass
class Stack:
    """A running local stack; `stop()` shuts it down."""

    api_url: str
    aws_url: str
    dev_token: str
    queues: QueueUrls
    _stop: threading.Event
    _threads: list[threading.Thread]
    _moto: MotoProcess
    _http: object

    def stop(self) -> None:
        self._stop.set()
        self._http.shutdown()  # type: ignore[attr-defined]
        self._moto.stop()
        # No join: the pump may be in the middle of a worker invocation, and its thread,
        # like the others, is a daemon that ends with the process.


class MotoProcess:
    """moto server on 127.0.0.1:`port`, ended with the stack (or its parent)."""

    def __init__(self, port: int, timeout_s: float = 60) -> None:
        self._process = subprocess.Popen(
            # moto server, answering each Query from its partition (localdev/moto_speedups.py)
            [sys.executable, "-m", "localdev.moto_speedups", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + timeout_s
        while not _answers(port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"moto server did not start on port {port}")
            time.sleep(0.1)

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()


def _die_with_parent() -> None:
    # Linux: the kernel sends the child SIGTERM when the stack's process dies, however.
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _answers(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


class PortInUse(SystemExit):
    """Another process (often an earlier stack) holds a port the stack needs."""


def _require_free(port: int) -> None:
    with socket.socket() as probe:
        # As the servers bind: a port whose last connections are in TIME_WAIT (a stack
        # stopped a moment ago) is free to them, and must be to this probe too.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise PortInUse(
                f"Port {port} is in use (an earlier stack still running?). Stop it, or "
                "pick other ports with --api-port/--aws-port."
            ) from exc


def local_environment(aws_url: str, budget_margin_ms: int = 2_000) -> dict[str, str]:
    """The environment the app reads, pointed at the emulator."""
    return {
        "AWS_ENDPOINT_URL": aws_url,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "JOBS_TABLE": "dkt-jobs",
        "LOTES_TABLE": "dkt-lotes",
        "LINES_TABLE": "dkt-lines",
        "ERRORS_TABLE": "dkt-line-errors",
        "RULES_TABLE": "dkt-rules",
        "IDEMPOTENCY_TABLE": "dkt-idempotency",
        "UPLOAD_BUCKET": "dkt-uploads-local",
        "WORK_QUEUE_URL": queue_url(REGION, WORK_QUEUE, endpoint=aws_url),
        "UPLOAD_QUEUE_NAME": UPLOAD_QUEUE,
        "WORK_QUEUE_NAME": WORK_QUEUE,
        "NOTIFY_QUEUE_NAME": NOTIFY_QUEUE,
        "NOTIFY_QUEUE_URL": queue_url(REGION, NOTIFY_QUEUE, endpoint=aws_url),
        "EVENT_BUS_NAME": "dkt-jobs-local",
        # Webhooks can be tried against a receiver on this machine (http://127.0.0.1:...).
        "WEBHOOK_SECRET": "local-webhook-secret",
        "ALLOW_LOOPBACK_CALLBACKS": "true",
        # Job e-mails go to moto's SES (the stack's /moto-api shows what was sent).
        "EMAIL_SENDER": "avisos@dkt-jobs.local",
        "CARD_HASH_KEY": "local-card-hash-key",
        "AUTH_MODE": "local",
        "LOCAL_JWT_SECRET": DEV_JWT_SECRET,
        "SAFETY_MARGIN_MS": str(budget_margin_ms),
        # The local worker's budget is seconds, not minutes: rescue sooner.
        "STALE_AFTER_S": "120",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
    }


def start(
    api_port: int = API_PORT, aws_port: int = AWS_PORT, budget_ms: int = 15_000, workers: int = 3
) -> Stack:
    """Starts everything and returns once the API answers.

    `workers` pump threads deliver messages at once, as several Lambda workers would:
    while one waits on moto's process, another runs."""
    for port in (api_port, aws_port):
        _require_free(port)
    aws_url = f"http://127.0.0.1:{aws_port}"
    moto = MotoProcess(aws_port)
    os.environ.update(local_environment(aws_url))

    # Imported only now: the app's handlers read their queue names from the environment.
    from chalice.config import Config

    import app as app_module
    from chalicelib import runtime
    from chalicelib.core.settings import get_settings
    from localdev.gateway import local_server
    from localdev.pump import Pump, Route
    from localdev.resources import create_resources

    runtime.reset()
    queues = create_resources(get_settings(), visibility_s=max(30, 6 * budget_ms // 1000))
    runtime.reset()

    config = Config.create(chalice_stage="local", app_name="dkt-jobs", chalice_app=app_module.app)
    http = local_server(app_module.app, config, "127.0.0.1", api_port)
    stop = threading.Event()
    pump = Pump(
        boto3.client("sqs", region_name=REGION),
        [
            Route(UPLOAD_QUEUE, queues.uploads, app_module.handle_upload, "handle_upload"),
            Route(WORK_QUEUE, queues.work, app_module.process_work, "process_work"),
            Route(f"{WORK_QUEUE}-dlq", queues.work_dlq, app_module.handle_dead_letter, "dlq"),
            Route(NOTIFY_QUEUE, queues.notify, app_module.notify_job_finished, "notify"),
        ],
        budget_ms=budget_ms,
        region=REGION,
    )
    threads = [
        threading.Thread(target=http.serve_forever, name="api", daemon=True),
        *(
            threading.Thread(target=pump.run_forever, args=(stop,), name=f"pump-{n}", daemon=True)
            for n in range(workers)
        ),
        threading.Thread(target=_sweep_every, args=(60, stop), name="sweeper", daemon=True),
    ]
    for thread in threads:
        thread.start()
    return Stack(
        api_url=f"http://127.0.0.1:{api_port}",
        aws_url=aws_url,
        dev_token=issue_local_token(DEV_USER, DEV_TENANT, email=DEV_EMAIL),
        queues=queues,
        _stop=stop,
        _threads=threads,
        _moto=moto,
        _http=http,
    )


def _sweep_every(interval_s: float, stop: threading.Event) -> None:
    """The EventBridge schedule of the deployed app, as a thread."""
    from chalicelib import runtime
    from chalicelib.core.clock import utcnow
    from chalicelib.engine import sweeper

    while not stop.wait(interval_s):
        try:
            report = sweeper.sweep(runtime.services(), utcnow())
            logging.getLogger(__name__).info("sweep: %s", report)
        except Exception:
            logging.getLogger(__name__).exception("sweep failed")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the DKT import service locally.")
    env = os.environ
    parser.add_argument("--api-port", type=int, default=int(env.get("DKT_API_PORT", API_PORT)))
    parser.add_argument("--aws-port", type=int, default=int(env.get("DKT_AWS_PORT", AWS_PORT)))
    parser.add_argument(
        "--budget-ms", type=int, default=15_000, help="time budget of each worker invocation"
    )
    parser.add_argument(
        "--workers", type=int, default=3, help="worker invocations running at once (pump threads)"
    )
    parser.add_argument(
        "--verbose", action="store_true", help="log every delivery of the pump and the sweeps"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(threadName)s %(name)s: %(message)s"
    )
    if args.verbose:
        logging.getLogger("localdev").setLevel(logging.INFO)
    for noisy in ("werkzeug", "moto"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    stack = start(args.api_port, args.aws_port, args.budget_ms, args.workers)
    print(f"DKT import service running.\n  API:       {stack.api_url}")
    print(f"  AWS (moto): {stack.aws_url}")
    print(f"  Dev token (user {DEV_USER}, tenant {DEV_TENANT}):\n{stack.dev_token}\n")
    print(f"Try: .venv/bin/dkt-jobs import FILE --tarjeta ICBCVC --follow --api {stack.api_url}")
    print("Ctrl-C to stop.", flush=True)
    done = threading.Event()
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda *_: done.set())
    try:
        done.wait()
    finally:
        # Shut down cleanly if that is quick; either way exit: a stuck emulator thread
        # must never keep an old stack holding its ports.
        stopper = threading.Thread(target=stack.stop, daemon=True)
        stopper.start()
        stopper.join(timeout=5)
        sys.stdout.flush()
        os._exit(0)


if __name__ == "__main__":
    main()
