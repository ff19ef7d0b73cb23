"""How a line is stored: under 1 KB as DynamoDB counts it, and read back as it was written;
its keys spread a generation round-robin over its shards."""

from __future__ import annotations

import statistics
from typing import Any

import pytest

from bench.rulesets import LOOKUPS, TWENTY_RULES
from chalicelib import dkt
from chalicelib.adapters.item_size import item_size, number_size, write_units
from chalicelib.core.ids import new_cuid
from chalicelib.core.line_format import STORED_RECORD_FIELDS
from chalicelib.core.line_keys import (
    generation_key,
    line_partition,
    line_partitions,
    line_shards_for,
)
from chalicelib.core.models import Line
from chalicelib.dkt.rules import RuleSet
from localdev.dktgen import generate_bytes

# A tenant id as long as a UUID, a real job id, the widest shard number: the longest key.
GENERATION = generation_key("8f14e45f-ceea-467f-a0e6-2f3c0d6f1e2b", "ICBCVC2404", new_cuid())
SHARDS = 50

# A rule that fails on every line (a text compared as a number), as a tenant may write.
FRAGILE = {
    "code": "NUMERICO",
    "name": "Localidad numérica",
    "conditions": [{"field": "localidad", "op": "GREATER_THAN", "value": "10"}],
    "actions": [{"type": "SET", "field": "x", "value": "y"}],
}


def stored_lines(count: int, rules: list[dict[str, Any]]) -> list[Line]:
    """Lines as the import builds them: the generator's file, parsed, the rules applied."""
    ruleset = RuleSet.load(rules, LOOKUPS, dkt.RECORD_FIELDS)
    lines = []
    for line_no, raw in enumerate(generate_bytes(count, seed=7).splitlines(), start=1):
        parsed = dkt.parse_line(raw, line_no, dkt.Encoding.CP1252, b"k" * 32)
        assert isinstance(parsed, dkt.StatementLine)
        outcome = ruleset.apply(parsed.to_record())
        lines.append(
            Line(
                generation=line_partition(GENERATION, line_no + SHARDS - 1, SHARDS),
                line_no=line_no,
                record=outcome.record,
                rules_fired=list(outcome.fired),
                rule_errors=[error.to_dict() for error in outcome.errors],
            )
        )
    return lines


def test_a_realistic_stored_line_with_rules_fired_and_a_rule_error_is_under_1_kb() -> None:
    lines = stored_lines(500, [FRAGILE, *TWENTY_RULES])
    assert all(line.rule_errors and line.rules_fired for line in lines)

    sizes = [item_size(line.serialize()) for line in lines]

    assert max(sizes) <= 1_024
    assert {write_units(line.serialize()) for line in lines} == {1}
    # About 1,230 bytes with field names and JSON strings; about 530 now (440 without
    # the failing rule): room to spare for longer names, rule values and errors.
    assert statistics.mean(sizes) <= 600


def test_a_stored_line_reads_back_exactly_as_written() -> None:
    [line] = stored_lines(1, [FRAGILE, *TWENTY_RULES])
    # A parsed line has the stored field order, so only its values are stored.
    assert tuple(line.record)[: len(STORED_RECORD_FIELDS)] == STORED_RECORD_FIELDS
    assert set(STORED_RECORD_FIELDS) == dkt.RECORD_FIELDS
    written = (line.record, line.rules_fired, line.rule_errors)

    read = Line.from_raw_data(line.serialize())

    assert (read.record, read.rules_fired, read.rule_errors) == written
    assert list(read.record) == list(line.record)  # same key order: the API's JSON is unchanged
    assert int(read.line_no) == 1


def test_a_record_of_another_shape_is_kept_whole() -> None:
    odd: dict[str, Any] = {"importe": "1.00", "lineNo": 3, "nested": {"a": [1, None]}}

    read = Line.from_raw_data(
        Line(generation="g#0", line_no=3, record=odd, rules_fired=[], rule_errors=[]).serialize()
    )

    assert read.record == odd
    assert list(read.record) == list(odd)
    assert read.rules_fired == [] and read.rule_errors == []


def test_consecutive_lines_spread_evenly_over_every_shard() -> None:
    partitions = [line_partition("t#l#j", line_no, 50) for line_no in range(1, 101)]

    assert set(partitions) == set(line_partitions("t#l#j", 50))
    assert len(set(partitions[:25])) == 25  # one batch write: 25 keys, one line each
    assert all(partitions.count(key) == 2 for key in set(partitions))


@pytest.mark.parametrize(
    ("total", "shards"), [(0, 1), (1, 1), (100, 1), (101, 2), (4_950, 50), (1_000_000, 50)]
)
def test_a_generation_uses_one_shard_per_100_lines_up_to_the_setting(
    total: int, shards: int
) -> None:
    assert line_shards_for(total, 50) == shards


def test_item_size_follows_dynamodbs_documented_rules() -> None:
    item = {
        "name": {"S": "ñandú"},  # 4 + 7 (UTF-8 bytes)
        "n": {"N": "-012.3400"},  # 1 + 3 (1234: two bytes per two digits, plus one)
        "b": {"B": b"\x00\x01\x02"},  # 1 + 3 (raw bytes)
        "ok": {"BOOL": True},  # 2 + 1
        "l": {"L": [{"S": "ab"}, {"NULL": True}]},  # 1 + 3 + (1 + 2) + (1 + 1)
        "m": {"M": {"k": {"S": "v"}}},  # 1 + 3 + (1 + 1 + 1)
        "ss": {"SS": ["a", "bc"]},  # 2 + 3
    }

    assert item_size(item) == 11 + 4 + 4 + 3 + 9 + 7 + 5
    assert number_size("1000000") == 2 and number_size("0") == 1
    assert item_size({"b": {"B": "AAEC"}}) == 4  # base64 in the JSON wire form
    assert write_units({"s": {"S": "x" * 1_023}}) == 1
    assert write_units({"s": {"S": "x" * 1_024}}) == 2
    assert write_units({"s": {"S": "x"}}, transactional=True) == 2
