"""The work message on the wire: the same JSON as always, and nothing else gets in."""

from __future__ import annotations

import json

import pytest

from chalicelib.engine.messaging import MAX_JOB_ID_LENGTH, MalformedMessage, WorkMessage

WIRE = '{"jobId": "ckx1", "attempt": 2, "seq": 7, "byteOffset": 4096, "lineNo": 31}'


def test_a_message_goes_on_the_wire_as_it_always_did() -> None:
    message = WorkMessage(job_id="ckx1", attempt=2, seq=7, byte_offset=4096, line_no=31)
    assert message.to_json() == WIRE


def test_a_message_read_back_equals_the_one_sent() -> None:
    message = WorkMessage.from_json(WIRE)
    assert message == WorkMessage(job_id="ckx1", attempt=2, seq=7, byte_offset=4096, line_no=31)
    assert WorkMessage.from_json(message.to_json()) == message


def test_where_the_sender_left_the_job_defaults_to_the_start() -> None:
    message = WorkMessage.from_json('{"jobId": "ckx1", "attempt": 0, "seq": 0}')
    assert (message.byte_offset, message.line_no) == (0, 0)


def test_keys_it_does_not_know_are_ignored() -> None:
    message = WorkMessage.from_json('{"jobId": "ckx1", "attempt": 0, "seq": 1, "trace": "x"}')
    assert message.seq == 1


def test_a_message_cannot_be_changed_once_made() -> None:
    message = WorkMessage.from_json(WIRE)
    with pytest.raises(ValueError):
        message.seq = 8  # type: ignore[misc]


def _with(**changes: object) -> str:
    body: dict[str, object] = json.loads(WIRE)
    body.update(changes)
    return json.dumps({key: value for key, value in body.items() if value is not ...})


@pytest.mark.parametrize(
    "body",
    [
        "",
        "not json",
        "[]",
        '"a string"',
        "{}",
        _with(jobId=...),
        _with(attempt=...),
        _with(seq=...),
        _with(jobId=17),
        _with(jobId=""),
        _with(jobId="x" * (MAX_JOB_ID_LENGTH + 1)),
        _with(attempt=-1),
        _with(seq="7"),
        _with(seq=7.0),
        _with(attempt=True),
        _with(byteOffset=None),
        _with(lineNo=-3),
        _with(seq=2**64),
    ],
)
def test_anything_but_a_work_message_is_malformed(body: str) -> None:
    with pytest.raises(MalformedMessage):
        WorkMessage.from_json(body)


def test_a_malformed_message_names_the_fields_not_their_values() -> None:
    with pytest.raises(MalformedMessage) as caught:
        WorkMessage.from_json(_with(jobId="4111111111111111" * 5))
    assert "jobId" in str(caught.value)
    assert "4111" not in str(caught.value)
