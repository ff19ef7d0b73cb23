"""One chunk of a DKT import, prepared apart from its writes: read, parsed, ruled.

The import prepares the next chunk while the current one's batch writes are in flight
(chalicelib/jobtypes/dkt_import.py); a prepared chunk is only lines in memory and sums,
used by the chunk that starts where the last checkpoint says, and dropped otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from chalicelib import dkt
from chalicelib.adapters.storage import RawLine
from chalicelib.core.errors import FileChanged
from chalicelib.core.line_keys import line_partition
from chalicelib.core.models import Job, Line
from chalicelib.core.settings import Settings
from chalicelib.dkt.rules import RuleSet
from chalicelib.stores import lotes


@dataclass
class Chunk:
    """One chunk of the import, read, parsed and ruled: the lines to write and what they
    add to the job's state. `changed`: the file no longer validates at this chunk."""

    start: int  # byte offset the chunk was read from
    first_line_no: int  # the checkpoint's line number there
    line_no: int = 0  # the last line number read
    end: int = 0  # byte offset after the chunk
    at_end: bool = False
    processed: int = 0
    rule_errors: int = 0
    items: list[Line] = field(default_factory=list)
    totals: dict[str, Decimal] = field(default_factory=dict)
    changed: FileChanged | None = None


def prepare_chunk(
    job: Job,
    raw_lines: Iterable[RawLine],
    start: int,
    line_no: int,
    rules: RuleSet,
    settings: Settings,
) -> Chunk:
    """The chunk of `raw_lines`, read from byte `start` after line `line_no`: the valid
    lines as Line items under the job's generation, with the rules applied, and their sums.
    A strict job's invalid line means the file changed since validation (`changed`)."""
    state = job.checkpoint.state
    encoding = dkt.Encoding(state.get("encoding") or "utf-8")
    generation = lotes.generation_of(job)
    shards = lotes.shards_of(job)
    strict = not job.parameters.get("skipInvalidLines", False)
    chunk = Chunk(start=start, first_line_no=line_no)
    for raw in raw_lines:
        line_no += 1
        if raw.too_long:
            chunk.processed += 1
            continue
        parsed = dkt.parse_line(raw.data, line_no, encoding, settings.card_hash_key)
        if parsed is None:
            continue
        chunk.processed += 1
        if isinstance(parsed, dkt.LineError) or parsed.periodo != state["periodo"]:
            if strict:
                # Validation passed every line of this very version of the file.
                chunk.changed = FileChanged(f"job {job.id}: line {line_no} no longer validates")
                return chunk
            continue  # reported at validation; skipInvalidLines leaves it out
        outcome = rules.apply(parsed.to_record())
        chunk.rule_errors += len(outcome.errors)
        chunk.items.append(
            Line(
                generation=line_partition(generation, line_no, shards),
                line_no=line_no,
                record=outcome.record,
                rules_fired=list(outcome.fired),
                rule_errors=[error.to_dict() for error in outcome.errors],
            )
        )
        chunk.totals[parsed.moneda] = chunk.totals.get(parsed.moneda, Decimal("0")) + parsed.importe
    chunk.line_no = line_no
    return chunk
