"""Events out: a `JobFinished` event on the EventBridge bus when a job reaches a final
state (what it says, and when it is sent: engine/finals.py)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.core.models import Job
from chalicelib.core.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

SOURCE = "dkt-jobs"
DETAIL_TYPE = "JobFinished"


class EventPublisher:
    """The service's EventBridge bus."""

    def __init__(self, client: EventBridgeClient, bus_name: str) -> None:
        self._events = client
        self._bus = bus_name

    def job_finished(self, job: Job, detail: dict[str, Any]) -> None:
        """Publishes `detail` as the job's JobFinished event; a failure is logged, not raised."""
        try:
            self._events.put_events(
                Entries=[
                    {
                        "Source": SOURCE,
                        "DetailType": DETAIL_TYPE,
                        "Detail": json.dumps(detail),
                        "EventBusName": self._bus,
                    }
                ]
            )
        except (BotoCoreError, ClientError):
            logger.exception("could not publish JobFinished", extra={"job_id": job.id})
