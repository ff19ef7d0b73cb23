"""Told when it is done, away from the page: the job's callbackUrl is called once it ends,
signed, retried with backoff, and never to an address inside the network."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from support import Api, import_file

from chalicelib import runtime
from chalicelib.adapters import webhooks
from localdev.dktgen import generate_bytes
from localdev.pump import Pump
from localdev.resources import QueueUrls, route_job_events, unroute_job_events

SECRET = b"the-tenant-webhook-secret"
BUS = "dkt-test-webhook-bus"


@dataclass
class Receiver:
    """An ERP's endpoint on this machine: records every call, answers `statuses` in turn
    (then 200)."""

    statuses: list[int] = field(default_factory=list)
    calls: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.calls]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            found.calls.append((dict(self.headers), body))
            self.send_response(found.statuses.pop(0) if found.statuses else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    found.url = f"http://127.0.0.1:{server.server_address[1]}/avisos/dkt?origen=prueba"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield found
    server.shutdown()
    server.server_close()


@pytest.fixture
def webhooks_on(aws: QueueUrls, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The deployed wiring: the bus, its rule to the notifier's queue, a signing secret;
    loopback allowed (as under `make run`) so that the receiver can be on this machine;
    retries without waiting."""
    monkeypatch.setenv("EVENT_BUS_NAME", BUS)
    monkeypatch.setenv("WEBHOOK_SECRET", SECRET.decode())
    monkeypatch.setenv("ALLOW_LOOPBACK_CALLBACKS", "true")
    monkeypatch.setenv("WEBHOOK_RETRY_BASE_S", "0")
    route_job_events(BUS, aws.notify, "us-east-1")
    runtime.reset()
    yield
    unroute_job_events(BUS, "us-east-1")
    runtime.reset()


def assert_signed(headers: dict[str, str], body: bytes) -> None:
    assert webhooks.verify(SECRET, headers[webhooks.SIGNATURE_HEADER], body)
    assert not webhooks.verify(b"another secret", headers[webhooks.SIGNATURE_HEADER], body)


def callback_of(api: Api, job: dict[str, Any]) -> Any:
    return api.job(job["id"])["callback"]


@pytest.mark.usefixtures("webhooks_on")
def test_a_finished_import_calls_its_webhook_once_signed(
    api: Api, pump: Pump, receiver: Receiver
) -> None:
    job = import_file(api, pump, generate_bytes(30, seed=71), callbackUrl=receiver.url)

    [(headers, body)] = receiver.calls
    assert_signed(headers, body)
    call = json.loads(body)
    assert call["type"] == "JobFinished"
    assert headers[webhooks.EVENT_ID_HEADER] == call["id"]
    data = call["data"]
    assert (data["jobId"], data["status"], data["loteId"]) == (job["id"], "COMPLETED", "ICBCVC2404")
    assert data["processedItems"] == 30
    assert "4111" not in body.decode()
    # the user sees that the ERP was told
    assert api.job(job["id"])["callback"] == {
        "status": "DELIVERED",
        "attempts": 1,
        "httpStatus": 200,
    }


@pytest.mark.usefixtures("webhooks_on")
def test_a_failing_receiver_is_called_again_with_the_same_event(
    api: Api, pump: Pump, receiver: Receiver
) -> None:
    receiver.statuses = [500, 503]
    job = import_file(api, pump, generate_bytes(10, seed=72), callbackUrl=receiver.url)

    assert len(receiver.calls) == 3
    bodies = {body for _, body in receiver.calls}
    assert len(bodies) == 1  # the same event: a receiver that saw it can ignore it
    assert len({headers[webhooks.EVENT_ID_HEADER] for headers, _ in receiver.calls}) == 1
    for headers, body in receiver.calls:
        assert_signed(headers, body)
    assert api.job(job["id"])["callback"] == {
        "status": "DELIVERED",
        "attempts": 3,
        "httpStatus": 200,
    }


@pytest.mark.usefixtures("webhooks_on")
def test_a_receiver_that_never_answers_is_given_up_after_the_attempts(
    api: Api, pump: Pump, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_ATTEMPTS", "3")
    runtime.reset()
    receiver.statuses = [500] * 10
    job = import_file(api, pump, b"no es un archivo DKT\n", callbackUrl=receiver.url)

    assert len(receiver.calls) == 3
    assert receiver.bodies()[0]["data"]["errorCode"] == "NO_VALID_LINES"
    assert callback_of(api, job) == {"status": "FAILED", "attempts": 3, "httpStatus": 500}


@pytest.mark.usefixtures("webhooks_on")
def test_a_job_without_a_callback_calls_nothing(api: Api, pump: Pump, receiver: Receiver) -> None:
    job = import_file(api, pump, generate_bytes(5, seed=73))
    assert receiver.calls == []
    assert api.job(job["id"])["callback"] is None


@pytest.mark.parametrize(
    "url",
    [
        "http://erp.empresa.com/avisos",  # not https
        "https://10.1.2.3/avisos",  # inside the network
        "https://169.254.169.254/latest/meta-data",  # the metadata endpoint
        "https://127.0.0.1:9000/",  # loopback, outside `make run`
        "https://localhost/",
        "https://[::ffff:10.0.0.1]/",
        "https://usuario:clave@erp.empresa.com/",
        "ftp://erp.empresa.com/",
        "https:///sin-host",
    ],
)
def test_a_callback_the_service_would_not_call_is_refused_at_create(
    api: Api, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("WEBHOOK_SECRET", SECRET.decode())
    runtime.reset()
    response = api.create_import(size=100, callbackUrl=url)
    assert response.status_code == 400
    assert response.json_body["code"] == "INVALID_REQUEST"
    assert "https pública" in response.json_body["message"]
    assert api.get("/api/jobs").json_body["jobs"] == []


def test_a_callback_where_webhooks_are_not_set_up_is_refused(api: Api) -> None:
    response = api.create_import(size=100, callbackUrl="https://erp.empresa.com/avisos")
    assert response.status_code == 400
    assert "no están habilitados" in response.json_body["message"]


@pytest.mark.usefixtures("webhooks_on")
def test_deployed_the_secret_comes_from_its_ssm_parameter(
    api: Api, pump: Pump, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    boto3.client("ssm").put_parameter(
        Name="/stack/webhook-secret", Value="from-ssm", Type="SecureString", Overwrite=True
    )
    monkeypatch.delenv("WEBHOOK_SECRET")
    monkeypatch.setenv("WEBHOOK_SECRET_PARAMETER", "/stack/webhook-secret")
    runtime.reset()
    import_file(api, pump, generate_bytes(5, seed=74), callbackUrl=receiver.url)
    [(headers, body)] = receiver.calls
    assert webhooks.verify(b"from-ssm", headers[webhooks.SIGNATURE_HEADER], body)
