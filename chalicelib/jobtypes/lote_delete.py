"""The LOTE_DELETE job type: remove one generation of a lote's lines, a chunk at a time.

A user's deletion hides the lote at once (DELETING) and removes the lote record with
its last lines; a replacement import leaves the lote (now pointing at the new lines)
and removes the generation it replaced. Either way the import whose lines are gone
is flagged `loteDeleted`. Deletion cannot be undone, so it has nothing to discard.
"""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.auth import Identity
from chalicelib.adapters.dynamo import (
    cancellation_codes,
    is_transient,
    transaction,
    transaction_cancelled,
)
from chalicelib.adapters.services import Services
from chalicelib.core.errors import Fenced, TransientError
from chalicelib.core.models import Job, JobType, Phase, generation_key
from chalicelib.core.settings import Settings
from chalicelib.engine import lifecycle
from chalicelib.engine.runner import Advanced, ChunkOutcome, Finished, register
from chalicelib.stores import lotes

REASON_DELETE = "delete"
REASON_REPLACE = "replace"
_QUEUED_MESSAGES = {
    REASON_DELETE: "Eliminación del lote {lote_id} en cola.",
    REASON_REPLACE: "Eliminación de los registros reemplazados del lote {lote_id} en cola.",
}


def deletion_job(
    *,
    owner: Identity,
    lote_id: str,
    generation_job_id: str,
    reason: str,
    line_count: int,
    settings: Settings,
    transaction: TransactWrite,
) -> Job:
    """Writes, inside `transaction`, the QUEUED job that removes one generation of a lote:
    the whole lote (`REASON_DELETE`) or the lines a replace made invisible."""
    return lifecycle.create(
        job_type=JobType.LOTE_DELETE,
        owner=owner,
        parameters={"loteId": lote_id, "generationJobId": generation_job_id, "reason": reason},
        message=_QUEUED_MESSAGES[reason].format(lote_id=lote_id),
        ttl_days=settings.job_ttl_days,
        lote_id=lote_id,
        total_items=line_count,
        transaction=transaction,
    )


@register(JobType.LOTE_DELETE)
class LoteDeleteRunner:
    """Deletes lines until none is left, then completes in one transaction."""

    def __init__(self, services: Services) -> None:
        self._settings = services.settings

    def start_message(self) -> str:
        return "Eliminando el lote..."

    def rules_version(self, job: Job) -> int | None:
        return None

    def discard_chunk(self, job: Job) -> bool:
        return True

    def run_chunk(self, job: Job) -> ChunkOutcome:
        parameters: dict[str, Any] = job.parameters
        generation = generation_key(
            job.tenant_id, parameters["loteId"], parameters["generationJobId"]
        )
        # Deleting is lighter than importing: larger chunks.
        deleted = lotes.delete_generation_chunk(generation, 5 * self._settings.chunk_size)
        if deleted == 0:
            return self._complete(job, parameters)
        done = int(job.processed_items) + deleted
        total = max(int(job.total_items or 0), done)
        return Advanced(
            lifecycle.CheckpointUpdate(Phase.DELETE.value, 0, done),
            lifecycle.Progress(
                progress=min(99, done * 100 // max(total, 1)),
                processed_items=done,
                total_items=total,
                message=f"Eliminando {lifecycle.format_count(done)} de "
                f"{lifecycle.format_count(total)} registros del lote {parameters['loteId']}.",
            ),
        )

    def _complete(self, job: Job, parameters: dict[str, Any]) -> Finished:
        lote_id = parameters["loteId"]
        if parameters["reason"] == REASON_DELETE:
            message = f"Lote {lote_id} eliminado."
        else:
            message = f"Registros anteriores del lote {lote_id} eliminados (reemplazo)."
        try:
            with transaction() as tx:
                lifecycle.add_completion(tx, job, {"loteId": lote_id}, message)
                if parameters["reason"] == REASON_DELETE:
                    lotes.add_removal(tx, job.tenant_id, lote_id, parameters["generationJobId"])
        except TransactWriteError as exc:
            if not transaction_cancelled(exc):
                raise
            codes = cancellation_codes(exc)
            if is_transient(codes):
                raise TransientError(f"job {job.id} completion conflicted; retrying") from exc
            if codes[0] == "ConditionalCheckFailed":
                raise Fenced(f"job {job.id} lost its completion") from exc
            raise
        lifecycle.mark_lote_deleted(parameters["generationJobId"])
        return Finished(message)
