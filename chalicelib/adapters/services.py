"""The outside world as the service's code sees it: settings, one adapter per AWS
concern, the clock and the id generator, built once per process (chalicelib/runtime.py)
and passed in."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.adapters.exports import ExportStore
from chalicelib.adapters.queue import WorkQueue
from chalicelib.adapters.storage import UploadStore
from chalicelib.core.clock import SYSTEM_CLOCK, Clock
from chalicelib.core.ids import IdGenerator, new_cuid
from chalicelib.core.settings import Settings


@dataclass(frozen=True)
class Services:
    """What runners need from the outside world, injected."""

    settings: Settings
    store: UploadStore
    queue: WorkQueue
    exports: ExportStore
    # The notifier's queue (its delayed webhook retries); None where none is configured.
    notices: WorkQueue | None = None
    clock: Clock = SYSTEM_CLOCK
    new_id: IdGenerator = new_cuid
