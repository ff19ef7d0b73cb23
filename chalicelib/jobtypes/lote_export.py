"""The EXPORT job type: a lote's lines as a CSV or XLSX file on S3, behind a download link.

CSV is written at any lote size as an S3 multipart upload, one part per chunk: a chunk
reads lines in file order until it holds `EXPORT_PART_BYTES` of CSV (the last part may
be smaller), uploads that part and checkpoints the upload id, the parts' ETags and the
last line written. A repeated chunk uploads the same lines under the same part number,
which replaces the part, so a redelivery or a crash between upload and checkpoint
changes nothing. No worker ever holds more than one part of the file.

XLSX is a zip whose sheet cannot be continued by another process, so it is written in
one chunk, streamed to a temporary file and uploaded from it; it is refused beyond
`XLSX_MAX_ROWS` (what one invocation writes in time; at most Excel's 1,048,575 data
rows). The CSV has no such limit.

The export reads the generation the lote showed when it was asked for; if the lote is
replaced or deleted meanwhile, the export fails and says so (the file would mix two
imports). A failed or cancelled export aborts its upload and removes any file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any, ClassVar

from chalicelib.adapters.auth import Identity
from chalicelib.adapters.exports import ExportStore
from chalicelib.adapters.services import Services
from chalicelib.adapters.storage import safe_filename
from chalicelib.core.errors import Fenced, JobConflict, TooManyRows
from chalicelib.core.models import Job, JobType, Lote, Phase, Staged
from chalicelib.dkt import sheet
from chalicelib.dkt.layout import UTF8_BOM
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
from chalicelib.jobtypes.export_sources import ERRORS, Source, source_of
from chalicelib.jobtypes.holdings import HoldsNothing
from chalicelib.stores import lotes, rule_sets

# Lines an XLSX export reads per query round over the generation's keys.
XLSX_READ_PAGE = 5_000
LOTE_CHANGED = "LOTE_CHANGED"
EXPORT_INTERRUPTED = "EXPORT_INTERRUPTED"


def export_job(*, owner: Identity, lote_id: str, file_format: str, services: Services) -> Job:
    """Writes the QUEUED job that exports the lote's current lines, and returns it.

    Raises:
        LoteNotFound: the tenant has no such ACTIVE lote.
        TooManyRows: an XLSX of more rows than Excel holds.
    """
    lote = lotes.get_active(owner.tenant_id, lote_id)
    rows = int(lote.line_count)
    limit = services.settings.xlsx_max_rows
    if file_format == "xlsx" and rows > limit:
        raise TooManyRows(
            f"La exportación a Excel admite hasta {lifecycle.format_count(limit)} filas y el "
            f"lote {lote_id} tiene {lifecycle.format_count(rows)}: expórtelo en CSV.",
            f"xlsx export of {rows} rows",
        )
    parameters = {
        "loteId": lote_id,
        "format": file_format,
        "filename": f"lote-{lote_id}.{file_format}",
        # The generation shown now: the file is of these lines, or of none.
        "generationJobId": lote.job_id,
        "lineShards": int(lote.line_shards),
        "ruleFields": list(rule_fields(lote)),
    }
    return _queued(owner, parameters, rows, f"Exportación del lote {lote_id} en cola.", services)


def errors_export_job(*, owner: Identity, source: Job, file_format: str, services: Services) -> Job:
    """Writes the QUEUED job that exports the line-error report of import `source`.

    Raises:
        JobConflict: the import kept no line errors (or has not ended).
    """
    kept = min(int(source.error_count), services.settings.max_reported_errors)
    if not source.job_status.is_final or kept == 0:
        raise JobConflict(
            f"job {source.id} has no error report",
            "Esta importación no tiene errores por línea para exportar.",
        )
    filename = str(source.parameters.get("filename") or source.id)
    stem = filename.rsplit(".", 1)[0] or source.id
    parameters = {
        "source": ERRORS,
        "sourceJobId": source.id,
        "sourceFilename": filename,
        "format": file_format,
        "filename": f"errores-{safe_filename(stem)}.{file_format}",
    }
    message = f"Exportación de los errores de {filename} en cola."
    return _queued(owner, parameters, kept, message, services)


def _queued(
    owner: Identity, parameters: dict[str, Any], rows: int, message: str, services: Services
) -> Job:
    """Writes a QUEUED EXPORT job of `rows` rows (kept in its parameters too: a retry that
    starts over loses `total_items` and gets it back from them at start)."""
    return lifecycle.create(
        job_type=JobType.EXPORT,
        owner=owner,
        parameters={**parameters, "rows": rows},
        message=message,
        ttl_days=services.settings.job_ttl_days,
        total_items=rows,
        clock=services.clock,
        new_id=services.new_id,
    )


def rule_fields(lote: Lote) -> Sequence[str]:
    """The fields the rules of the lote's import set (their columns in the file and on
    the page)."""
    importer = lifecycle.get(lote.job_id or "")
    version = int(importer.rules_version or 0) if importer is not None else 0
    return rule_sets.load_version(lote.tenant_id, version).fields_set()


def key_of(job: Job, exports: ExportStore) -> str:
    return exports.key_for(job.tenant_id, job.user_id, job.id, job.parameters["filename"])


class LoteExport(HoldsNothing):
    """Writes the file a part per chunk, then completes the job with its size."""

    cancel_refusal: ClassVar[str | None] = None
    auto_retry_attempts: ClassVar[int] = 0

    def __init__(self, services: Services) -> None:
        self._services = services
        self._exports = services.exports
        self._settings = services.settings

    def start(self, job: Job) -> Start:
        # A retry that starts over has lost its total: the rows the export was asked for.
        rows = job.parameters.get("rows")
        return Start(
            f"Exportando {source_of(job).title}...",
            frozen={"total_items": None if rows is None else int(rows)},
        )

    @classmethod
    def staged_on_failure(cls, job: Job) -> Staged:
        # Dead letters, a lost worker: the upload and its pieces are kept, so the
        # automatic retry resumes; the sweeper discards them when the retry window closes.
        return Staged.KEEP

    def discard_chunk(self, job: Job) -> bool:
        self._exports.discard(key_of(job, self._exports))
        return True

    def accept_overdue_upload(self, job: Job) -> bool:
        return False

    def run_chunk(self, job: Job) -> ChunkOutcome:
        parameters: dict[str, Any] = job.parameters
        source = source_of(job)
        if not source.unchanged():
            return _lote_changed(job)
        key = key_of(job, self._exports)
        if parameters["format"] == "xlsx":
            return self._xlsx(job, key, source)
        state: dict[str, Any] = dict(job.checkpoint.state or {})
        if "uploadId" not in state:  # the first chunk, or a retry starting over
            state = {"uploadId": self._exports.begin(key, "csv"), "etags": [], "pieces": []}
            after, written = 0, 0
        else:
            after, written = int(job.checkpoint.line_no), int(job.processed_items)
        first = after == 0
        rows = source.read(after, self._settings.export_chunk_lines)
        if not rows.more and (done := self._exports.size_of(key)) is not None:
            # A repeat of the last chunk: the delivery that completed the file died
            # before it could complete the job.
            self._exports.drop_pieces(key)
            return self._complete(job, source, written + len(rows.cells), done)
        piece = sheet.csv_bytes(rows.cells)
        if first:
            piece = UTF8_BOM + sheet.csv_bytes([sheet.header(source.columns)]) + piece
        written += len(rows.cells)
        after, more = rows.last, rows.more
        added = self._add_piece(key, state, piece, name=after, last=not more)
        if added is None:
            return self._upload_gone(job, key)
        state = added
        if not more:
            self._exports.finish(key, state["uploadId"], state["etags"])
            self._exports.drop_pieces(key)
            return self._complete(job, source, written, int(state["bytes"]))
        total = max(int(job.total_items or 0), written)
        return Advanced(
            CheckpointUpdate(Phase.EXPORT.value, 0, after, state),
            Progress(
                progress=progress.share(written, total),
                processed_items=written,
                total_items=total,
                message=f"Exportando {lifecycle.format_count(written)} de "
                f"{lifecycle.format_count(total)} {source.noun} {source.label}.",
            ),
        )

    def _add_piece(
        self, key: str, state: dict[str, Any], piece: bytes, *, name: int, last: bool
    ) -> dict[str, Any] | None:
        """Adds one chunk's CSV to the file: kept as a piece on S3 while the pieces make
        less than a part, else uploaded with them as the next part. Returns the new state,
        or None if the upload was aborted meanwhile.

        A piece is named after its last line, so a repeated chunk rewrites the same one;
        pieces are removed only with the whole export (a delivery that dies after the part
        went up reads them again)."""
        pieces: list[list[int]] = state.get("pieces", [])
        waiting = sum(int(size) for _, size in pieces) + len(piece)
        if waiting < self._settings.export_part_bytes and not last:
            self._exports.put_piece(key, name, piece)
            return {**state, "pieces": [*pieces, [name, len(piece)]]}
        part = b"".join([*(self._exports.piece(key, int(n)) for n, _ in pieces), piece])
        if not part:
            return state
        etag = self._exports.put_part(key, state["uploadId"], len(state["etags"]) + 1, part)
        if etag is None:
            return None
        size = int(state.get("bytes", 0)) + len(part)
        return {**state, "etags": [*state["etags"], etag], "pieces": [], "bytes": size}

    def _xlsx(self, job: Job, key: str, source: Source) -> ChunkOutcome:
        # Imported here: only XLSX exports pay for loading the library.
        import xlsxwriter

        if (done := self._exports.size_of(key)) is not None:  # see run_chunk
            return self._complete(job, source, int(job.total_items or 0), done)
        upload_id = self._exports.begin(key, "xlsx")
        count = 0
        with tempfile.NamedTemporaryFile(suffix=".xlsx") as file:
            workbook = xlsxwriter.Workbook(
                file.name, {"constant_memory": True, "strings_to_numbers": False}
            )
            worksheet = workbook.add_worksheet(source.sheet_name)
            bold = workbook.add_format({"bold": True})
            day = workbook.add_format({"num_format": "dd/mm/yyyy"})
            worksheet.write_row(0, 0, sheet.header(source.columns), bold)
            for count, cells in enumerate(_all_rows(source), start=1):
                for column, cell in enumerate(cells):
                    if cell is None:
                        continue
                    if isinstance(cell, str):  # a string cell: never a formula
                        worksheet.write_string(count, column, cell)
                    elif isinstance(cell, date):
                        worksheet.write_datetime(count, column, cell, day)
                    else:
                        worksheet.write_number(count, column, float(cell))
            worksheet.freeze_panes(1, 0)
            workbook.close()
            size = os.path.getsize(file.name)
            etags: list[str] = []
            with open(file.name, "rb") as written:
                while chunk := written.read(self._settings.export_part_bytes):
                    etag = self._exports.put_part(key, upload_id, len(etags) + 1, chunk)
                    if etag is None:
                        return self._upload_gone(job, key)
                    etags.append(etag)
        self._exports.finish(key, upload_id, etags)
        return self._complete(job, source, count, size)

    def _complete(self, job: Job, source: Source, rows: int, size: int) -> ChunkOutcome:
        parameters = job.parameters
        message = (
            f"Exportación lista: {lifecycle.format_count(rows)} {source.noun} {source.label} "
            f"({parameters['format'].upper()})."
        )
        result = {
            "loteId": parameters.get("loteId"),
            "format": parameters["format"],
            "filename": parameters["filename"],
            "rows": rows,
            "bytes": size,
        }
        try:
            with completing(job, result, message, clock=self._services.clock) as transaction:
                source.guard(transaction)
        except Rejected:
            return _lote_changed(job)
        return Finished(message)

    def _upload_gone(self, job: Job, key: str) -> Failed:
        """The multipart upload is no longer open. Completed: a copy of this delivery
        running at the same time finished the file, and will complete the job (this one
        stops, fenced). Else aborted under the export (S3's lifecycle rule ends uploads left
        open for a day): it can only start over."""
        if self._exports.size_of(key) is not None:
            raise Fenced(f"job {job.id}: another delivery completed the file")
        return Failed(
            EXPORT_INTERRUPTED,
            "La exportación estuvo detenida demasiado tiempo y su archivo parcial se descartó: "
            "reinténtela para empezarla de nuevo.",
            staged=Staged.DISCARD,
        )


def _lote_changed(job: Job) -> Failed:
    return Failed(
        LOTE_CHANGED,
        f"El lote {job.parameters['loteId']} cambió o se eliminó durante la exportación: "
        "expórtelo de nuevo.",
        staged=Staged.DISCARD,
    )


def _all_rows(source: Source) -> Iterator[list[sheet.Cell]]:
    after, more = 0, True
    while more:
        rows = source.read(after, XLSX_READ_PAGE)
        yield from rows.cells
        after, more = rows.last, rows.more and bool(rows.cells)
