"""A lote's lines spread over several partition keys still read back in file order, page
by page, with their true line numbers; every reader and deleter covers every key."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from faults import LINES_TABLE, FaultInjector
from support import Api, import_file, stored_lines

from bench.rulesets import LOOKUPS, TWENTY_RULES
from chalicelib import runtime
from chalicelib.adapters.item_size import item_size
from chalicelib.core.line_keys import generation_key, line_partitions
from chalicelib.core.models import Line, Lote
from localdev.dktgen import generate_bytes
from localdev.pump import Pump


def with_garbage(data: bytes, line_numbers: set[int]) -> bytes:
    """The file with the given lines replaced by text that is no DKT record."""
    lines = data.split(b"\n")
    for line_no in line_numbers:
        lines[line_no - 1] = b"esto no es un registro"
    return b"\n".join(lines)


def read_all(api: Api, limit: int) -> tuple[list[int], list[int]]:
    """Every line number the API shows, page by page, and each page's length."""
    numbers: list[int] = []
    sizes: list[int] = []
    cursor = ""
    while True:
        suffix = f"&cursor={cursor}" if cursor else ""
        page = api.get(f"/api/lotes/ICBCVC2404?limit={limit}{suffix}").json_body
        numbers += [line["lineNo"] for line in page["lines"]]
        sizes.append(len(page["lines"]))
        cursor = page["nextCursor"]
        if not cursor:
            return numbers, sizes


def test_lines_spread_over_one_key_per_100_lines_and_read_back_in_order(
    api: Api, pump: Pump
) -> None:
    job = import_file(api, pump, generate_bytes(450, seed=3))
    generation = generation_key("acme", "ICBCVC2404", job["id"])

    numbers, sizes = read_all(api, limit=40)

    lote = Lote.get("acme", "ICBCVC2404")
    assert int(lote.line_shards) == 5
    used = [Line.count(partition) for partition in line_partitions(generation, 5)]
    assert used == [90] * 5
    assert numbers == list(range(1, 451))
    assert sizes == [40] * 11 + [10]  # full pages, and no empty one at the end


def test_pages_are_full_and_in_file_order_across_gaps_of_skipped_lines(
    api: Api, pump: Pump
) -> None:
    # GIVEN a file whose skipped lines leave a gap in some keys and not in others
    skipped = {2, 3, 7, 50} | set(range(120, 377)) | {499}
    data = with_garbage(generate_bytes(600, seed=4), skipped)
    job = import_file(api, pump, data, skipInvalidLines=True)
    assert job["status"] == "COMPLETED"

    # WHEN the lote is read with a page size that is no multiple of its shards
    numbers, sizes = read_all(api, limit=7)

    # THEN every imported line comes once, in file order, with its number in the file
    expected = [n for n in range(1, 601) if n not in skipped]
    assert numbers == expected
    assert sizes[:-1] == [7] * (len(sizes) - 1)
    assert 0 < sizes[-1] <= 7


def test_a_page_reads_about_its_own_size(api: Api, pump: Pump) -> None:
    import_file(api, pump, generate_bytes(2_000, seed=5))  # 20 keys
    counter = FaultInjector().install()

    page = api.get("/api/lotes/ICBCVC2404?limit=100").json_body

    assert [line["lineNo"] for line in page["lines"]] == list(range(1, 101))
    assert counter.counts["after-call.dynamodb.Query"] == 20  # one query per key, no more


def test_an_edited_cursor_is_refused(api: Api, pump: Pump) -> None:
    import_file(api, pump, generate_bytes(30, seed=6))
    forged = base64.urlsafe_b64encode(json.dumps({"after": "1"}).encode()).decode()

    for cursor in (forged, "not-a-cursor", base64.urlsafe_b64encode(b"[1]").decode()):
        response = api.get(f"/api/lotes/ICBCVC2404?cursor={cursor}")
        assert response.status_code == 400
        assert response.json_body["message"] == "El cursor de paginación no es válido."


def test_a_lote_keeps_the_shards_it_was_written_with_when_the_setting_changes(
    api: Api, pump: Pump, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a lote written over 2 keys, then LINE_SHARDS raised
    monkeypatch.setenv("LINE_SHARDS", "2")
    runtime.reset()
    job = import_file(api, pump, generate_bytes(500, seed=8))
    monkeypatch.setenv("LINE_SHARDS", "50")
    runtime.reset()

    # WHEN it is read and deleted
    numbers, _ = read_all(api, limit=100)
    deleting = api.delete("/api/lotes/ICBCVC2404").json_body
    pump.drain()

    # THEN every line was found, and every line was removed
    assert numbers == list(range(1, 501))
    assert api.job(deleting["job"]["id"])["status"] == "COMPLETED"
    assert stored_lines(generation_key("acme", "ICBCVC2404", job["id"])) == []


def test_every_line_an_import_writes_costs_one_write_unit_and_each_batch_spreads(
    api: Api, pump: Pump
) -> None:
    # GIVEN the 20 rules of a finance team, and a hook on the real batch writes
    body = {"rules": TWENTY_RULES, "lookups": LOOKUPS}
    assert api.put("/api/rules", body).status_code == 200
    batches: list[list[dict[str, Any]]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        requests = params.get("RequestItems", {}).get(LINES_TABLE, [])
        batches.append([r["PutRequest"]["Item"] for r in requests if "PutRequest" in r])

    runtime.services()  # binds the models (binding drops their clients)
    events = Line._get_connection().connection.client.meta.events
    event = "before-parameter-build.dynamodb.BatchWriteItem"
    events.register(event, record, unique_id="record-line-writes")

    # WHEN a 5,000-line file is imported (50 keys)
    try:
        job = import_file(api, pump, generate_bytes(5_000, seed=9))
    finally:
        events.unregister(event, unique_id="record-line-writes")

    # THEN every stored line is one write unit, and no batch puts two lines on one key
    assert job["status"] == "COMPLETED"
    items = [item for batch in batches for item in batch]
    assert len(items) == 5_000
    assert max(item_size(item) for item in items) <= 1_024
    assert all(len({item["g"]["S"] for item in batch}) == len(batch) for batch in batches)
