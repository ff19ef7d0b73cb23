"""The LOTE_DELETE job type: remove one generation of a lote's lines, a chunk at a time.

A user's deletion hides the lote at once (DELETING) and removes the lote record with
its last lines; a replacement import leaves the lote (now pointing at the new lines)
and removes the generation it replaced. Either way the import whose lines are gone
is flagged `loteDeleted`. Deletion cannot be undone, so it has nothing to discard,
cannot be cancelled, and a failed one is retried until the lote is gone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from pynamodb.exceptions import UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.auth import Identity
from chalicelib.adapters.dynamo import condition_failed
from chalicelib.adapters.services import Services
from chalicelib.core.clock import SYSTEM_CLOCK, Clock
from chalicelib.core.errors import Fenced
from chalicelib.core.line_keys import generation_key
from chalicelib.core.models import Job, JobType, Phase, Staged
from chalicelib.engine import lifecycle, progress
from chalicelib.engine.commit import Rejected, completing
from chalicelib.engine.jobtype import (
    Advanced,
    CheckpointUpdate,
    ChunkOutcome,
    Finished,
    Progress,
    Start,
)
from chalicelib.jobtypes.holdings import HoldsNothing
from chalicelib.stores import lotes

REASON_DELETE = "delete"
REASON_REPLACE = "replace"
REASON_UNDO = "undo"  # the lines of an import whose replace was undone (replacements.py)
_QUEUED_MESSAGES = {
    REASON_DELETE: "Eliminación del lote {lote_id} en cola.",
    REASON_REPLACE: "Eliminación de los registros reemplazados del lote {lote_id} en cola.",
}
_DONE_MESSAGES = {
    REASON_DELETE: "Lote {lote_id} eliminado.",
    REASON_REPLACE: "Registros anteriores del lote {lote_id} eliminados (reemplazo).",
    REASON_UNDO: "Registros del reemplazo deshecho del lote {lote_id} eliminados.",
}
# Automatic retries of a failed lote deletion before a person must look at it.
MAX_DELETE_ATTEMPTS = 5


def deletion_job(
    *,
    owner: Identity,
    lote_id: str,
    generation_job_id: str,
    reason: str,
    line_count: int,
    line_shards: int,
    services: Services,
    transaction: TransactWrite,
    run_at: datetime | None = None,
) -> Job:
    """Writes, inside `transaction`, the QUEUED job that removes one generation of a lote:
    the whole lote (`REASON_DELETE`) or the lines a replace made invisible (from `run_at`,
    when the window to undo the replace closes)."""
    return lifecycle.create(
        job_type=JobType.LOTE_DELETE,
        owner=owner,
        parameters={
            "loteId": lote_id,
            "generationJobId": generation_job_id,
            "reason": reason,
            # The keys the generation's lines are spread over (Lote.line_shards).
            "lineShards": line_shards,
        },
        message=_QUEUED_MESSAGES[reason].format(lote_id=lote_id),
        ttl_days=services.settings.job_ttl_days,
        lote_id=lote_id,
        total_items=line_count,
        run_at=run_at,
        transaction=transaction,
        clock=services.clock,
        new_id=services.new_id,
    )


class LoteDelete(HoldsNothing):
    """Deletes lines until none is left, then completes in one transaction."""

    cancel_refusal: ClassVar[str | None] = (
        "La eliminación de un lote no se puede cancelar una vez pedida."
    )
    auto_retry_attempts: ClassVar[int] = MAX_DELETE_ATTEMPTS

    def __init__(self, services: Services) -> None:
        self._settings = services.settings
        self._clock = services.clock

    def start(self, job: Job) -> Start:
        return Start("Eliminando el lote...")

    @classmethod
    def staged_on_failure(cls, job: Job) -> Staged:
        # What is deleted stays deleted: a retry carries on from where this one stopped.
        return Staged.KEEP

    def discard_chunk(self, job: Job) -> bool:
        return True

    def accept_overdue_upload(self, job: Job) -> bool:
        return False

    def run_chunk(self, job: Job) -> ChunkOutcome:
        parameters: dict[str, Any] = job.parameters
        generation = generation_key(
            job.tenant_id, parameters["loteId"], parameters["generationJobId"]
        )
        # Deleting is lighter than importing: larger chunks.
        shards = int(parameters.get("lineShards", 1))
        deleted = lotes.delete_generation_chunk(generation, shards, 5 * self._settings.chunk_size)
        if deleted == 0:
            return self._complete(job, parameters)
        done = int(job.processed_items) + deleted
        total = max(int(job.total_items or 0), done)
        return Advanced(
            CheckpointUpdate(Phase.DELETE.value, 0, done),
            Progress(
                progress=progress.share(done, total),
                processed_items=done,
                total_items=total,
                message=f"Eliminando {lifecycle.format_count(done)} de "
                f"{lifecycle.format_count(total)} registros del lote {parameters['loteId']}.",
            ),
        )

    def _complete(self, job: Job, parameters: dict[str, Any]) -> Finished:
        lote_id = parameters["loteId"]
        message = _DONE_MESSAGES[parameters["reason"]].format(lote_id=lote_id)
        try:
            with completing(job, {"loteId": lote_id}, message, clock=self._clock) as tx:
                if parameters["reason"] == REASON_DELETE:
                    lotes.add_removal(tx, job.tenant_id, lote_id, parameters["generationJobId"])
        except Rejected as exc:
            # The lote is not the one this deletion was asked for any more.
            raise Fenced(f"job {job.id} lost its completion: the lote changed") from exc
        mark_lote_deleted(parameters["generationJobId"], clock=self._clock)
        return Finished(message)


def mark_lote_deleted(import_job_id: str, *, clock: Clock = SYSTEM_CLOCK) -> None:
    """Flags the import whose lines a deletion removed. Best effort: an import past its
    TTL is gone, and that must not block the deletion."""
    try:
        Job(import_job_id).update(
            actions=[Job.lote_deleted.set(True), Job.updated_at.set(clock.now())],
            condition=Job.id.exists(),
        )
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
