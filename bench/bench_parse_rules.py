"""Throughput of parsing plus 20 business rules, on one core, against a floor.

    make bench

The floor is the cheapest thing any import must do to each line: split the file
into lines and decode them. Each stage is reported in lines/s and as a multiple
of that floor, measured in the same run, so the ratios mean something on any
machine; the absolute figure is checked against the 20,000 lines/s target.
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable

from bench.rulesets import LOOKUPS, TWENTY_RULES
from chalicelib import dkt
from chalicelib.dkt.rules import RuleSet
from localdev.dktgen import generate_bytes

LINES = 50_000
TARGET_LINES_PER_S = 20_000
KEY = b"bench-card-hash-key"


def best_rate(work: Callable[[], int], repeat: int = 5) -> float:
    """Lines per second of the fastest of `repeat` runs (the least disturbed one)."""
    best = float("inf")
    count = 0
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        count = work()
        best = min(best, time.perf_counter() - start)
    return count / best


def measure() -> dict[str, float]:
    """Lines/s of the floor (split + decode), parsing, and parsing plus 20 rules."""
    raw_lines = generate_bytes(LINES, seed=1).split(b"\n")[:LINES]
    encoding = dkt.Encoding.CP1252
    rules = RuleSet.load(TWENTY_RULES, LOOKUPS, dkt.RECORD_FIELDS)

    def floor() -> int:
        for raw in raw_lines:
            raw.decode("cp1252")
        return len(raw_lines)

    def parse() -> int:
        for number, raw in enumerate(raw_lines, 1):
            dkt.parse_line(raw, number, encoding, KEY)
        return len(raw_lines)

    def parse_and_rules() -> int:
        fired = 0
        for number, raw in enumerate(raw_lines, 1):
            line = dkt.parse_line(raw, number, encoding, KEY)
            assert isinstance(line, dkt.StatementLine)
            fired += len(rules.apply(line.to_record()).fired)
        assert fired > len(raw_lines)  # the rules really fire
        return len(raw_lines)

    return {
        "floor": best_rate(floor),
        "parse": best_rate(parse),
        "parse + 20 rules": best_rate(parse_and_rules),
    }


def main() -> int:
    results = measure()
    floor_rate = results["floor"]
    print(f"{LINES:,} generated lines, 20 rules, one core (Python {sys.version.split()[0]})")
    print(f"{'stage':<26}{'lines/s':>12}{'x floor':>10}")
    print(f"{'floor: split + decode':<26}{floor_rate:>12,.0f}{1:>10.1f}")
    for name in ("parse", "parse + 20 rules"):
        rate = results[name]
        print(f"{name:<26}{rate:>12,.0f}{floor_rate / rate:>10.1f}")
    verdict = results["parse + 20 rules"] >= TARGET_LINES_PER_S
    outcome = "met" if verdict else "MISSED"
    print(f"target {TARGET_LINES_PER_S:,} lines/s for parse + 20 rules: {outcome}")
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
