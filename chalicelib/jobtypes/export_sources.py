"""What an EXPORT job writes: a lote's lines, or an import's line-error report.

A source reads rows in file order after a line number, a bounded number at a time, and
says how the user reads what it is ("del lote ICBCVC2404"). The EXPORT type is the same
for both: parts, pieces, cancel and retry do not depend on what the rows are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pynamodb.transactions import TransactWrite

from chalicelib.core.models import Job, Lote, LoteStatus
from chalicelib.dkt import sheet
from chalicelib.stores import line_errors, lotes

LOTE = "lote"
ERRORS = "errors"


@dataclass(frozen=True)
class Rows:
    """Rows read after a line: their cells, the last line number read, whether more follow."""

    cells: list[list[sheet.Cell]]
    last: int
    more: bool


class Source(Protocol):
    columns: Sequence[sheet.Column]
    # What messages name: "el lote ICBCVC2404" (title); "12 registros del lote
    # ICBCVC2404", "3 líneas con error de abril.dkt" (noun and label).
    title: str
    label: str
    noun: str
    sheet_name: str  # the XLSX sheet's name

    def read(self, after: int, limit: int) -> Rows: ...

    def unchanged(self) -> bool:
        """Whether what is exported is still what the export was asked for."""
        ...

    def guard(self, transaction: TransactWrite) -> None:
        """Adds to the completing transaction the condition that `unchanged` checks, so a
        change while the last chunk read cannot complete a file of mixed content."""
        ...


class LoteLines:
    """The lines of the generation the lote showed when the export was asked for."""

    noun = "registros"
    sheet_name = "Lote"

    def __init__(self, job: Job) -> None:
        parameters: dict[str, Any] = job.parameters
        self._tenant_id = job.tenant_id
        self._lote_id = str(parameters["loteId"])
        self._generation = str(parameters["generationJobId"])
        self._shards = int(parameters["lineShards"])
        self.columns: Sequence[sheet.Column] = sheet.columns_for(parameters.get("ruleFields", []))
        self.title = f"el lote {self._lote_id}"
        self.label = f"del lote {self._lote_id}"

    def read(self, after: int, limit: int) -> Rows:
        lines, more = lotes.generation_lines_after(
            self._tenant_id, self._lote_id, self._generation, self._shards, after, limit
        )
        cells = [
            sheet.row(line.record, line.rules_fired, line.rule_errors, self.columns)
            for line in lines
        ]
        return Rows(cells, int(lines[-1].line_no) if lines else after, more)

    def unchanged(self) -> bool:
        return lotes.shows_generation(self._tenant_id, self._lote_id, self._generation)

    def guard(self, transaction: TransactWrite) -> None:
        transaction.condition_check(
            Lote,
            self._tenant_id,
            range_key=self._lote_id,
            condition=(Lote.status == LoteStatus.ACTIVE.value) & (Lote.job_id == self._generation),
        )


class ImportErrors:
    """The line errors an import kept (its error report), card numbers already masked."""

    noun = "líneas con error"
    sheet_name = "Errores"
    columns: Sequence[sheet.Column] = sheet.ERROR_COLUMNS

    def __init__(self, job: Job) -> None:
        parameters: dict[str, Any] = job.parameters
        self._job_id = str(parameters["sourceJobId"])
        name = parameters.get("sourceFilename") or self._job_id
        self.title = f"los errores de {name}"
        self.label = f"de {name}"

    def read(self, after: int, limit: int) -> Rows:
        items, more = line_errors.after(self._job_id, after, limit)
        cells = [
            sheet.error_row(
                {
                    "lineNo": item.line_no,
                    "field": item.field,
                    "value": item.value,
                    "reason": item.reason,
                }
            )
            for item in items
        ]
        return Rows(cells, int(items[-1].line_no) if items else after, more)

    def unchanged(self) -> bool:
        return True  # a final job's report does not change

    def guard(self, transaction: TransactWrite) -> None:
        return None


def source_of(job: Job) -> Source:
    if job.parameters.get("source", LOTE) == ERRORS:
        return ImportErrors(job)
    return LoteLines(job)
