"""The work message: a job's checkpoint in flight on the work queue."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any


class MalformedMessage(ValueError):
    """A queue message that is not a work message; it is logged and dropped."""


@dataclass(frozen=True)
class WorkMessage:
    """Do the next part of job `job_id`, as of checkpoint `seq` of attempt `attempt`.

    `byte_offset` and `line_no` say where the sender left the job; the job's own
    checkpoint is what the worker trusts.
    """

    job_id: str
    attempt: int
    seq: int
    byte_offset: int = 0
    line_no: int = 0

    def to_json(self) -> str:
        data = asdict(self)
        return json.dumps(
            {
                "jobId": data["job_id"],
                "attempt": data["attempt"],
                "seq": data["seq"],
                "byteOffset": data["byte_offset"],
                "lineNo": data["line_no"],
            }
        )

    @classmethod
    def from_json(cls, body: str) -> WorkMessage:
        try:
            data: Any = json.loads(body)
            message = cls(
                job_id=data["jobId"],
                attempt=data["attempt"],
                seq=data["seq"],
                byte_offset=data.get("byteOffset", 0),
                line_no=data.get("lineNo", 0),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedMessage(f"not a work message: {exc}") from exc
        if not isinstance(message.job_id, str) or not all(
            isinstance(value, int) and value >= 0
            for value in (message.attempt, message.seq, message.byte_offset, message.line_no)
        ):
            raise MalformedMessage("work message with fields of the wrong type")
        return message
