"""One module per job type: what a chunk of that type does.

`JOB_TYPES` is the table the engine runs jobs from; the composition root
(`chalicelib/runtime.py`) hands it to the engine.
"""

from __future__ import annotations

from collections.abc import Mapping

from chalicelib.core.models import JobType
from chalicelib.engine.jobtype import JobKind
from chalicelib.jobtypes.dkt_import import DktImport
from chalicelib.jobtypes.lote_delete import LoteDelete
from chalicelib.jobtypes.lote_export import LoteExport

JOB_TYPES: Mapping[JobType, type[JobKind]] = {
    JobType.DKT_IMPORT: DktImport,
    JobType.LOTE_DELETE: LoteDelete,
    JobType.EXPORT: LoteExport,
}
