"""The work message: a job's checkpoint in flight on the work queue."""

from __future__ import annotations

import json
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

# Longer than any id the service makes (cuid2 of 24, "s3" + 24 hex), short enough that
# a message cannot smuggle a payload in.
MAX_JOB_ID_LENGTH = 64

# Fits DynamoDB's and every other reader's 64-bit integers.
MAX_COUNT = 2**63 - 1

Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]


class MalformedMessage(ValueError):
    """A queue message that is not a work message; it is logged and dropped."""


class WorkMessage(BaseModel):
    """Do the next part of job `job_id`, as of checkpoint `seq` of attempt `attempt`.

    `byte_offset` and `line_no` say where the sender left the job; the job's own
    checkpoint is what the worker trusts. On the wire: `{"jobId", "attempt", "seq",
    "byteOffset", "lineNo"}`; other keys are ignored.
    """

    model_config = ConfigDict(
        frozen=True,
        strict=True,
        extra="ignore",
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
    )

    job_id: Annotated[str, Field(min_length=1, max_length=MAX_JOB_ID_LENGTH)]
    attempt: Count
    seq: Count
    byte_offset: Count = 0
    line_no: Count = 0

    def to_json(self) -> str:
        # json.dumps rather than model_dump_json: the same bytes as every earlier sender.
        return json.dumps(self.model_dump(by_alias=True))

    @classmethod
    def from_json(cls, body: str) -> WorkMessage:
        """Reads a queue message body; raises MalformedMessage for anything else."""
        try:
            return cls.model_validate_json(body)
        except ValidationError as exc:
            # Field names only: the values are whatever someone put on the queue.
            fields = sorted({".".join(map(str, error["loc"])) or "body" for error in exc.errors()})
            raise MalformedMessage(f"not a work message: invalid {', '.join(fields)}") from exc
