"""What a live job of a type holds while it is QUEUED or PROCESSING, taken again by
every retry (the API's or the sweeper's) before the job is queued again.

An import holds one of its owner's active-import slots (stores/active_slots.py): a
retry counts against the per-user limit exactly as a create does. A lote deletion holds
nothing: it is the system's own clean-up, never refused for a busy user.
"""

from __future__ import annotations

from chalicelib.adapters.services import Services
from chalicelib.core.models import Job
from chalicelib.engine import lifecycle
from chalicelib.stores import active_slots


class HoldsAnActiveSlot:
    """For a type whose jobs count against the user's limit of active jobs."""

    _services: Services

    def hold(self, job: Job) -> None:
        limit = self._services.settings.max_active_jobs_per_user
        active_slots.take(lifecycle.owner_of(job), job.id, limit, clock=self._services.clock)

    def let_go(self, job: Job) -> None:
        active_slots.release(lifecycle.owner_of(job), job.id, clock=self._services.clock)


class HoldsNothing:
    """For a type the limit does not apply to."""

    def hold(self, job: Job) -> None:
        return None

    def let_go(self, job: Job) -> None:
        return None
