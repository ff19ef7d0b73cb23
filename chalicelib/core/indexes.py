"""The secondary indexes of the jobs and lotes tables: how each read is served."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import (
    AllProjection,
    GlobalSecondaryIndex,
    IncludeProjection,
    KeysOnlyProjection,
)

if TYPE_CHECKING:
    # Named in the indexes' types only (a string to ruff, which cannot see it used).
    from chalicelib.core.models import Job, Lote  # noqa: F401


class UserJobsIndex(GlobalSecondaryIndex["Job"]):
    """A user's jobs, newest first."""

    class Meta:
        index_name = "user-jobs"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


class TenantJobsIndex(GlobalSecondaryIndex["Job"]):
    """A tenant's jobs by creation time, for its metrics (api/metrics.py). Only what they
    count is projected, so a job's progress updates never write to it."""

    class Meta:
        index_name = "tenant-jobs"
        projection = IncludeProjection(["type", "status", "started_at", "completed_at", "result"])

    tenant_id = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


class ActiveJobsIndex(GlobalSecondaryIndex["Job"]):
    """Sparse: only QUEUED and PROCESSING jobs carry `active_user_id`.

    Serves the per-user limit of active jobs, the page's "resume on return"
    and the sweeper, none of which should read a user's whole history.
    """

    class Meta:
        index_name = "active-jobs"
        projection = AllProjection()

    active_user_id = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


class SweepIndex(GlobalSecondaryIndex["Job"]):
    """Sparse: jobs the sweeper watches (not finished, or with staged lines still to
    remove), by last sign of life. The sweeper reads only these.

    Spread over SWEEP_SHARDS partitions (every chunk moves a job's heartbeat, and one
    partition would throttle the table's writes); keys only, the sweeper reads each
    job it acts on anyway."""

    class Meta:
        index_name = "sweep"
        projection = KeysOnlyProjection()

    sweep_shard = UnicodeAttribute(hash_key=True)
    heartbeat_at = UTCDateTimeAttribute(range_key=True)


class RecentLotesIndex(GlobalSecondaryIndex["Lote"]):
    """A tenant's committed lotes, the last committed first (sparse: a lote being staged
    for the first time has no `committed_at`)."""

    class Meta:
        index_name = "recent-lotes"
        projection = AllProjection()

    tenant_id = UnicodeAttribute(hash_key=True)
    committed_at = UTCDateTimeAttribute(range_key=True)


class FileLotesIndex(GlobalSecondaryIndex["Lote"]):
    """The lotes whose visible content came from a file, by `tenant#sha256` (sparse; keys
    only: a lote is read again, consistently, before it is believed)."""

    class Meta:
        index_name = "lotes-by-file"
        projection = KeysOnlyProjection()

    file_digest = UnicodeAttribute(hash_key=True)
