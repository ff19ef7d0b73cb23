"""A generation's lines over its partition keys: read a page in file order, delete a chunk.

Line `n` of a generation spread over `shards` keys lives under `line_partition(g, n,
shards)`, round-robin (models.py says why). Every reader and deleter covers all the
keys; a page is a merge of one query per key, each asking only its share of the page.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections import deque
from itertools import chain, zip_longest
from typing import Any

from chalicelib.adapters.dynamo import batch_write
from chalicelib.core.errors import InvalidRequest
from chalicelib.core.line_keys import line_partitions
from chalicelib.core.models import Line

MAX_LINE_NO = 10**12


def encode_cursor(after: int) -> str:
    """The opaque cursor of a page that ends at line `after`."""
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode()


def decode_cursor(cursor: str | None) -> int:
    """The line a cursor's page ended at (0: from the start); an edited cursor is a 400."""
    if not cursor:
        return 0
    invalid = InvalidRequest("El cursor de paginación no es válido.", "bad cursor")
    try:
        position: Any = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, binascii.Error) as exc:
        raise invalid from exc
    if not isinstance(position, dict) or list(position) != ["after"]:
        raise invalid
    after = position["after"]
    if type(after) is not int or not 0 <= after < MAX_LINE_NO:
        raise invalid
    return after


class _Shard:
    """One partition key's lines after a position, fetched a few at a time."""

    def __init__(self, partition: str, shard: int, shards: int, after: int) -> None:
        self.partition = partition
        self.shard = shard
        self.shards = shards
        self.last = after  # every line of this key up to here has been fetched
        self.buffer: deque[Line] = deque()
        self.exhausted = False

    def fetch(self, count: int) -> None:
        items = list(Line.query(self.partition, Line.line_no > self.last, limit=count))
        self.buffer.extend(items)
        if items:
            self.last = int(items[-1].line_no)
        # PynamoDB follows DynamoDB's pages until `count`: fewer means none left.
        self.exhausted = len(items) < count

    def next_unseen(self) -> int:
        """The smallest line number this key may still hold beyond what it has fetched:
        it holds only numbers congruent to its shard."""
        start = self.last + 1
        return start + (self.shard - start) % self.shards

    @property
    def done(self) -> bool:
        return self.exhausted and not self.buffer


def page(generation: str, shards: int, after: int, limit: int) -> tuple[list[Line], bool]:
    """Up to `limit` lines numbered above `after`, in file order, and whether more follow.

    Each key is asked for ceil(limit / shards) lines: with lines numbered without gaps,
    that first round holds the whole page. Where the file had gaps (skipped lines) a key
    whose lines ran out is asked again, only when it could hold the next line: a page
    reads at most about three times its size plus one query per key.
    """
    per = math.ceil(limit / shards)
    readers = [
        _Shard(partition, shard, shards, after)
        for shard, partition in enumerate(line_partitions(generation, shards))
    ]
    for reader in readers:
        reader.fetch(per)
    lines: list[Line] = []
    while len(lines) < limit:
        heads = [reader for reader in readers if reader.buffer]
        lowest = min(heads, key=lambda r: int(r.buffer[0].line_no), default=None)
        bound = int(lowest.buffer[0].line_no) if lowest else MAX_LINE_NO
        behind = [
            r for r in readers if not r.buffer and not r.exhausted and r.next_unseen() < bound
        ]
        if behind:
            for reader in behind:
                reader.fetch(per)
            continue
        if lowest is None:
            break
        lines.append(lowest.buffer.popleft())
    return lines, not all(reader.done for reader in readers)


def delete_chunk(generation: str, shards: int, limit: int) -> int:
    """Deletes up to about `limit` lines of a generation, an even share from every key (so
    the deletes, like the writes, spread over the keys); returns how many it found."""
    per = math.ceil(limit / shards)
    # Consistent: an eventually consistent read could miss the last batch written, and
    # the caller would take "nothing found" for "nothing left".
    found = [
        list(
            Line.query(
                partition,
                limit=per,
                attributes_to_get=[Line.generation.attr_name, Line.line_no.attr_name],
                consistent_read=True,
            )
        )
        for partition in line_partitions(generation, shards)
    ]
    # Interleaved: each batch of 25 deletes spans many keys.
    keys = [line for line in chain.from_iterable(zip_longest(*found)) if line is not None]
    batch_write(Line, deletes=keys)
    return len(keys)
