"""The seam between the engine and the job types: what each type declares, and that the
engine asks the installed table instead of knowing the types itself."""

from __future__ import annotations

from typing import ClassVar

import pytest

from chalicelib.adapters.services import Services
from chalicelib.core.errors import JobConflict
from chalicelib.core.models import Checkpoint, Job, JobStatus, JobType, Phase, Staged
from chalicelib.engine import checkpoints, lifecycle, registry
from chalicelib.engine.jobtype import ChunkOutcome, Start
from chalicelib.jobtypes import JOB_TYPES
from chalicelib.jobtypes.dkt_import import DktImport
from chalicelib.jobtypes.lote_delete import LoteDelete


def job_of(
    job_type: JobType, status: JobStatus = JobStatus.PROCESSING, phase: Phase = Phase.VALIDATE
) -> Job:
    return Job(
        id="job-1",
        type=job_type.value,
        status=status.value,
        user_id="ana",
        tenant_id="acme",
        checkpoint=Checkpoint(phase=phase.value),
    )


class Untouchable:
    """A job type nobody may cancel, with nothing to do."""

    cancel_refusal: ClassVar[str | None] = "Este proceso no se puede cancelar."
    auto_retry_attempts: ClassVar[int] = 0

    def __init__(self, services: Services) -> None:
        self.services = services

    def start(self, job: Job) -> Start:
        return Start("Empezando.", {"no_such_attribute": 1})

    def run_chunk(self, job: Job) -> ChunkOutcome:
        raise AssertionError("never run")

    @classmethod
    def staged_on_failure(cls, job: Job) -> Staged:
        return Staged.NONE

    def discard_chunk(self, job: Job) -> bool:
        return True

    def accept_overdue_upload(self, job: Job) -> bool:
        return False


def test_every_job_type_has_an_entry_in_the_table() -> None:
    assert set(JOB_TYPES) == set(JobType)


def test_cancelling_asks_the_job_type_whether_it_may() -> None:
    # GIVEN a table in which imports cannot be cancelled
    job_types = registry.JobTypes({JobType.DKT_IMPORT: Untouchable})
    # WHEN a user cancels an import
    with pytest.raises(JobConflict) as refused:
        lifecycle.request_cancel(job_of(JobType.DKT_IMPORT), job_types=job_types)
    # THEN the type's reason is what the user reads
    assert refused.value.message == "Este proceso no se puede cancelar."


def test_a_lote_deletion_cannot_be_cancelled_and_an_import_can() -> None:
    assert LoteDelete.cancel_refusal is not None
    assert "no se puede cancelar" in LoteDelete.cancel_refusal
    assert DktImport.cancel_refusal is None


def test_what_a_failed_job_keeps_is_its_types_call() -> None:
    assert (
        DktImport.staged_on_failure(job_of(JobType.DKT_IMPORT, phase=Phase.IMPORT)) is Staged.KEEP
    )
    assert DktImport.staged_on_failure(job_of(JobType.DKT_IMPORT)) is Staged.NONE
    assert (
        LoteDelete.staged_on_failure(job_of(JobType.LOTE_DELETE, phase=Phase.DELETE)) is Staged.KEEP
    )


def test_only_lote_deletions_are_retried_without_a_user() -> None:
    assert LoteDelete.auto_retry_attempts > 0
    assert DktImport.auto_retry_attempts == 0


def test_a_job_of_a_type_missing_from_the_table_is_refused_by_name() -> None:
    job_types = registry.JobTypes({JobType.DKT_IMPORT: DktImport})
    with pytest.raises(registry.UnknownJobType, match="LOTE_DELETE"):
        job_types.kind_of(JobType.LOTE_DELETE)
    with pytest.raises(registry.UnknownJobType):
        job_types.kind_of("EXPORT")


def test_the_engine_without_an_installed_table_says_where_it_comes_from(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(registry, "_installed", None)
    with pytest.raises(RuntimeError, match="runtime"):
        registry.installed()


def test_a_type_can_only_freeze_attributes_a_job_has() -> None:
    job = job_of(JobType.DKT_IMPORT, status=JobStatus.QUEUED)
    with pytest.raises(ValueError, match="no_such_attribute"):
        checkpoints.start(job, Start("Empezando.", {"no_such_attribute": 1}))
