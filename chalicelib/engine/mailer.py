"""The e-mail a user asked for when they created a job: sent when it ends (SES).

Read from the same JobFinished events as the webhooks (the notify queue). The address
is the user's own, taken from their verified token when the job was created
(`notifyEmail` on the create), never one they type, so the service cannot be made to
write to strangers. At most one e-mail per attempt that ends: the job notes the
attempt it wrote for (`emailed_attempt`) before the send, so a repeated event is not a
second e-mail. SES's transient errors are retried by the client; a refusal is logged and
not raised, since the event's message also carries the job's webhook call, which a
redelivery would make again.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from chalicelib.adapters.services import Services
from chalicelib.core.models import Job
from chalicelib.core.observability import logger
from chalicelib.engine import lifecycle
from chalicelib.engine.guards import format_count, update_if

if TYPE_CHECKING:
    from mypy_boto3_sesv2 import SESV2Client

KINDS = {"DKT_IMPORT": "Importación", "EXPORT": "Exportación", "LOTE_DELETE": "Eliminación"}
OUTCOMES = {"COMPLETED": "completa", "FAILED": "con error", "CANCELLED": "cancelada"}


def handle(body: str, services: Services, ses: SESV2Client) -> str:
    """Sends the e-mail a JobFinished event (`body`) calls for; returns what it did."""
    detail = _event_detail(body)
    sender = services.settings.email_sender
    if detail is None or not sender:
        return "not an event" if detail is None else "e-mail off"
    job = lifecycle.get(str(detail.get("jobId", "")))
    address = (job.parameters or {}).get("notifyEmail") if job is not None else None
    if job is None or not address:
        return "no e-mail asked"
    attempt = int(detail.get("attempts") or 1)
    unsent = Job.emailed_attempt.does_not_exist() | (Job.emailed_attempt < attempt)
    if not update_if(job, [Job.emailed_attempt.set(attempt)], unsent):
        return "already sent"
    subject, text = compose(detail)
    try:
        ses.send_email(
            FromEmailAddress=sender,
            Destination={"ToAddresses": [address]},
            Content={
                "Simple": {
                    "Subject": {"Data": subject, "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": text, "Charset": "UTF-8"}},
                }
            },
        )
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        logger.warning("SES refused a job e-mail", extra={"job_id": job.id, "code": code})
        return "refused"
    logger.info("job e-mail sent", extra={"job_id": job.id, "attempt": attempt})
    return "sent"


def _event_detail(body: str) -> dict[str, Any] | None:
    try:
        message = json.loads(body)
    except ValueError:
        return None
    if not isinstance(message, dict) or message.get("detail-type") != "JobFinished":
        return None  # a webhook retry, or anything else
    detail = message.get("detail")
    return detail if isinstance(detail, dict) else None


def compose(detail: dict[str, Any]) -> tuple[str, str]:
    """The subject and plain text of the e-mail about a finished job, in Spanish."""
    status = str(detail.get("status"))
    kind = KINDS.get(str(detail.get("type")), "Tarea")
    what = detail.get("filename") or detail.get("loteId") or detail.get("jobId")
    subject = f"{kind} {OUTCOMES.get(status, 'terminada')}: {what}"
    lines = [str(detail.get("message") or ""), ""]
    if detail.get("loteId"):
        lines.append(f"Lote: {detail['loteId']}")
    if detail.get("totalItems") is not None:
        processed = format_count(int(detail.get("processedItems") or 0))
        lines.append(f"Líneas: {processed} de {format_count(int(detail['totalItems']))}")
    if detail.get("errorCode"):
        lines.append(f"Error: {detail['errorCode']}")
    lines += ["", f"Proceso {detail.get('jobId')}, intento {detail.get('attempts')}."]
    return subject, "\n".join(lines).strip() + "\n"
