"""The job types the engine runs: an explicit table, handed over by the composition root.

`chalicelib/runtime.py` installs `chalicelib.jobtypes.JOB_TYPES` when it builds the
services; the engine never imports a job type itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from chalicelib.adapters.services import Services
from chalicelib.core.models import Job, JobType
from chalicelib.engine.jobtype import JobKind


class UnknownJobType(LookupError):
    """A job whose type has no entry in the installed table."""


class JobTypes:
    """The table `{JobType: job type class}` the engine looks types up in."""

    def __init__(self, table: Mapping[JobType, type[JobKind]]) -> None:
        self._table = MappingProxyType(dict(table))

    def kind_of(self, job_type: str) -> type[JobKind]:
        try:
            return self._table[JobType(job_type)]
        except (KeyError, ValueError) as exc:
            raise UnknownJobType(f"no job type {job_type!r} is installed") from exc

    def for_job(self, job: Job, services: Services) -> JobKind:
        """The job's type, built for one delivery."""
        return self.kind_of(job.type)(services)

    def cancel_refusal(self, job: Job) -> str | None:
        """Why `job` cannot be cancelled, as the user reads it; None if it can."""
        return self.kind_of(job.type).cancel_refusal


_installed: JobTypes | None = None


def install(job_types: JobTypes) -> None:
    """Makes `job_types` the table the engine's entry points use."""
    global _installed
    _installed = job_types


def installed() -> JobTypes:
    if _installed is None:
        raise RuntimeError("no job types installed: chalicelib.runtime.services() installs them")
    return _installed
