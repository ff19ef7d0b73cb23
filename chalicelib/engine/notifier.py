"""The notifier: a finished job's webhook, called from its JobFinished event.

The bus's rule puts every JobFinished event on the notify queue; for a job created with
a `callbackUrl`, this POSTs `{"id": <event id>, "type": "JobFinished", "data": <the
event's detail>}`, signed (adapters/webhooks.py). A call that gets no 2xx is tried
again later, `webhook_retry_base_s * 2^(n-1)` after the n-th failure (a delayed message
on the same queue, carrying the same body and event id), until `webhook_attempts`
calls were made. How it went is kept on the job (`callback`), for the user to see.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chalicelib.adapters import webhooks
from chalicelib.adapters.services import Services
from chalicelib.core.models import Job
from chalicelib.core.observability import logger
from chalicelib.engine import lifecycle
from chalicelib.engine.guards import update_if

MAX_DELAY_S = 900  # SQS's longest message delay


class WebhookCall(BaseModel):
    """One call to make: the event it announces, and how many were made before."""

    model_config = ConfigDict(populate_by_name=True)

    event_id: str = Field(alias="eventId", min_length=1)
    attempt: int = Field(default=1, ge=1)
    detail: dict[str, Any]

    def to_json(self) -> str:
        return json.dumps({"webhookCall": self.model_dump(by_alias=True)})


def parse(body: str) -> WebhookCall | None:
    """The call a notify-queue message asks for: a JobFinished event from the bus, or a
    retry this module queued; None for anything else."""
    try:
        message = json.loads(body)
        if isinstance(message, dict) and "webhookCall" in message:
            return WebhookCall.model_validate(message["webhookCall"])
        if isinstance(message, dict) and message.get("detail-type") == "JobFinished":
            return WebhookCall.model_validate(
                {"eventId": str(message["id"]), "detail": message["detail"]}
            )
    except (ValueError, KeyError, ValidationError):
        pass
    return None


def retry_delay(base_s: int, failures: int) -> int:
    """Seconds before the call after the `failures`-th failed one."""
    delay: int = base_s * 2 ** (failures - 1)
    return min(MAX_DELAY_S, delay)


def handle(body: str, services: Services, secret: bytes) -> str:
    """Makes the call `body` asks for, signed with `secret`; returns what became of it."""
    call = parse(body)
    if call is None:
        logger.warning("dropping a notify message that is neither an event nor a call")
        return "dropped"
    job = lifecycle.get(str(call.detail.get("jobId", "")))
    url = (job.parameters or {}).get("callbackUrl") if job is not None else None
    if job is None or not url:
        return "no callback"
    if not secret:
        logger.warning("a job has a callbackUrl, but no webhook secret is configured")
        return "no secret"
    settings = services.settings
    payload = {"id": call.event_id, "type": "JobFinished", "data": call.detail}
    delivery = webhooks.post(
        url,
        json.dumps(payload, separators=(",", ":"), sort_keys=True).encode(),
        secret=secret,
        event_id=call.event_id,
        allow_loopback=settings.allow_loopback_callbacks,
        timeout_s=settings.webhook_timeout_s,
    )
    outcome = {"attempts": call.attempt, "httpStatus": delivery.status}
    extra = {"job_id": job.id, "attempt": call.attempt, "http_status": delivery.status}
    if delivery.ok:
        _record(job, {"status": "DELIVERED", **outcome})
        logger.info("webhook delivered", extra=extra)
        return "delivered"
    queue = services.notices if call.attempt < settings.webhook_attempts else None
    _record(job, {"status": "FAILED" if queue is None else "RETRYING", **outcome})
    logger.warning("webhook call failed", extra={**extra, "error": delivery.error})
    if queue is None:
        return "gave up"
    retry = call.model_copy(update={"attempt": call.attempt + 1})
    queue.send(retry, delay_seconds=retry_delay(settings.webhook_retry_base_s, call.attempt))
    return "retry queued"


def _record(job: Job, callback: dict[str, Any]) -> None:
    update_if(job, [Job.callback.set(callback)], Job.id.exists())
