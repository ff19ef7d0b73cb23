"""Imported batches: claim a lote for staging, write its lines, commit, discard, read.

A lote's visible content is the generation of lines of the import it points to
(`Lote.job_id`). An import stages its lines under its own generation and the
lote points at them only at commit, in the same transaction that completes the
job: until then nothing is visible, and a replacement swaps atomically.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters import pagination
from chalicelib.adapters.dynamo import PendingWrites, condition_failed, start_batch_write
from chalicelib.core.clock import SYSTEM_CLOCK, Clock
from chalicelib.core.errors import JobConflict, LoteExists, LoteNotFound
from chalicelib.core.line_keys import generation_key as _generation_key
from chalicelib.core.models import FINAL_STATUSES, Job, JobStatus, Line, Lote, LoteStatus
from chalicelib.stores import file_digests
from chalicelib.stores import lines as generation_lines
from chalicelib.stores.line_filter import LineFilter
from chalicelib.stores.page import Page

MAX_ID_LENGTH = 64  # a lote id is a card product code (12) and a period (4)

# A filtered read of a lote's lines looks at up to this many lines per request (about
# 200 queries of 10 lines each over 50 keys, ~1 s on DynamoDB), read this many at a time.
FILTER_SCAN_LINES = 2_000
FILTER_READ_LINES = 500


@dataclass(frozen=True)
class FilteredPage(Page[Line]):
    """A page of a lote's lines, and the last line number it looked at."""

    searched_through: int


def lote_id_for(codigo_tarjeta: str, periodo: str) -> str:
    """ICBCVC + 2404 -> ICBCVC2404."""
    return f"{codigo_tarjeta}{periodo}"


def generation_of(job: Job) -> str:
    if not job.lote_id:
        raise ValueError(f"job {job.id} has no lote yet")
    return _generation_key(job.tenant_id, job.lote_id, job.id)


SHARDS_STATE = "lineShards"


def shards_of(job: Job) -> int:
    """The partition keys `job`'s lines are spread over, fixed when its import began
    (`SHARDS_STATE` in its checkpoint), so a change of LINE_SHARDS mid-import cannot
    scatter one generation over two layouts."""
    return int(job.checkpoint.state.get(SHARDS_STATE, 1))


def _get(tenant_id: str, lote_id: str) -> Lote | None:
    try:
        return Lote.get(tenant_id, lote_id, consistent_read=True)
    except DoesNotExist:
        return None


def claim(
    job: Job,
    lote_id: str,
    codigo_tarjeta: str,
    periodo: str,
    replace: bool,
    *,
    clock: Clock = SYSTEM_CLOCK,
) -> None:
    """Makes `job` the one import staging `lote_id`.

    Raises LoteExists when the lote is ACTIVE and the user did not ask to replace
    it, and JobConflict when another import is staging it right now.
    """
    for _ in range(3):
        lote = _get(job.tenant_id, lote_id)
        if lote is None:
            lote = Lote(
                tenant_id=job.tenant_id,
                lote_id=lote_id,
                status=LoteStatus.STAGING.value,
                codigo_tarjeta=codigo_tarjeta,
                periodo=periodo,
                staging_job_id=job.id,
                user_id=job.user_id,
                created_at=clock.now(),
            )
            try:
                lote.save(condition=Lote.lote_id.does_not_exist())
                return
            except PutError as exc:
                if not condition_failed(exc):
                    raise
                continue
        if lote.staging_job_id == job.id:
            return
        if lote.status == LoteStatus.DELETING:
            raise JobConflict(
                f"lote {lote_id} is being deleted",
                f"El lote {lote_id} se está eliminando; reintente cuando termine.",
            )
        if lote.status == LoteStatus.ACTIVE and not replace:
            raise LoteExists(lote_id)
        if lote.staging_job_id and _is_live(lote.staging_job_id):
            raise JobConflict(
                f"lote {lote_id} is being staged by job {lote.staging_job_id}",
                f"Otra importación del lote {lote_id} está en curso.",
            )
        previous = lote.staging_job_id
        same_claim = (
            Lote.staging_job_id.does_not_exist()
            if previous is None
            else Lote.staging_job_id == previous
        )
        # Nor may the lote have been committed or marked for deletion since it was read.
        condition = same_claim & (Lote.status == lote.status)
        try:
            lote.update(actions=[Lote.staging_job_id.set(job.id)], condition=condition)
            return
        except UpdateError as exc:
            if not condition_failed(exc):
                raise
    raise JobConflict(f"lote {lote_id} kept changing during claim", "Intente nuevamente.")


def _is_live(job_id: str) -> bool:
    try:
        other = Job.get(job_id, consistent_read=True)
    except DoesNotExist:
        return False
    return JobStatus(other.status) not in FINAL_STATUSES


def start_writing_lines(lines: Iterable[Line]) -> PendingWrites:
    """Sends the lines' batch writes; `wait()` on the result before counting them written."""
    return start_batch_write(Line, puts=list(lines))


def current_generation(job: Job) -> Lote | None:
    """The lote `job` stages, as it is before the commit (to know what a replace removes)."""
    return _get(job.tenant_id, job.lote_id) if job.lote_id else None


def add_commit(
    transaction: TransactWrite,
    job: Job,
    line_count: int,
    totals: dict[str, str],
    replaced_job_id: str | None,
    previous: dict[str, Any] | None = None,
    *,
    clock: Clock = SYSTEM_CLOCK,
) -> None:
    """Points the lote at `job`'s generation inside `transaction` (with the job's completion);
    `previous`: what it showed before, kept for an undo of the replace (replacements.py).

    Conditioned on the claim and on the generation it replaces, so a lote changed
    since the caller read it makes the whole transaction fail.
    """
    lote = Lote(job.tenant_id, job.lote_id)
    same_generation = (
        Lote.job_id.does_not_exist() if replaced_job_id is None else Lote.job_id == replaced_job_id
    )
    transaction.update(
        lote,
        actions=[
            Lote.status.set(LoteStatus.ACTIVE.value),
            Lote.job_id.set(job.id),
            Lote.staging_job_id.remove(),
            Lote.line_count.set(line_count),
            Lote.line_shards.set(shards_of(job)),
            Lote.totals.set(totals),
            Lote.user_id.set(job.user_id),
            Lote.committed_at.set(clock.now()),
            # What a later import of the same file is refused with (stores/file_digests).
            Lote.file_digest.set(file_digests.digest_key(job.tenant_id, job.file_sha256))
            if job.file_sha256
            else Lote.file_digest.remove(),
            Lote.replaced.set(previous) if previous else Lote.replaced.remove(),
        ],
        condition=(Lote.staging_job_id == job.id) & same_generation,
    )


def add_restore(
    transaction: TransactWrite, lote: Lote, previous: dict[str, Any], *, clock: Clock
) -> None:
    """Points `lote` back at the content its last replace made invisible (`previous`, as
    `add_commit` kept it), inside `transaction`; conditioned on the lote still showing
    that replace, untouched since."""
    digest = previous.get("fileDigest")
    committed = previous.get("committedAt")
    when = datetime.fromisoformat(committed.replace("Z", "+00:00")) if committed else clock.now()
    transaction.update(
        lote,
        actions=[
            Lote.job_id.set(previous["jobId"]),
            Lote.line_count.set(int(previous["lineCount"])),
            Lote.line_shards.set(int(previous["lineShards"])),
            Lote.totals.set(previous["totals"]),
            Lote.user_id.set(previous["userId"]),
            Lote.committed_at.set(when),
            Lote.file_digest.set(digest) if digest else Lote.file_digest.remove(),
            Lote.replaced.remove(),
        ],
        condition=(Lote.status == LoteStatus.ACTIVE)
        & (Lote.job_id == previous["replacedBy"])
        & Lote.staging_job_id.does_not_exist(),
    )


def delete_generation_chunk(generation: str, shards: int, limit: int) -> int:
    """Deletes up to `limit` lines of one generation (over its `shards` keys); returns how
    many it found: 0 once none is left."""
    return generation_lines.delete_chunk(generation, shards, limit)


def delete_staged_chunk(job: Job, limit: int) -> int:
    """Deletes up to `limit` of `job`'s staged lines; returns how many it found.

    Never touches a committed generation: a lote that points at `job` is left alone.
    """
    if not job.lote_id:
        return 0
    lote = _get(job.tenant_id, job.lote_id)
    if lote is not None and lote.job_id == job.id:
        return 0
    return delete_generation_chunk(generation_of(job), shards_of(job), limit)


def begin_delete(lote: Lote, transaction: TransactWrite) -> None:
    """ACTIVE -> DELETING inside `transaction` (with the creation of the deleting job):
    the lote disappears from its tenant's view at once; its lines go in chunks."""
    transaction.update(
        lote,
        actions=[Lote.status.set(LoteStatus.DELETING.value)],
        condition=(Lote.status == LoteStatus.ACTIVE)
        & (Lote.job_id == lote.job_id)
        & Lote.staging_job_id.does_not_exist(),
    )


def add_removal(
    transaction: TransactWrite, tenant_id: str, lote_id: str, generation_job_id: str
) -> None:
    """Deletes the lote record inside `transaction`, once its lines are gone."""
    transaction.delete(
        Lote(tenant_id, lote_id),
        condition=(Lote.status == LoteStatus.DELETING) & (Lote.job_id == generation_job_id),
    )


def release(job: Job) -> None:
    """Drops `job`'s staging claim; a lote that never became ACTIVE disappears with it."""
    if not job.lote_id:
        return
    lote = _get(job.tenant_id, job.lote_id)
    if lote is None or lote.staging_job_id != job.id:
        return
    try:
        if lote.status == LoteStatus.STAGING:
            lote.delete(condition=Lote.staging_job_id == job.id)
        else:
            lote.update(
                actions=[Lote.staging_job_id.remove()], condition=Lote.staging_job_id == job.id
            )
    except (UpdateError, DeleteError) as exc:
        if not condition_failed(exc):
            raise


def get_active(tenant_id: str, lote_id: str) -> Lote:
    """An ACTIVE lote of the tenant; anything else is not found."""
    if not 0 < len(lote_id) <= MAX_ID_LENGTH:
        raise LoteNotFound(lote_id[:MAX_ID_LENGTH])
    lote = _get(tenant_id, lote_id)
    if lote is None or lote.status != LoteStatus.ACTIVE:
        raise LoteNotFound(lote_id)
    return lote


def list_active(
    tenant_id: str,
    limit: int,
    cursor: str | None,
    codigo_tarjeta: str | None = None,
    periodo: str | None = None,
) -> Page[Lote]:
    """The tenant's visible lotes, the last committed first, a page at a time; of one
    card product and/or one periodo when asked."""
    condition = Lote.status == LoteStatus.ACTIVE
    if codigo_tarjeta is not None:
        condition &= Lote.codigo_tarjeta == codigo_tarjeta
    if periodo is not None:
        condition &= Lote.periodo == periodo
    results = Lote.recent.query(
        tenant_id,
        scan_index_forward=False,
        filter_condition=condition,
        limit=limit,
        last_evaluated_key=pagination.decode(
            cursor,
            ("tenant_id", tenant_id),
            {"tenant_id": "S", "lote_id": "S", "committed_at": "S"},
        ),
    )
    lotes = list(results)
    return Page(lotes, pagination.encode(results.last_evaluated_key))


def lines_page(
    lote: Lote, limit: int, cursor: str | None, matching: LineFilter | None = None
) -> FilteredPage:
    """Lines of the lote's visible generation, in file order, with their line numbers;
    with a filter, those of the next `FILTER_SCAN_LINES` lines that match it (a page may
    then hold fewer than `limit` lines, even none, and still have a next one).

    The cursor is the last line number looked at; it names no key, so an edited one can
    only move within the lote (and a malformed one is a 400)."""
    generation = _generation_key(lote.tenant_id, lote.lote_id, lote.job_id or "")
    shards = int(lote.line_shards)
    after = generation_lines.decode_cursor(cursor)
    if matching is None or matching.is_empty:
        lines, more = generation_lines.page(generation, shards, after, limit)
        last = int(lines[-1].line_no) if lines else after
        return FilteredPage(lines, _cursor(last, more), last)
    found: list[Line] = []
    scanned, last, more = 0, after, True
    while more and len(found) < limit and scanned < FILTER_SCAN_LINES:
        batch, more = generation_lines.page(
            generation, shards, last, min(FILTER_READ_LINES, FILTER_SCAN_LINES - scanned)
        )
        scanned += len(batch)
        for index, line in enumerate(batch):
            if matching.matches(line):
                found.append(line)
                if len(found) == limit:
                    more = more or index < len(batch) - 1
                    batch = batch[: index + 1]
                    break
        last = int(batch[-1].line_no) if batch else last
    return FilteredPage(found, _cursor(last, more), last)


def _cursor(last: int, more: bool) -> str | None:
    return generation_lines.encode_cursor(last) if more else None


def shows_generation(tenant_id: str, lote_id: str, generation_job_id: str) -> bool:
    """Whether the lote is ACTIVE and still shows the lines of import `generation_job_id`."""
    lote = _get(tenant_id, lote_id)
    return (
        lote is not None and lote.status == LoteStatus.ACTIVE and lote.job_id == generation_job_id
    )


def generation_lines_after(
    tenant_id: str, lote_id: str, generation_job_id: str, shards: int, after: int, limit: int
) -> tuple[list[Line], bool]:
    """Up to `limit` lines of one generation numbered above `after`, in file order, and
    whether more follow (an export reads the generation it was asked for, page by page)."""
    generation = _generation_key(tenant_id, lote_id, generation_job_id)
    return generation_lines.page(generation, shards, after, limit)
