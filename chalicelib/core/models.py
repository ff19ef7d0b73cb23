"""PynamoDB models: jobs, lotes, staged and committed lines, line errors, rules."""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.models import Model

from chalicelib.core.indexes import (
    ActiveJobsIndex,
    FileLotesIndex,
    RecentLotesIndex,
    SweepIndex,
    TenantJobsIndex,
    UserJobsIndex,
)
from chalicelib.core.line_format import CompactJSONAttribute, CompactRecordAttribute
from chalicelib.core.settings import Settings


class JobStatus(StrEnum):
    """The five statuses of the API. COMPLETED is final; FAILED and CANCELLED can be retried."""

    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


ACTIVE_STATUSES = frozenset({JobStatus.QUEUED, JobStatus.PROCESSING})
FINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})
RETRYABLE_STATUSES = frozenset({JobStatus.FAILED, JobStatus.CANCELLED})


class JobType(StrEnum):
    """Kinds of long process the engine runs; each has a handler in the registry."""

    DKT_IMPORT = "DKT_IMPORT"
    LOTE_DELETE = "LOTE_DELETE"
    EXPORT = "EXPORT"

    @property
    def noun(self) -> str:
        """What the user calls a job of this type in the messages all types share."""
        return _JOB_NOUNS[self]


_JOB_NOUNS = {
    JobType.DKT_IMPORT: "importación",
    JobType.LOTE_DELETE: "eliminación",
    JobType.EXPORT: "exportación",
}


class Phase(StrEnum):
    """Where a job's checkpoint stands inside its own work."""

    VALIDATE = "VALIDATE"
    IMPORT = "IMPORT"
    DELETE = "DELETE"
    EXPORT = "EXPORT"
    # After FAILED or CANCELLED: staged lines being removed...
    DISCARD = "DISCARD"
    # ...removed; watched a while longer, since a delivery that was still writing when
    # the discard began may add lines after it; then a last pass (VERIFY) removes those.
    SETTLING = "SETTLING"
    VERIFY = "VERIFY"
    DONE = "DONE"


DISCARDING_PHASES = frozenset({Phase.DISCARD, Phase.VERIFY})
# Nothing staged is left to resume from: a retry starts over.
SPENT_PHASES = frozenset({Phase.SETTLING, Phase.DONE})


class LoteStatus(StrEnum):
    """A lote is visible to its tenant only while ACTIVE."""

    STAGING = "STAGING"
    ACTIVE = "ACTIVE"
    DELETING = "DELETING"


class Staged(StrEnum):
    """What happens to the lines a failing job staged."""

    NONE = "NONE"  # nothing was staged
    KEEP = "KEEP"  # kept so a retry resumes; discarded when the retry window closes
    DISCARD = "DISCARD"  # removed now


SWEEP_SHARDS = 10


def sweep_shard_of(job_id: str) -> str:
    """The index partition a job is watched in (stable for the job's life)."""
    return f"SWEEP#{zlib.crc32(job_id.encode()) % SWEEP_SHARDS}"


class Checkpoint(MapAttribute[str, Any]):
    """How far a job got. `seq` fences deliveries; the rest says where to resume."""

    seq = NumberAttribute(default=0)
    # Chunks recorded within the current delivery; fences two copies of one message.
    step = NumberAttribute(default=0)
    phase = UnicodeAttribute(default=Phase.VALIDATE.value)
    byte_offset = NumberAttribute(default=0)
    line_no = NumberAttribute(default=0)
    # Job-type state carried between chunks (encoding, periodo, running totals...).
    state = JSONAttribute(default=dict)

    def __init__(self, **attributes: Any) -> None:
        super().__init__(**attributes)  # type: ignore[no-untyped-call]  # PynamoDB is untyped here


class Job(Model):
    """A long process and everything a user sees of it."""

    class Meta:
        table_name = "dkt-jobs"

    id = UnicodeAttribute(hash_key=True)
    type = UnicodeAttribute()
    status = UnicodeAttribute()
    user_id = UnicodeAttribute()
    tenant_id = UnicodeAttribute()
    active_user_id = UnicodeAttribute(null=True)
    sweep_shard = UnicodeAttribute(null=True)
    parameters = JSONAttribute(default=dict)
    progress = NumberAttribute(default=0)
    total_items = NumberAttribute(null=True)
    processed_items = NumberAttribute(default=0)
    message = UnicodeAttribute(default="")
    result = JSONAttribute(null=True)
    error = JSONAttribute(null=True)
    # How the job's webhook call went (engine/notifier.py), once it was made.
    callback = JSONAttribute(null=True)
    # The last attempt whose end was e-mailed to the user (engine/mailer.py).
    emailed_attempt = NumberAttribute(null=True)
    error_count = NumberAttribute(default=0)
    attempts = NumberAttribute(default=1)
    # Times the sweeper re-enqueued this attempt after its worker vanished.
    rescues = NumberAttribute(default=0)
    # Technical reason of the last failed delivery, for the dead-letter handler.
    last_error = UnicodeAttribute(null=True)
    cancel_requested = BooleanAttribute(default=False)
    # A retry asked for while the last attempt's lines were being discarded (retries.py).
    retry_requested = BooleanAttribute(null=True)
    # When the sweeper retries a job that failed for a transient reason (retries.py).
    next_retry_at = UTCDateTimeAttribute(null=True)
    # A QUEUED job that starts no earlier than this (engine/schedule.py).
    run_at = UTCDateTimeAttribute(null=True)
    checkpoint = Checkpoint(default=Checkpoint)
    rows_per_second = NumberAttribute(null=True)
    eta_seconds = NumberAttribute(null=True)
    lote_id = UnicodeAttribute(null=True)
    lote_deleted = BooleanAttribute(default=False)
    upload_key = UnicodeAttribute(null=True)
    # Size and ETag of the uploaded object, set once when the upload is accepted; every
    # read is pinned to that ETag, so a file replaced mid-import is noticed, not mixed in.
    file_size = NumberAttribute(null=True)
    file_etag = UnicodeAttribute(null=True)
    # SHA-256 (hex) of that object, computed when it is accepted (stores/file_digests.py).
    file_sha256 = UnicodeAttribute(null=True)
    # The version of the tenant's rules the job started with (0: the tenant had none).
    rules_version = NumberAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    started_at = UTCDateTimeAttribute(null=True)
    completed_at = UTCDateTimeAttribute(null=True)
    heartbeat_at = UTCDateTimeAttribute(null=True)
    expires_at = TTLAttribute(null=True)

    user_jobs = UserJobsIndex()
    tenant_jobs = TenantJobsIndex()
    active_jobs = ActiveJobsIndex()
    sweep = SweepIndex()

    @property
    def job_status(self) -> JobStatus:
        return JobStatus(self.status)


class Lote(Model):
    """A batch of statement lines per tenant, card product and period (e.g. ICBCVC2404)."""

    class Meta:
        table_name = "dkt-lotes"

    tenant_id = UnicodeAttribute(hash_key=True)
    lote_id = UnicodeAttribute(range_key=True)
    status = UnicodeAttribute()
    codigo_tarjeta = UnicodeAttribute()
    periodo = UnicodeAttribute()
    # The import whose lines are the lote's visible content (None until the first commit).
    job_id = UnicodeAttribute(null=True)
    # The import currently staging lines for this lote, if any.
    staging_job_id = UnicodeAttribute(null=True)
    user_id = UnicodeAttribute()
    line_count = NumberAttribute(default=0)
    # Partition keys the visible generation's lines are spread over (`line_partitions`).
    line_shards = NumberAttribute(default=1)
    totals = JSONAttribute(default=dict)
    created_at = UTCDateTimeAttribute()
    committed_at = UTCDateTimeAttribute(null=True)
    # The content the last replace made invisible, while it can be restored (replacements.py).
    replaced = JSONAttribute(null=True)
    # `tenant#sha256` of the file the visible content was imported from (stores/file_digests).
    file_digest = UnicodeAttribute(null=True)
    recent = RecentLotesIndex()
    by_file = FileLotesIndex()


class Line(Model):
    """One imported statement line. Keyed by generation (tenant, lote, job) and line number,
    so writing a chunk twice changes nothing, and staged lines stay invisible until the
    lote points at their generation.

    A generation's lines are spread over `shards` partition keys (`line_partition`), and
    stored compactly (one-letter names, deflated values) so that a line is under 1 KB:
    one write unit (DESIGN.md, guarantee 10)."""

    class Meta:
        table_name = "dkt-lines"
        # adapters.dynamo.batch_write backs off throttled line writes itself, inside the
        # invocation's time limit; botocore's own retries (up to ~7 s in standard mode)
        # know no such limit, so they get one quick retry only.
        max_retry_attempts = 1

    generation = UnicodeAttribute(hash_key=True, attr_name="g")
    line_no = NumberAttribute(range_key=True, attr_name="n")
    record = CompactRecordAttribute(attr_name="r")
    rules_fired = CompactJSONAttribute(attr_name="f", default=list)
    rule_errors = CompactJSONAttribute(attr_name="e", default=list)


class LineErrorItem(Model):
    """One line-level error of a job's file, for the error report."""

    class Meta:
        table_name = "dkt-line-errors"

    job_id = UnicodeAttribute(hash_key=True)
    line_no = NumberAttribute(range_key=True)
    field = UnicodeAttribute(null=True)
    value = UnicodeAttribute(null=True)
    reason = UnicodeAttribute()


class RuleSetVersion(Model):
    """One version of a tenant's business rules and lookup tables; never changed once written.

    Editing writes the next version, and a job records the version it started with, so
    a rule edit mid-import cannot mix two rule sets in one lote.
    """

    class Meta:
        table_name = "dkt-rules"

    tenant_id = UnicodeAttribute(hash_key=True)
    version = NumberAttribute(range_key=True)
    rules = JSONAttribute(default=list)
    lookups = JSONAttribute(default=dict)
    created_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute()


class ActiveSlots(Model):
    """One per user, in the jobs table: the jobs counted against their active-job limit.

    Written only with a condition on `version`, so simultaneous creates of one user
    serialise on it (stores/active_slots.py). Its id cannot be a job's (`#` in it).
    """

    class Meta:
        table_name = "dkt-jobs"

    id = UnicodeAttribute(hash_key=True)
    # job id -> when it took its slot (ISO 8601)
    held = JSONAttribute(default=dict)
    version = NumberAttribute(default=0)
    expires_at = TTLAttribute(null=True)


ALL_MODELS: tuple[type[Model], ...] = (Job, Lote, Line, LineErrorItem, RuleSetVersion)


def bind_models(settings: Settings) -> None:
    """Points every model at the configured tables and region, and drops cached clients.

    Called once at import of the app and again by tests after moto starts, since a
    PynamoDB connection created outside moto would talk to the real AWS.
    """
    names: dict[type[Model], str] = {
        Job: settings.jobs_table,
        ActiveSlots: settings.jobs_table,
        Lote: settings.lotes_table,
        Line: settings.lines_table,
        LineErrorItem: settings.errors_table,
        RuleSetVersion: settings.rules_table,
    }
    for model, table_name in names.items():
        model.Meta.table_name = table_name
        model.Meta.region = settings.region
        model._connection = None


def create_tables(models: Iterable[type[Model]] = ALL_MODELS) -> None:
    """Creates the tables on demand (local stack and tests; deployed, infra/ declares them)."""
    for model in models:
        if not model.exists():
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
