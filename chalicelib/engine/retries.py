"""Retrying a FAILED or CANCELLED job: at once, or, while the staged lines of its last
attempt are still being removed, as soon as they are.

A job that fails or is cancelled with lines staged removes them first (DISCARD), a few
seconds for an ordinary file. A retry asked for meanwhile is not refused: it is noted
on the job (`retry_requested`), and the delivery that ends the discard queues it
(runner.py), starting over on the file as it is then (the point of retrying right after
FILE_CHANGED). If that delivery is lost, the sweeper's last pass over the discard ends
it again, and queues the retry then.

Automatic retries: a job that failed for a transient reason (its work message failed
every delivery, or its worker was lost too often) gets `next_retry_at` with the failure,
AUTO_RETRY_BASE_S * 2^(n-1) after it for the n-th automatic retry, until it has had
AUTO_RETRY_ATTEMPTS attempts; the sweeper retries it at its first pass after that time,
from its checkpoint (its staged lines are kept). A data error (invalid lines, an
existing lote, a changed file) is never retried by itself: it would fail again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib.adapters.services import Services
from chalicelib.core.errors import DuplicateFile, JobConflict, LoteExists, TooManyActiveJobs
from chalicelib.core.models import DISCARDING_PHASES, Job, JobType, Phase
from chalicelib.core.observability import logger
from chalicelib.core.settings import Settings
from chalicelib.engine import lifecycle
from chalicelib.engine.guards import CHECKPOINT, update_if
from chalicelib.engine.jobtype import JobKind

DEFERRED_MESSAGE = (
    "Reintento pedido: comenzará en cuanto se terminen de descartar los registros del "
    "intento anterior."
)


def retry(job: Job, services: Services, *, options: frozenset[str] = frozenset()) -> bool:
    """Queues a retry of `job`: True if queued now, False if it waits for the discard.
    `options` (RETRY_OPTIONS) are parameters of the import set to true for this retry.

    Raises:
        JobConflict: the job is not retryable, its upload is gone or unusable, or the
            file was replaced while the job can only resume from its checkpoint; or an
            option is asked of a job that did not fail the way it answers.
    """
    refuse_unhelpful(job, options)
    upload = _upload_now(job, services)
    if Phase(job.checkpoint.phase) in DISCARDING_PHASES and _defer(job, options):
        return False
    if upload and job.file_etag and upload[1] != job.file_etag and not lifecycle.starts_over(job):
        raise JobConflict(
            f"job {job.id}: upload {job.upload_key} was replaced",
            "El archivo cambió desde que comenzó esta importación; cree una nueva.",
        )
    services.queue.send(lifecycle.prepare_retry(job, upload, clock=services.clock, options=options))
    return True


LOTE_EXISTS = LoteExists.code
DUPLICATE_FILE = DuplicateFile.code

# What a retry of an import may change, each the answer to one failure: `replace` its
# lote, already imported; import its file, already imported into a lote, anyway.
RETRY_OPTIONS: dict[str, str] = {"replace": LOTE_EXISTS, "allowDuplicate": DUPLICATE_FILE}
OPTION_REFUSALS: dict[str, str] = {
    "replace": "Solo una importación que encontró su lote ya importado puede reintentarse "
    "reemplazándolo.",
    "allowDuplicate": "Solo una importación rechazada por ser un archivo ya importado puede "
    "reintentarse importándolo de todos modos.",
}

# Failures that say nothing about the file: a retry may well succeed.
TRANSIENT_CODES = frozenset({"PROCESSING_ERROR", "WORKER_LOST"})
# Failures of the file itself or of its upload: a retry reads the same object with the
# same parameters and fails again (LOTE_EXISTS is not one: it helps once the lote is gone).
UNHELPED_BY_RETRY = frozenset(
    {
        "INVALID_LINES",
        "NO_VALID_LINES",
        "NOT_A_DKT_FILE",
        "EMPTY_FILE",
        "SIZE_MISMATCH",
        "FILE_TOO_LARGE",
        "UPLOAD_TIMEOUT",
        "INVALID_REQUEST",
        # An export of a lote that changed: the job is of the generation it was asked for.
        "LOTE_CHANGED",
        # Fails again unless the retry says to import it anyway (allowDuplicate).
        DUPLICATE_FILE,
    }
)


def retryable(job: Job) -> bool:
    """Whether a retry of `job` could end otherwise than its last attempt."""
    if job.job_status not in lifecycle.RETRYABLE_STATUSES:
        return False
    return (job.error or {}).get("code") not in UNHELPED_BY_RETRY


def refuse_unhelpful(job: Job, options: frozenset[str] = frozenset()) -> None:
    """Raises JobConflict for a FAILED job a retry (with `options`) cannot help, saying
    what to do instead."""
    code = (job.error or {}).get("code")
    for option in sorted(options):
        if job.type != JobType.DKT_IMPORT or code != RETRY_OPTIONS[option]:
            raise JobConflict(
                f"job {job.id}: {option} asked, but it did not fail with {RETRY_OPTIONS[option]}",
                OPTION_REFUSALS[option],
            )
    if code == DUPLICATE_FILE and options:
        return  # allowDuplicate: the one thing that failed it is lifted
    if job.job_status in lifecycle.RETRYABLE_STATUSES and not retryable(job):
        raise JobConflict(
            f"job {job.id} failed with {(job.error or {}).get('code')}: a retry fails again",
            "Reintentar no cambiaría el resultado: el problema está en el archivo o en su "
            "envío. Cree una nueva importación con el archivo corregido.",
        )


def retry_time(
    job: Job, kind: type[JobKind], code: str, settings: Settings, now: datetime
) -> datetime | None:
    """When the sweeper should retry `job`, failing now with `code`; None: never by itself
    (a data error, no attempts left, or a type that retries its own way)."""
    attempts = int(job.attempts)
    if code not in TRANSIENT_CODES or attempts >= settings.auto_retry_attempts:
        return None
    if kind.auto_retry_attempts:  # lote deletions: retried whatever failed them
        return None
    return now + timedelta(seconds=settings.auto_retry_base_s * 2 ** (attempts - 1))


def retry_holding(
    job: Job, services: Services, kind: JobKind, *, options: frozenset[str] = frozenset()
) -> bool:
    """`retry`, once the job holds what a live job of its type holds (an import: one of
    its owner's active-import slots), given back if the retry is refused; True if queued now.

    Raises:
        TooManyActiveJobs: the owner has nothing left to hold (every slot is taken).
        JobConflict: as `retry`; a retry that cannot help is refused before anything is held.
    """
    refuse_unhelpful(job, options)  # before a slot is taken: a 409 says more than a 429
    if job.job_status in lifecycle.RETRYABLE_STATUSES:
        kind.hold(job)
    try:
        return retry(job, services, options=options)
    except JobConflict:
        kind.let_go(job)
        raise


def retry_when_due(job: Job, services: Services, kind: JobKind, now: datetime) -> bool:
    """The sweeper's automatic retry of a FAILED job whose `next_retry_at` has come; True
    if it was queued. It waits for what its type holds like any retry (a later sweep tries
    again); one that cannot be (its file is gone) is not tried again."""
    if job.next_retry_at is None or now < job.next_retry_at:
        return False
    try:
        return retry_holding(job, services, kind)
    except TooManyActiveJobs:
        logger.info("automatic retry waits for a free slot", extra={"job_id": job.id})
        return False
    except JobConflict as exc:
        logger.info("automatic retry refused", extra={"reason": str(exc)})
        # The message no longer promises a retry: it says why there will be none.
        message = f"{(job.error or {}).get('message', job.message)} {exc.message}"
        actions = [Job.next_retry_at.remove(), Job.message.set(message)]
        update_if(job, actions, Job.status == job.status)
        return False


def resume_deferred(job: Job, services: Services) -> None:
    """Once a discard has ended: the retry the user asked for meanwhile, if any."""
    if not job.retry_requested:
        return
    try:
        retry(job, services)
    except JobConflict as exc:
        logger.info("deferred retry refused", extra={"reason": str(exc)})
        update_if(job, [Job.retry_requested.remove()], Job.status == job.status)


def _upload_now(job: Job, services: Services) -> tuple[int, str] | None:
    """The job's file as it is now (size, ETag), or None for a job without one."""
    if not job.upload_key:
        return None
    found = services.store.head(job.upload_key)
    if found is None or not 0 < found.size <= services.settings.max_file_size:
        raise JobConflict(
            f"job {job.id}: upload {job.upload_key} is gone or unusable",
            "El archivo de esta importación ya no está disponible; vuelva a subirlo.",
        )
    return found.size, found.etag


def _defer(job: Job, options: frozenset[str]) -> bool:
    """Notes the retry on a job still discarding (its `options` are set on the import's
    parameters now: the deferred retry runs with them); False (job reloaded) if the
    discard ended meanwhile."""
    if job.job_status not in lifecycle.RETRYABLE_STATUSES:
        return False
    condition = (
        (Job.status == job.status)
        & (Job.attempts == job.attempts)
        & CHECKPOINT.phase.is_in(*(phase.value for phase in DISCARDING_PHASES))
    )
    actions = [Job.retry_requested.set(True), Job.message.set(DEFERRED_MESSAGE)]
    if options:
        actions.append(Job.parameters.set({**job.parameters, **dict.fromkeys(options, True)}))
    return update_if(job, actions, condition)
