"""Undoing a replace: within the window the lote's previous lines come back exactly, in one
step; after it they are gone (issue 14, item 6)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fakes import StepClock
from support import Api, count_lines, import_file, service_clock, start_import, token_for

from chalicelib.core.clock import iso
from chalicelib.core.line_keys import generation_key
from chalicelib.core.models import Job
from localdev.dktgen import generate_bytes
from localdev.pump import Pump
from localdev.resources import QueueUrls

WINDOW_S = 3600
APRIL = generate_bytes(120, seed=701)
CORRECTED = generate_bytes(80, seed=702)


@pytest.fixture
def clock(aws: QueueUrls, monkeypatch: pytest.MonkeyPatch) -> Iterator[StepClock]:
    """An hour to undo a replace, on a clock the test moves (hops undelayed, as in
    test_schedule.py: the worker asks the clock whether the deletion is due)."""
    with service_clock(monkeypatch, UNDO_WINDOW_S=str(WINDOW_S), SCHEDULE_HOP_S="0") as moved:
        yield moved


def every_line(api: Api, lote_id: str = "ICBCVC2404") -> list[tuple[int, dict[str, Any]]]:
    lines: list[tuple[int, dict[str, Any]]] = []
    cursor = ""
    while True:
        page = api.get(f"/api/lotes/{lote_id}?limit=100&cursor={cursor}").json_body
        lines += [(line["lineNo"], line["record"]) for line in page["lines"]]
        if not page["nextCursor"]:
            return lines
        cursor = page["nextCursor"]


def lote(api: Api) -> dict[str, Any]:
    return dict(api.get("/api/lotes/ICBCVC2404").json_body["lote"])


def settle(pump: Pump, rounds: int = 3) -> None:
    """A few rounds of deliveries (a waiting job's hop comes straight back)."""
    for _ in range(rounds):
        pump.poll_once()


def test_an_undo_within_the_window_brings_the_previous_lines_back_exactly(
    api: Api, pump: Pump, clock: StepClock
) -> None:
    first = import_file(api, pump, APRIL)
    before, totals = every_line(api), lote(api)["totals"]
    second = start_replace(api, pump)

    # The replace is visible, and the replaced lines wait for the window to close.
    shown = lote(api)
    assert (shown["jobId"], shown["lineCount"]) == (second, 80)
    assert shown["undoReplaceUntil"] == iso(clock.now() + timedelta(seconds=WINDOW_S))
    assert count_lines(generation_key("acme", "ICBCVC2404", first["id"])) == 120

    clock.advance(WINDOW_S - 60)
    undone = api.post("/api/lotes/ICBCVC2404/undo-replace")

    assert undone.status_code == 200, undone.json_body
    assert "volvió a su contenido anterior (120 registros)" in undone.json_body["message"]
    restored = undone.json_body["lote"]
    assert (restored["jobId"], restored["lineCount"]) == (first["id"], 120)
    assert restored["totals"] == totals and restored["undoReplaceUntil"] is None
    assert every_line(api) == before
    # ... and the replacing import's lines go, the restored ones stay
    pump.drain()
    assert count_lines(generation_key("acme", "ICBCVC2404", second)) == 0
    assert count_lines(generation_key("acme", "ICBCVC2404", first["id"])) == 120
    assert api.job(second)["loteDeleted"] is True
    assert api.job(first["id"])["loteDeleted"] is False
    # ... once: there is nothing left to undo
    assert api.post("/api/lotes/ICBCVC2404/undo-replace").status_code == 409


def test_after_the_window_the_replaced_lines_are_gone_and_nothing_is_undone(
    api: Api, pump: Pump, clock: StepClock
) -> None:
    first = import_file(api, pump, APRIL)
    second = start_replace(api, pump)
    settle(pump)
    assert count_lines(generation_key("acme", "ICBCVC2404", first["id"])) == 120

    clock.advance(WINDOW_S)
    pump.drain()

    assert count_lines(generation_key("acme", "ICBCVC2404", first["id"])) == 0
    refused = api.post("/api/lotes/ICBCVC2404/undo-replace")
    assert refused.status_code == 409
    assert "ya no se puede deshacer" in refused.json_body["message"]
    assert (lote(api)["jobId"], lote(api)["lineCount"]) == (second, 80)
    assert lote(api)["undoReplaceUntil"] is None


def test_a_deletion_that_already_removed_lines_cannot_be_undone_nor_moved(
    api: Api, pump: Pump, clock: StepClock
) -> None:
    import_file(api, pump, APRIL)
    start_replace(api, pump)
    [deletion] = [
        job for job in api.get("/api/jobs").json_body["jobs"] if job["type"] == "LOTE_DELETE"
    ]
    # The deletion's time is the undo window's, not the user's to move.
    moved = api.patch(f"/api/jobs/{deletion['id']}", {"runAt": None})
    assert moved.status_code == 409
    # A deletion that failed half-way and waits, QUEUED again, for its retry:
    Job(deletion["id"]).update(actions=[Job.attempts.set(2), Job.processed_items.set(40)])

    refused = api.post("/api/lotes/ICBCVC2404/undo-replace")

    assert refused.status_code == 409
    assert lote(api)["lineCount"] == 80  # nothing restored


def test_the_undone_lote_holds_its_file_again(api: Api, pump: Pump, clock: StepClock) -> None:
    import_file(api, pump, APRIL)
    start_replace(api, pump)
    assert api.post("/api/lotes/ICBCVC2404/undo-replace").status_code == 200
    pump.drain()

    again = api.create_import(
        codigoTarjeta="VISACORP", size=len(APRIL), sha256=hashlib.sha256(APRIL).hexdigest()
    )
    corrected = api.create_import(
        codigoTarjeta="VISACORP", size=10, sha256=hashlib.sha256(CORRECTED).hexdigest()
    )

    assert (again.status_code, again.json_body["loteId"]) == (409, "ICBCVC2404")
    assert corrected.status_code == 201


def test_only_a_replaced_lote_of_ones_own_company_can_be_undone(
    api: Api, pump: Pump, clock: StepClock
) -> None:
    import_file(api, pump, APRIL)
    stranger = Api(api.client, token_for("zoe", tenant="globex"))

    never_replaced = api.post("/api/lotes/ICBCVC2404/undo-replace")
    start_replace(api, pump)
    theirs = stranger.post("/api/lotes/ICBCVC2404/undo-replace")

    assert never_replaced.status_code == 409
    assert theirs.status_code == 404
    assert api.post("/api/lotes/NOEXISTE2404/undo-replace").status_code == 404
    assert lote(api)["lineCount"] == 80


def start_replace(api: Api, pump: Pump) -> str:
    """Replaces ICBCVC2404 with CORRECTED; returns the replacing import's id. Its
    deletion of the replaced lines then waits (its hop keeps coming back: no drain)."""
    job_id = start_import(api, CORRECTED, replace=True)
    for _ in range(100):
        pump.poll_once()
        if api.job(job_id)["status"] == "COMPLETED":
            return job_id
    raise AssertionError(f"the replace never completed: {api.job(job_id)}")
