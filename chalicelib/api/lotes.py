"""A tenant's lotes: list them, read one with its lines, delete one (a LOTE_DELETE job),
export one (an EXPORT job)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic_core import ErrorDetails
from pynamodb.exceptions import TransactWriteError

from chalicelib.adapters.auth import Identity
from chalicelib.adapters.dynamo import transaction, transaction_cancelled
from chalicelib.adapters.services import Services
from chalicelib.api.jobs import JobAction
from chalicelib.api.queries import LoteLinesQuery, LoteListQuery
from chalicelib.api.schema import ApiModel, Request, Timestamp
from chalicelib.core.errors import JobConflict
from chalicelib.core.models import Job, Line, Lote, LoteStatus
from chalicelib.engine import lifecycle
from chalicelib.jobtypes import lote_delete, lote_export, replacements
from chalicelib.stores import lotes


class LoteView(ApiModel):
    """A committed lote: one card product and period, and its totals."""

    lote_id: str
    status: LoteStatus
    codigo_tarjeta: str
    periodo: str
    job_id: str | None
    line_count: int
    totals: dict[str, Any]
    created_at: Timestamp
    committed_at: Timestamp | None
    # The import that made it: its file's name and who ran it (None if that job is gone).
    filename: str | None
    imported_by: str | None
    # Until when its last replace can be undone (POST .../undo-replace); None: it cannot.
    undo_replace_until: Timestamp | None

    @classmethod
    def of(cls, lote: Lote, importer: Job | None, now: datetime) -> LoteView:
        return cls(
            lote_id=lote.lote_id,
            status=LoteStatus(lote.status),
            codigo_tarjeta=lote.codigo_tarjeta,
            periodo=lote.periodo,
            job_id=lote.job_id,
            line_count=int(lote.line_count),
            totals=lote.totals,
            created_at=lote.created_at,
            committed_at=lote.committed_at,
            filename=importer.parameters.get("filename") if importer else None,
            imported_by=importer.user_id if importer else None,
            undo_replace_until=replacements.undo_until(lote, now),
        )


class LineView(ApiModel):
    """One imported line: its record after the rules, and what the rules did to it."""

    line_no: int
    record: dict[str, Any]
    rules_fired: list[str]
    rule_errors: list[dict[str, Any]]

    @classmethod
    def of(cls, line: Line) -> LineView:
        return cls(
            line_no=int(line.line_no),
            record=line.record,
            rules_fired=line.rules_fired,
            rule_errors=line.rule_errors,
        )


class LoteList(ApiModel):
    """GET /api/lotes: the tenant's visible lotes, by id."""

    lotes: list[LoteView]
    next_cursor: str | None


class LoteDetail(ApiModel):
    """GET /api/lotes/{lote_id}: the lote and a page of its lines, in file order.

    Filtered, a page holds the matches among the next lines looked at (maybe none) and
    `searchedThrough` says up to which line number the lote has been looked at."""

    lote: LoteView
    # The record fields the rules of the lote's import set (new ones, or the file's own).
    rule_fields: list[str]
    lines: list[LineView]
    searched_through: int
    next_cursor: str | None


def list_lotes(owner: Identity, query: LoteListQuery, now: datetime) -> LoteList:
    page = lotes.list_active(
        owner.tenant_id, query.limit, query.cursor or None, query.codigo_tarjeta, query.periodo
    )
    importers = _importers(page.items)
    views = [LoteView.of(lote, importers.get(lote.job_id or ""), now) for lote in page.items]
    return LoteList(lotes=views, next_cursor=page.next_cursor)


def _importers(items: list[Lote]) -> dict[str, Job]:
    """The imports that made a page of lotes, in one batch read (a page is at most 100)."""
    ids = {lote.job_id for lote in items if lote.job_id}
    return {job.id: job for job in Job.batch_get(ids)} if ids else {}


def get_lote(owner: Identity, lote_id: str, query: LoteLinesQuery, now: datetime) -> LoteDetail:
    lote = lotes.get_active(owner.tenant_id, lote_id)
    page = lotes.lines_page(lote, query.limit, query.cursor or None, query.line_filter())
    return LoteDetail(
        lote=LoteView.of(lote, lifecycle.get(lote.job_id or ""), now),
        rule_fields=list(lote_export.rule_fields(lote)),
        lines=[LineView.of(line) for line in page.items],
        searched_through=page.searched_through,
        next_cursor=page.next_cursor,
    )


class LoteRestored(ApiModel):
    """POST /api/lotes/{loteId}/undo-replace: the lote as it is again."""

    message: str
    lote: LoteView


def undo_replace(owner: Identity, lote_id: str, services: Services) -> LoteRestored:
    lote = replacements.undo(owner, lote_id, services)
    count = lifecycle.format_count(int(lote.line_count))
    return LoteRestored(
        message=f"El lote {lote_id} volvió a su contenido anterior ({count} registros); "
        "los registros del reemplazo se eliminan en segundo plano.",
        lote=LoteView.of(lote, lifecycle.get(lote.job_id or ""), services.clock.now()),
    )


def delete_lote(owner: Identity, lote_id: str, services: Services) -> JobAction:
    """Hides the lote at once and starts a LOTE_DELETE job that removes its lines.

    Raises:
        LoteNotFound: the tenant has no such ACTIVE lote.
        JobConflict: an import changed the lote while it was being marked for deletion.
    """
    lote = lotes.get_active(owner.tenant_id, lote_id)
    try:
        with transaction() as tx:
            lotes.begin_delete(lote, tx)
            job = lote_delete.deletion_job(
                owner=owner,
                lote_id=lote_id,
                generation_job_id=lote.job_id,
                reason=lote_delete.REASON_DELETE,
                line_count=int(lote.line_count),
                line_shards=int(lote.line_shards),
                services=services,
                transaction=tx,
            )
    except TransactWriteError as exc:
        if not transaction_cancelled(exc):
            raise
        raise JobConflict(
            f"lote {lote_id} changed while deleting it",
            f"El lote {lote_id} está siendo modificado por otra importación; intente luego.",
        ) from exc
    services.queue.send(lifecycle.message_for(job))
    return JobAction.of(job)


class ExportRequest(Request):
    """Body of POST /api/lotes/{lote_id}/export: the file's format."""

    labels: ClassVar[dict[str, str]] = {"format": "formato"}

    format: Literal["csv", "xlsx"]

    @classmethod
    def problem(cls, error: ErrorDetails) -> str:
        if error["loc"] == ("format",) and error["type"] != "missing":
            return "El formato debe ser csv o xlsx."
        return super().problem(error)


def export_lote(
    owner: Identity, lote_id: str, body: ExportRequest, services: Services
) -> JobAction:
    """Starts an EXPORT job of the lote's lines, followed like an import.

    Raises:
        LoteNotFound: the tenant has no such ACTIVE lote.
        TooManyRows: an XLSX of more rows than a spreadsheet holds.
    """
    job = lote_export.export_job(
        owner=owner, lote_id=lote_id, file_format=body.format, services=services
    )
    services.queue.send(lifecycle.message_for(job))
    return JobAction.of(job)
