"""A lote replaced by another import, and undoing that within UNDO_WINDOW_S.

The commit of a replacing import writes, in its transaction, the LOTE_DELETE job that
removes the generation it replaced, scheduled to start when the undo window closes
(engine/schedule.py), and keeps on the lote what the replaced content was
(`Lote.replaced`: its import, line count, shards, totals, file, commit time, and that
deletion job). Until the deletion starts, the old lines are all there, so an undo is
one transaction: the lote points at them again, and the waiting deletion is turned on
the lines of the import being undone, due at once. The deletion starting is a
conditional write on the same job (QUEUED -> PROCESSING): exactly one of the two wins.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.auth import Identity
from chalicelib.adapters.dynamo import cancellation_codes, is_transient, transaction
from chalicelib.adapters.services import Services
from chalicelib.core.clock import iso
from chalicelib.core.errors import JobConflict
from chalicelib.core.models import Job, JobStatus, Lote, LoteStatus
from chalicelib.engine import lifecycle, schedule
from chalicelib.jobtypes import lote_delete
from chalicelib.stores import lotes


def cleanup_job(
    tx: TransactWrite, job: Job, replaced: Lote, services: Services
) -> tuple[Job, dict[str, Any]]:
    """Inside the replacing import's commit: the deletion of the generation it replaces,
    waiting for the undo window to close, and what the lote keeps to undo it."""
    now = services.clock.now()
    window = timedelta(seconds=services.settings.undo_window_s)
    deletion = lote_delete.deletion_job(
        owner=lifecycle.owner_of(job),
        lote_id=str(job.lote_id),
        generation_job_id=str(replaced.job_id),
        reason=lote_delete.REASON_REPLACE,
        line_count=int(replaced.line_count),
        line_shards=int(replaced.line_shards),
        services=services,
        transaction=tx,
        run_at=now + window if window else None,
    )
    previous = {
        "jobId": replaced.job_id,
        "lineCount": int(replaced.line_count),
        "lineShards": int(replaced.line_shards),
        "totals": replaced.totals,
        "fileDigest": replaced.file_digest,
        "committedAt": iso(replaced.committed_at),
        "userId": replaced.user_id,
        "deletionJobId": deletion.id,
        "replacedBy": job.id,
        "until": iso(now + window),
    }
    return deletion, previous


def undo_until(lote: Lote, now: datetime) -> datetime | None:
    """Until when the lote's last replace can be undone (None: it cannot)."""
    previous = lote.replaced
    if not previous or lote.status != LoteStatus.ACTIVE or lote.job_id != previous["replacedBy"]:
        return None
    until = datetime.fromisoformat(str(previous["until"]).replace("Z", "+00:00"))
    return until if until > now else None


def _untouched(deletion: Job) -> bool:
    return (
        deletion.job_status is JobStatus.QUEUED
        and int(deletion.attempts) == 1
        and int(deletion.processed_items) == 0
    )


def undo(owner: Identity, lote_id: str, services: Services) -> Lote:
    """Restores the content a replace made invisible, in one transaction; the lines of
    the replacing import are deleted after it. JobConflict when it can no longer be."""
    lote = lotes.get_active(owner.tenant_id, lote_id)
    now = services.clock.now()
    previous = lote.replaced if undo_until(lote, now) is not None else None
    deletion = lifecycle.get(str(previous["deletionJobId"])) if previous else None
    if previous is None or deletion is None or not _untouched(deletion):
        raise JobConflict(
            f"lote {lote_id}: no replace to undo",
            f"El último reemplazo del lote {lote_id} ya no se puede deshacer: el contenido "
            "anterior se eliminó (o el lote no fue reemplazado).",
        )
    undone = str(previous["replacedBy"])
    tx = transaction()
    try:
        with tx:
            lotes.add_restore(tx, lote, previous, clock=services.clock)
            tx.update(
                deletion,
                actions=[
                    Job.parameters.set(
                        {
                            **deletion.parameters,
                            "generationJobId": undone,
                            "lineShards": lote.line_shards,
                            "reason": lote_delete.REASON_UNDO,
                        }
                    ),
                    Job.total_items.set(int(lote.line_count)),
                    Job.run_at.remove(),
                    Job.message.set(f"Eliminación de los registros deshechos del lote {lote_id}."),
                    Job.heartbeat_at.set(now),
                    Job.updated_at.set(now),
                ],
                # Never started (a failed one retried is QUEUED again, its lines half gone).
                condition=(Job.status == JobStatus.QUEUED)
                & (Job.attempts == 1)
                & (Job.processed_items == 0),
            )
    except TransactWriteError as exc:
        if is_transient(cancellation_codes(exc)):
            raise JobConflict(
                f"undo of lote {lote_id} conflicted", "El lote está ocupado; intente nuevamente."
            ) from exc
        raise JobConflict(
            f"lote {lote_id} changed during the undo",
            f"El lote {lote_id} cambió mientras se deshacía el reemplazo; no se cambió nada.",
        ) from exc
    deletion.refresh(consistent_read=True)
    schedule.send_when_due(deletion, services)
    lote.refresh(consistent_read=True)
    return lote
