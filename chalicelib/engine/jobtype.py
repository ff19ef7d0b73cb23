"""The seam between the engine and a job type: what a type declares, what a chunk returns.

A job type is a class built once per delivery from the `Services`; the engine asks it
what to do at start, runs its chunks, and, when the job fails for an engine reason
(dead letter, worker lost), asks what its staged work is. Everything every type would
repeat (fencing, cancel requests, the time budget, completing in a transaction,
follow-up jobs, metrics) is the engine's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from chalicelib.adapters.services import Services
from chalicelib.core.models import Job, Staged


@dataclass(frozen=True)
class Progress:
    """What one chunk changes in what the user sees."""

    progress: int
    processed_items: int
    total_items: int | None
    message: str
    rows_per_second: float | None = None
    eta_seconds: int | None = None


@dataclass(frozen=True)
class CheckpointUpdate:
    """Where the job stands after a chunk (the fence values are taken from the job)."""

    phase: str
    byte_offset: int
    line_no: int
    state: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Start:
    """How a job type starts a job: the message the user sees, and the job attributes it
    freezes for the whole job (e.g. `{"rules_version": 3}`). A retried job keeps what
    its first start froze."""

    message: str
    frozen: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Advanced:
    """A chunk is done; record where the job stands."""

    checkpoint: CheckpointUpdate
    progress: Progress
    lote_id: str | None = None


@dataclass(frozen=True)
class Finished:
    """The type committed its work and completed the job; `follow_ups` are QUEUED jobs
    written in the same transaction, which the engine sends on their way."""

    summary: str
    follow_ups: Sequence[Job] = ()


@dataclass(frozen=True)
class Failed:
    """The job cannot succeed (bad input, a conflict); tell the user why."""

    code: str
    message: str
    details: dict[str, Any] | None = None
    error_count: int | None = None
    staged: Staged = Staged.NONE


ChunkOutcome = Advanced | Finished | Failed


class JobKind(Protocol):
    """What the engine needs from a job type."""

    # None if a user may cancel a job of this type; else why not, as the user reads it.
    cancel_refusal: ClassVar[str | None]
    # While a FAILED job has had fewer attempts than this, the sweeper retries it by
    # itself (0: only a user retries it).
    auto_retry_attempts: ClassVar[int]

    def __init__(self, services: Services) -> None: ...

    def start(self, job: Job) -> Start:
        """What to show and freeze when the job goes QUEUED -> PROCESSING."""
        ...

    def run_chunk(self, job: Job) -> ChunkOutcome:
        """Does the next part of the job; raises only on transient errors."""
        ...

    @classmethod
    def staged_on_failure(cls, job: Job) -> Staged:
        """What becomes of the job's staged work when the engine fails it (its messages
        kept dying, or its worker kept vanishing): kept for a retry, or nothing."""
        ...

    def discard_chunk(self, job: Job) -> bool:
        """Removes part of what the job staged; True once nothing is left."""
        ...

    def hold(self, job: Job) -> None:
        """Takes what a live job of this type holds (an import: one of its owner's
        active-import slots) before a retry queues it again.

        Raises:
            TooManyActiveJobs: the owner has nothing left to hold.
        """
        ...

    def let_go(self, job: Job) -> None:
        """Gives back what `hold` took, for a retry that was refused after all."""
        ...

    def accept_overdue_upload(self, job: Job) -> bool:
        """A QUEUED job whose upload is overdue: True if its file is there after all (its
        notification was lost) and the job is queued now; False lets the engine expire it."""
        ...
