"""The worker's safety margin is a share of the invocation's budget: a short budget still
does several chunks, and every invocation ends with its margin left."""

from __future__ import annotations

import pytest
from support import LINES, Api, cost_model_pump, import_file, stored_line_numbers

from chalicelib import runtime
from localdev.dktgen import generate_bytes
from localdev.resources import QueueUrls

BUDGET_MS = 10_000


def test_a_10_s_budget_does_several_chunks_per_invocation(
    api: Api, aws: QueueUrls, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the deployed defaults: 10% of the budget, at most 10 s (a fixed 10 s margin
    # left room for one chunk per 10 s invocation)
    monkeypatch.setenv("SAFETY_MARGIN_SHARE", "0.1")
    monkeypatch.setenv("SAFETY_MARGIN_MS", "10000")
    runtime.reset()
    pump = cost_model_pump(aws, budget_ms=BUDGET_MS)
    # WHEN a 500-line import (5 chunks) runs on 10 s invocations
    job = import_file(api, pump, generate_bytes(LINES, seed=42))
    # THEN it completed in fewer work invocations than chunks, each ending with 1 s left
    assert job["status"] == "COMPLETED"
    assert stored_line_numbers(job["id"]) == list(range(1, LINES + 1))
    work = pump.stats.on("dkt-jobs-work")
    assert all(call.error is None for call in work)
    assert len(work) < LINES // 100
    assert all(call.remaining_ms_at_end >= 1_000 for call in work)
