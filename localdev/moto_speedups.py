"""moto's DynamoDB Query made to read only the partition it asks for, as DynamoDB does.

moto answers a table Query by comparing every item of the table with the hash key
(`moto/dynamodb/models/table.py`, `Table.query`). A page of a lote's lines is one Query
per partition key (50), and a discard or a deletion runs one per key per chunk, so once
a test run or a `make run` session has stored a few hundred thousand lines, one chunk
costs moto seconds of CPU, a worker invocation outlives its budget many times over, and
everything behind it waits. DynamoDB reads one partition per Query. `install()` gives
moto's own Query code a view of the table that holds the queried partition only; the
results, their order, paging and filters are moto's, unchanged. Index queries are left
as they are (an index's items are not grouped by its hash key).

Never part of the service: the local stack's moto server (`python -m
localdev.moto_speedups`, moto server's own arguments) and the tests install it.
"""

from __future__ import annotations

import functools
import sys
from typing import Any

_INDEX_NAME_POSITION = 6  # in Table.query's positional arguments, after hash_key


class _OnePartition:
    """A moto table as Query sees it: every attribute the table's, its items one partition's."""

    def __init__(self, table: Any, hash_key: Any) -> None:
        self._table = table
        self._hash_key = hash_key

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)

    def all_items(self) -> list[Any]:
        partition = self._table.items.get(self._hash_key)
        if partition is None:
            return []
        if self._table.range_key_attr:
            return list(partition.values())
        return [partition]


def install() -> None:
    """Patches moto's Table.query (once per process)."""
    from moto.dynamodb.models.table import Table

    if getattr(Table.query, "_one_partition", False):
        return
    original = Table.query

    @functools.wraps(original)
    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        if len(args) > _INDEX_NAME_POSITION:
            index_name = args[_INDEX_NAME_POSITION]
        else:
            index_name = kwargs.get("index_name")
        if index_name or hash_key is None:
            return original(self, hash_key, *args, **kwargs)
        return original(_OnePartition(self, hash_key), hash_key, *args, **kwargs)

    query._one_partition = True  # type: ignore[attr-defined]
    Table.query = query  # type: ignore[method-assign]


def main() -> None:
    install()
    from moto.server import main as moto_server

    moto_server(sys.argv[1:])


if __name__ == "__main__":
    main()
