"""Webhook signing and the addresses a callback may reach."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from chalicelib.adapters import webhooks
from chalicelib.engine.notifier import MAX_DELAY_S, parse, retry_delay

SECRET = b"secret"


def test_a_signature_verifies_only_for_its_body_secret_and_time() -> None:
    body = b'{"id":"e1"}'
    header = webhooks.signature(SECRET, 1_800_000_000, body)
    assert webhooks.verify(SECRET, header, body, now=1_800_000_010)
    assert not webhooks.verify(SECRET, header, body + b" ", now=1_800_000_010)
    assert not webhooks.verify(b"other", header, body, now=1_800_000_010)
    # a captured call replayed later than the tolerance is refused
    assert not webhooks.verify(SECRET, header, body, now=1_800_000_000 + 301)
    assert not webhooks.verify(SECRET, "v1=abc", body)


@pytest.mark.parametrize(
    "url",
    ["https://erp.empresa.com/avisos", "https://erp.empresa.com:8443/a?b=c", "https://8.8.8.8/"],
)
def test_public_https_urls_pass_the_static_check(url: str) -> None:
    webhooks.check_url(url, allow_loopback=False)


def test_loopback_over_http_passes_only_where_allowed() -> None:
    webhooks.check_url("http://127.0.0.1:8080/x", allow_loopback=True)
    with pytest.raises(webhooks.UnsafeCallback):
        webhooks.check_url("http://127.0.0.1:8080/x", allow_loopback=False)
    with pytest.raises(webhooks.UnsafeCallback):  # allowed loopback is not any http
        webhooks.check_url("http://erp.empresa.com/", allow_loopback=True)


@pytest.mark.parametrize(
    "address", ["10.0.0.7", "192.168.1.1", "169.254.169.254", "100.64.0.1", "::1"]
)
def test_a_name_that_resolves_inside_the_network_is_refused_at_call_time(
    monkeypatch: pytest.MonkeyPatch, address: str
) -> None:
    # DNS is the outside world here: the name is public, its answer is not
    def resolve(host: str, port: int, **_: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    delivery = webhooks.post(
        "https://erp.empresa.com/avisos",
        b"{}",
        secret=SECRET,
        event_id="e1",
        allow_loopback=False,
        timeout_s=1,
    )
    assert not delivery.ok and delivery.status is None
    assert "not a public address" in (delivery.error or "")


def test_retries_back_off_and_stay_within_the_longest_sqs_delay() -> None:
    assert [retry_delay(30, n) for n in range(1, 7)] == [30, 60, 120, 240, 480, MAX_DELAY_S]


def test_the_notifier_reads_bus_events_and_its_own_retries_only() -> None:
    event = '{"id": "e1", "detail-type": "JobFinished", "detail": {"jobId": "j1"}}'
    call = parse(event)
    assert call is not None and (call.event_id, call.attempt) == ("e1", 1)
    retry = parse(call.model_copy(update={"attempt": 2}).to_json())
    assert retry is not None and (retry.event_id, retry.attempt, retry.detail) == (
        "e1",
        2,
        {"jobId": "j1"},
    )
    assert parse('{"detail-type": "Other"}') is None
    assert parse("not json") is None
