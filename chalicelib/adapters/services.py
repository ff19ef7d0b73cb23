"""The outside world as the service's code sees it: settings and one adapter per AWS
concern, built once per process (chalicelib/runtime.py) and passed in."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.adapters.events import EventPublisher
from chalicelib.adapters.queue import WorkQueue
from chalicelib.adapters.storage import UploadStore
from chalicelib.core.models import Job, JobStatus
from chalicelib.core.settings import Settings


@dataclass(frozen=True)
class Services:
    """What runners need from the outside world, injected."""

    settings: Settings
    store: UploadStore
    queue: WorkQueue
    events: EventPublisher | None = None

    def job_finished(self, job: Job, status: JobStatus, error_code: str | None = None) -> None:
        if self.events is not None:
            self.events.job_finished(job, status.value, error_code)
