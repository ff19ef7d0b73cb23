"""The outside world as the service's code sees it: settings, one adapter per AWS
concern, the clock and the id generator, built once per process (chalicelib/runtime.py)
and passed in."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.adapters.events import EventPublisher
from chalicelib.adapters.queue import WorkQueue
from chalicelib.adapters.storage import UploadStore
from chalicelib.core.clock import SYSTEM_CLOCK, Clock
from chalicelib.core.ids import IdGenerator, new_cuid
from chalicelib.core.models import Job, JobStatus
from chalicelib.core.settings import Settings


@dataclass(frozen=True)
class Services:
    """What runners need from the outside world, injected."""

    settings: Settings
    store: UploadStore
    queue: WorkQueue
    events: EventPublisher | None = None
    clock: Clock = SYSTEM_CLOCK
    new_id: IdGenerator = new_cuid

    def job_finished(self, job: Job, status: JobStatus, error_code: str | None = None) -> None:
        if self.events is not None:
            self.events.job_finished(job, status.value, error_code)
