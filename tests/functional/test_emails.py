"""The e-mail a user asks for when a job ends: one, to their own address, in moto's SES
(issue 14, item 1)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import jwt
import pytest
from moto.ses.models import ses_backends
from support import TEST_SECRET, Api, import_file, start_import

from chalicelib import runtime
from localdev.dktgen import generate_bytes
from localdev.pump import Pump
from localdev.resources import QueueUrls, route_job_events, unroute_job_events
from localdev.tokens import issue_local_token

BUS = "dkt-test-email-bus"
SENDER = "avisos@dkt-jobs.test"
ANA = "ana@acme.example"


@pytest.fixture
def emails_on(aws: QueueUrls, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """The deployed wiring: events to the notify queue, a verified SES sender; yields what
    moto's SES has sent."""
    monkeypatch.setenv("EVENT_BUS_NAME", BUS)
    monkeypatch.setenv("EMAIL_SENDER", SENDER)
    route_job_events(BUS, aws.notify, "us-east-1")
    boto3.client("sesv2").create_email_identity(EmailIdentity=SENDER)
    sent = ses_backends["123456789012"]["us-east-1"].sent_messages
    sent.clear()
    runtime.reset()
    yield sent
    unroute_job_events(BUS, "us-east-1")
    runtime.reset()


@pytest.fixture
def ana(api: Api) -> Api:
    """Ana, whose token carries her verified address."""
    return Api(api.client, issue_local_token("ana", "acme", secret=TEST_SECRET, email=ANA))


def test_a_finished_import_sends_one_e_mail_to_its_user(
    ana: Api, pump: Pump, emails_on: list[Any]
) -> None:
    job = import_file(ana, pump, generate_bytes(120, seed=601), notifyEmail=True)

    assert job["status"] == "COMPLETED"
    [email] = emails_on
    assert email.destinations == {"ToAddresses": [ANA]}
    assert email.source == SENDER
    assert email.subject == "Importación completa: abril.dkt"
    assert "Importación completa: 120 registros en el lote ICBCVC2404." in email.body
    assert "Líneas: 120 de 120" in email.body


def test_a_repeated_event_is_not_a_second_e_mail(
    ana: Api, aws: QueueUrls, pump: Pump, emails_on: list[Any]
) -> None:
    start_import(ana, generate_bytes(40, seed=602), notifyEmail=True)
    pump.drain(only="dkt-jobs-uploads")
    pump.drain(only="dkt-jobs-work")
    sqs = boto3.client("sqs")
    [event] = sqs.receive_message(QueueUrl=aws.notify, MaxNumberOfMessages=10)["Messages"]
    sqs.send_message(QueueUrl=aws.notify, MessageBody=event["Body"])  # at-least-once delivery
    sqs.change_message_visibility(
        QueueUrl=aws.notify, ReceiptHandle=event["ReceiptHandle"], VisibilityTimeout=0
    )

    pump.drain()

    assert len(emails_on) == 1


def test_a_failed_import_says_why_and_each_attempt_that_ends_is_told(
    ana: Api, pump: Pump, emails_on: list[Any]
) -> None:
    data = generate_bytes(30, seed=603)
    first = import_file(ana, pump, data, notifyEmail=True)
    exists = import_file(ana, pump, generate_bytes(20, seed=604), notifyEmail=True)
    assert exists["error"]["code"] == "LOTE_EXISTS"

    assert ana.post(f"/api/jobs/{exists['id']}/retry", {"replace": True}).status_code == 202
    pump.drain()

    subjects = [email.subject for email in emails_on]
    assert subjects == [
        "Importación completa: abril.dkt",
        "Importación con error: abril.dkt",
        "Importación completa: abril.dkt",  # the retry, replacing the lote
    ]
    assert "Error: LOTE_EXISTS" in emails_on[1].body
    assert first["status"] == "COMPLETED"


def test_without_asking_no_e_mail_is_sent(ana: Api, pump: Pump, emails_on: list[Any]) -> None:
    import_file(ana, pump, generate_bytes(10, seed=605))

    assert emails_on == []


def test_an_address_the_token_does_not_say_is_verified_is_not_written_to(
    api: Api, emails_on: list[Any]
) -> None:
    claims = {"sub": "eva", "tenant": "acme", "iss": "dkt-jobs-local", "aud": "dkt-jobs"}
    unverified = {**claims, "email": "eva@acme.example", "exp": int(time.time()) + 600}
    token = jwt.encode(unverified, TEST_SECRET, algorithm="HS256")

    response = Api(api.client, token).create_import(size=10, notifyEmail=True)

    assert response.status_code == 400
    assert "verificada" in response.json_body["message"]


def test_asking_without_an_address_or_where_e_mails_are_off_is_a_400(
    api: Api, ana: Api, monkeypatch: pytest.MonkeyPatch, emails_on: list[Any]
) -> None:
    no_address = api.create_import(size=10, notifyEmail=True)  # a token without e-mail
    assert no_address.status_code == 400
    assert "dirección de e-mail" in no_address.json_body["message"]

    monkeypatch.delenv("EMAIL_SENDER")
    runtime.reset()
    off = ana.create_import(size=10, notifyEmail=True)
    assert off.status_code == 400
    assert "no están habilitados" in off.json_body["message"]
    assert ana.get("/api/jobs").json_body["jobs"] == []
