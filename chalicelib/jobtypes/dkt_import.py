"""The DKT_IMPORT job type: validate the whole file, stage its lines, commit the lote.

Phases (each chunked and checkpointed by the engine):
  VALIDATE  count lines, decide the encoding once, read the periodo, report line errors;
            strict jobs with any invalid line fail here, before anything is written
  IMPORT    parse, apply the tenant's rules snapshot, write 100 lines under the job's
            generation; at end of file, commit the lote and complete the job in one
            transaction
  DISCARD   (after FAILED or CANCELLED) delete the staged lines, release the lote
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from chalicelib import dkt
from chalicelib.adapters.services import Services
from chalicelib.adapters.storage import LineCursor, RawLine
from chalicelib.core.errors import FileChanged, JobConflict, LoteExists
from chalicelib.core.line_keys import line_shards_for
from chalicelib.core.models import Job, Lote, Phase, Staged
from chalicelib.dkt.rules import RuleSet
from chalicelib.engine import lifecycle, progress
from chalicelib.engine.commit import Rejected, completing
from chalicelib.engine.jobtype import (
    Advanced,
    CheckpointUpdate,
    ChunkOutcome,
    Failed,
    Finished,
    Progress,
    Start,
)
from chalicelib.jobtypes import dkt_upload, replacements
from chalicelib.jobtypes.dkt_chunk import Chunk, prepare_chunk
from chalicelib.jobtypes.holdings import HoldsAnActiveSlot
from chalicelib.stores import line_errors, lotes, rule_sets

ERROR_SAMPLE = 5

TOO_LONG_REASON = "la línea es demasiado larga para ser un registro DKT"


def _summary_sample(errors: list[dkt.LineError]) -> list[dict[str, object]]:
    return [error.to_dict() for error in errors[:ERROR_SAMPLE]]


class DktImport(HoldsAnActiveSlot):
    """One invocation's worth of a DKT import; keeps its read cursor across chunks."""

    cancel_refusal: ClassVar[str | None] = None
    auto_retry_attempts: ClassVar[int] = 0

    def __init__(self, services: Services) -> None:
        self._services = services
        self._settings = services.settings
        self._clock = services.clock
        self._cursor: LineCursor | None = None
        self._rules: RuleSet | None = None
        self._claim_checked = False
        self._prepared: Chunk | None = None

    def start(self, job: Job) -> Start:
        # The tenant's rules as they are now apply to the whole job, retries included.
        frozen: dict[str, Any] = {}
        if job.rules_version is None:
            frozen["rules_version"] = rule_sets.current_version(job.tenant_id)
        return Start("Validando el archivo...", frozen)

    @classmethod
    def staged_on_failure(cls, job: Job) -> Staged:
        # Lines staged by IMPORT are kept for a retry to resume from; a job that failed
        # while validating staged nothing.
        return Staged.KEEP if job.checkpoint.phase == Phase.IMPORT else Staged.NONE

    def accept_overdue_upload(self, job: Job) -> bool:
        return dkt_upload.accept_upload(job, self._services)

    def run_chunk(self, job: Job) -> ChunkOutcome:
        phase = job.checkpoint.phase
        try:
            if phase == Phase.VALIDATE:
                return self._validate(job)
            if phase == Phase.IMPORT:
                return self._import(job)
        except FileChanged:
            return Failed(
                "FILE_CHANGED",
                "El archivo fue reemplazado durante la importación; no se guardó nada. "
                "Cree una importación nueva con el archivo correcto.",
                staged=Staged.DISCARD,
            )
        raise ValueError(f"job {job.id} has no work in phase {phase}")

    def discard_chunk(self, job: Job) -> bool:
        if lotes.delete_staged_chunk(job, self._settings.chunk_size):
            return False
        lotes.release(job)
        return True

    # --- reading -----------------------------------------------------------------------------

    def _lines(self, job: Job, start: int, count: int) -> list[RawLine]:
        if self._cursor is None or self._cursor.position != start:
            key = job.upload_key or ""
            size = int(job.file_size or 0)
            self._cursor = self._services.store.lines(key, start, size, job.file_etag)
        return self._cursor.take(count)

    def _at_end(self, job: Job) -> bool:
        return self._cursor is None or self._cursor.position >= int(job.file_size or 0)

    # --- VALIDATE ----------------------------------------------------------------------------

    def _validate(self, job: Job) -> ChunkOutcome:
        state = dict(job.checkpoint.state)
        start = int(job.checkpoint.byte_offset)
        if start == 0:
            size = int(job.file_size or 0)
            head = self._services.store.read_range(
                job.upload_key or "", 0, min(size, dkt.HEAD_BYTES), job.file_etag
            )
            if (problem := dkt.not_a_dkt(head, whole_file=size <= dkt.HEAD_BYTES)) is not None:
                return Failed("NOT_A_DKT_FILE", problem)
            if head.startswith(dkt.UTF8_BOM):
                start = len(dkt.UTF8_BOM)
                state["encoding"] = dkt.Encoding.UTF8.value
            state["dataStart"] = start
        line_no = int(job.checkpoint.line_no)
        strict = not job.parameters.get("skipInvalidLines", False)
        errors: list[dkt.LineError] = []
        lines = valid = 0
        layouts: dict[str, int] = dict(state.get("layouts", {}))
        encoding = state.get("encoding")
        periodo = state.get("periodo")
        for raw in self._lines(job, start, self._settings.validate_chunk_size):
            line_no += 1
            if raw.too_long:
                lines += 1
                errors.append(dkt.LineError(line_no, None, None, TOO_LONG_REASON))
                continue
            if encoding is None:
                sniffed = dkt.sniff_encoding(raw.data)
                encoding = sniffed.value if sniffed else None
            parsed = dkt.parse_line(
                raw.data, line_no, dkt.Encoding(encoding or "utf-8"), self._settings.card_hash_key
            )
            if parsed is None:
                continue
            lines += 1
            if isinstance(parsed, dkt.LineError):
                errors.append(parsed)
                continue
            if periodo is None:
                periodo = parsed.periodo
            elif parsed.periodo != periodo:
                errors.append(
                    dkt.LineError(
                        line_no,
                        "periodo",
                        parsed.periodo,
                        f"el periodo {parsed.periodo} no coincide con el del archivo ({periodo})",
                    )
                )
                continue
            valid += 1
            layouts[parsed.layout.value] = layouts.get(parsed.layout.value, 0) + 1

        error_count = int(state.get("errors", 0)) + len(errors)
        reported = int(state.get("reported", 0))
        room = max(0, self._settings.max_reported_errors - reported)
        line_errors.store(job, errors[:room])
        sample = list(state.get("sample", [])) + _summary_sample(errors)
        state.update(
            encoding=encoding,
            periodo=periodo,
            lines=int(state.get("lines", 0)) + lines,
            valid=int(state.get("valid", 0)) + valid,
            errors=error_count,
            reported=reported + min(room, len(errors)),
            layouts=layouts,
            sample=sample[:ERROR_SAMPLE],
        )
        if strict and error_count >= self._settings.max_reported_errors:
            return self._invalid_file(job, state, complete=False)
        if not self._at_end(job):
            size = int(job.file_size or 0)
            position = self._cursor.position if self._cursor else start
            return Advanced(
                CheckpointUpdate(Phase.VALIDATE.value, position, line_no, state),
                Progress(
                    progress=progress.validating(position, size),
                    processed_items=0,
                    total_items=None,
                    message=f"Validando el archivo: {lifecycle.format_count(state['lines'])} "
                    "líneas leídas.",
                ),
            )
        return self._end_validation(job, state)

    def _invalid_file(self, job: Job, state: dict[str, Any], *, complete: bool) -> Failed:
        count = int(state["errors"])
        shown = lifecycle.format_count(count)
        prefix = "" if complete else "más de "
        return Failed(
            code="INVALID_LINES",
            message=f"El archivo tiene {prefix}{shown} líneas con errores; no se importó "
            "ninguna. Corrija el archivo o importe omitiendo las líneas inválidas.",
            details={"lineErrors": count, "sample": state.get("sample", [])},
            error_count=count,
        )

    def _end_validation(self, job: Job, state: dict[str, Any]) -> ChunkOutcome:
        strict = not job.parameters.get("skipInvalidLines", False)
        total = int(state["lines"])
        if total == 0:
            return Failed("EMPTY_FILE", "El archivo está vacío: no tiene registros.")
        # Not one record: another kind of file, not a statement with bad lines (whose
        # message would suggest importing it without them).
        if not state["valid"]:
            which = (
                "La única línea del archivo no es"
                if total == 1
                else f"Ninguna de las {lifecycle.format_count(total)} líneas del archivo es"
            )
            return Failed(
                "NO_VALID_LINES",
                f"{which} un registro DKT: revise que sea el resumen de la tarjeta.",
                details={"lineErrors": state["errors"], "sample": state.get("sample", [])},
                error_count=int(state["errors"]),
            )
        if strict and state["errors"]:
            return self._invalid_file(job, state, complete=True)
        # The import reads the file again from dataStart. One pass cannot replace the two:
        # a strict file with a bad line anywhere must fail before a line is written, and
        # only after the whole file is read is that known (writing while validating would
        # bill, then discard, every line before the bad one); totalItems and the periodo
        # (hence the lote and its claim) come from the full read too, as would the cuts of
        # a file into segments. A second S3 read costs far less than the writes it saves.
        # The lote goes on the job first and is claimed at the first import chunk: a
        # claim never exists that the job (and so its discard) does not know about.
        lote_id = lotes.lote_id_for(str(job.parameters["codigoTarjeta"]), str(state["periodo"]))
        state["importStartedAt"] = self._clock.now().isoformat()
        state[lotes.SHARDS_STATE] = line_shards_for(total, self._settings.line_shards)
        state.setdefault("encoding", None)
        return Advanced(
            CheckpointUpdate(Phase.IMPORT.value, int(state["dataStart"]), 0, state),
            Progress(
                progress=progress.VALIDATE_SHARE,
                processed_items=0,
                total_items=total,
                message=f"Procesando 0 de {lifecycle.format_count(total)} registros.",
            ),
            lote_id=lote_id,
        )

    # --- IMPORT ------------------------------------------------------------------------------

    def _ruleset(self, job: Job) -> RuleSet:
        if self._rules is None:
            self._rules = rule_sets.load_version(job.tenant_id, int(job.rules_version or 0))
        return self._rules

    def _still_claimed(self, job: Job) -> Failed | None:
        """Claims the job's lote, once per invocation: the first time, and again after a
        retry or rescue (another import may have taken it while this one was FAILED)."""
        if self._claim_checked:
            return None
        state = job.checkpoint.state
        codigo = str(job.parameters["codigoTarjeta"])
        replace = bool(job.parameters.get("replace"))
        try:
            lotes.claim(
                job, job.lote_id or "", codigo, str(state["periodo"]), replace, clock=self._clock
            )
        except LoteExists as exc:
            return Failed(exc.code, exc.message, staged=Staged.DISCARD)
        except JobConflict as exc:
            return Failed("LOTE_BUSY", exc.message, staged=Staged.DISCARD)
        self._claim_checked = True
        return None

    def _import(self, job: Job) -> ChunkOutcome:
        lost = self._still_claimed(job)
        if lost is not None:
            return lost
        offset, line_no = int(job.checkpoint.byte_offset), int(job.checkpoint.line_no)
        chunk = self._take_prepared(offset, line_no) or self._prepare(job, offset, line_no)
        if chunk.changed is not None:
            raise chunk.changed
        pending = lotes.start_writing_lines(chunk.items)
        try:
            if not chunk.at_end:
                # The next chunk is parsed and ruled while this one's batches are in flight;
                # nothing of it is written before this chunk's checkpoint has succeeded (it
                # is used only by a chunk that starts where this checkpoint says).
                self._prepared = self._prepare(job, chunk.end, chunk.line_no)
        finally:
            pending.wait()
        state = dict(job.checkpoint.state)
        totals = {currency: Decimal(value) for currency, value in state.get("totals", {}).items()}
        for currency, amount in chunk.totals.items():
            totals[currency] = totals.get(currency, Decimal("0")) + amount
        state.update(
            imported=int(state.get("imported", 0)) + len(chunk.items),
            ruleErrors=int(state.get("ruleErrors", 0)) + chunk.rule_errors,
            totals={currency: str(value) for currency, value in sorted(totals.items())},
        )
        total = int(job.total_items or 0)
        if chunk.at_end:
            return self._commit(job, state, total)
        processed = int(job.processed_items) + chunk.processed
        started = datetime.fromisoformat(state["importStartedAt"])
        pace = progress.throughput(processed, total, started, self._clock.now())
        return Advanced(
            CheckpointUpdate(Phase.IMPORT.value, chunk.end, chunk.line_no, state),
            Progress(
                progress=progress.importing(processed, total),
                processed_items=processed,
                total_items=total,
                message=f"Procesando {lifecycle.format_count(processed)} de "
                f"{lifecycle.format_count(total)} registros.",
                rows_per_second=pace.rows_per_second,
                eta_seconds=pace.eta_seconds,
            ),
        )

    def _take_prepared(self, offset: int, line_no: int) -> Chunk | None:
        """The chunk prepared during the previous one's writes, if it starts at `offset`."""
        prepared, self._prepared = self._prepared, None
        if prepared is None or (prepared.start, prepared.first_line_no) != (offset, line_no):
            return None
        return prepared

    def _prepare(self, job: Job, start: int, line_no: int) -> Chunk:
        """Reads, parses and rules the chunk at `start`: its lines to write and its sums."""
        raw = self._lines(job, start, self._settings.chunk_size)
        chunk = prepare_chunk(job, raw, start, line_no, self._ruleset(job), self._settings)
        chunk.end = self._cursor.position if self._cursor else start
        chunk.at_end = self._at_end(job)
        return chunk

    def _commit(self, job: Job, state: dict[str, Any], total: int) -> ChunkOutcome:
        imported = int(state["imported"])
        skipped = total - imported
        result = {
            "loteId": job.lote_id,
            "linesImported": imported,
            "linesSkipped": skipped,
            "totals": state["totals"],
            "encoding": state.get("encoding") or dkt.Encoding.UTF8.value,
            "layouts": state.get("layouts", {}),
            "periodo": state["periodo"],
            "rulesVersion": int(job.rules_version or 0),
            "ruleErrors": int(state.get("ruleErrors", 0)),
        }
        skipped_note = f" ({lifecycle.format_count(skipped)} omitidos)" if skipped else ""
        message = (
            f"Importación completa: {lifecycle.format_count(imported)} registros en el lote "
            f"{job.lote_id}{skipped_note}."
        )
        before = lotes.current_generation(job)
        replaced = before.job_id if before is not None else None
        follow_ups: list[Job] = []
        try:
            errors = int(state.get("errors", 0))
            with completing(job, result, message, error_count=errors, clock=self._clock) as tx:
                previous = None
                if replaced is not None and before is not None:
                    # Its lines stay until the undo window closes (replacements.py).
                    deletion, previous = replacements.cleanup_job(tx, job, before, self._services)
                    follow_ups.append(deletion)
                lotes.add_commit(
                    tx, job, imported, state["totals"], replaced, previous, clock=self._clock
                )
        except Rejected as exc:
            if not any(isinstance(model, Lote) for model in exc.models):
                raise
            return Failed(
                "LOTE_CHANGED",
                f"El lote {job.lote_id} cambió durante la importación (otra importación "
                "o una eliminación); no se guardó nada. Puede reintentar.",
                staged=Staged.DISCARD,
            )
        return Finished(message, follow_ups)
