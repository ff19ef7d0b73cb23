"""Where a generation's lines live: its name and the partition keys its lines are spread
over, so that no key takes more writes a second than DynamoDB serves."""

from __future__ import annotations

import math


def generation_key(tenant_id: str, lote_id: str, job_id: str) -> str:
    """The name of one import's lines for one lote (its partitions are `line_partitions`)."""
    return f"{tenant_id}#{lote_id}#{job_id}"


# A partition key serves at most 1,000 write units a second, and a stored line costs one.
# Lines go round-robin over a generation's shards (`line_no % shards`): any run of
# consecutive lines, one BatchWriteItem of 25 or a chunk of 100, spreads evenly over them,
# so each key takes 1/shards of whatever rate the import writes at, at every instant.
# One worker with 4 batches of 25 in flight at ~10 ms each writes at most ~10,000 lines/s
# (200 a key with 50 shards); ~20 workers of one import are held by the table's own
# limit (40,000 WCU/s warmed): 40,000 / 50 = 800 a key, under 1,000 with room for retries.
# Reading a page merges the shards (one query each), so small files use fewer of them.
LINES_PER_SHARD = 100


def line_shards_for(total_lines: int, max_shards: int) -> int:
    """Shards of a new generation: one per LINES_PER_SHARD lines, at most `max_shards`.

    A key that never holds more than 100 lines cannot take more than 100 write units
    in any second, however fast they are written."""
    return max(1, min(max_shards, math.ceil(total_lines / LINES_PER_SHARD)))


def line_partition(generation: str, line_no: int, shards: int) -> str:
    """The partition key of line `line_no` of a generation spread over `shards`."""
    return f"{generation}#{line_no % shards}"


def line_partitions(generation: str, shards: int) -> list[str]:
    """Every partition key of a generation, in shard order."""
    return [f"{generation}#{shard}" for shard in range(shards)]
