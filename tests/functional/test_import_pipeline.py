"""A DKT file goes create -> upload -> S3 event -> worker -> COMPLETED, in chunks."""

from __future__ import annotations

from typing import Any

from support import Api, cost_model_pump, count_lines, import_file, upload
from support import stored_lines as lines_of_generation

from chalicelib.core.line_keys import generation_key
from localdev.dktgen import generate_bytes, iter_coupons
from localdev.pump import Invocation
from localdev.resources import QueueUrls


def stored_lines(job: dict[str, Any], tenant: str = "acme") -> int:
    return int(count_lines(generation_key(tenant, job["loteId"], job["id"])))


def test_18000_line_file_completes_over_many_budgeted_invocations(api: Api, aws: QueueUrls) -> None:
    # GIVEN an ordinary 18,000-line statement and a worker with a 1.2 s budget, in which
    # every AWS call takes 20 ms (a fixed cost model, whatever this machine's load)
    data = generate_bytes(18_000, seed=7)
    polls: list[dict[str, Any]] = []
    created = api.create_import(size=len(data))
    job_id = created.json_body["job"]["id"]

    def poll(_: Invocation) -> None:
        polls.append(api.job(job_id))

    pump = cost_model_pump(aws, budget_ms=1_200, on_invocation=poll)

    # WHEN the browser uploads it and the queues drain
    upload(created.json_body["upload"], data)
    stats = pump.drain()

    # THEN the job is complete with every line stored exactly once
    job = api.job(job_id)
    assert job["status"] == "COMPLETED"
    assert job["processedItems"] == job["totalItems"] == 18_000
    assert job["progress"] == 100
    assert job["result"]["linesImported"] == 18_000
    assert stored_lines(job) == 18_000
    # ... the progress users saw never went down
    progress = [poll["progress"] for poll in polls]
    assert progress == sorted(progress)
    assert len(set(progress)) > 5
    # ... it took many continuations, none of which overran its budget
    work = stats.on("dkt-jobs-work")
    assert len(work) >= 10
    assert all(call.error is None for call in work)
    assert all(call.remaining_ms_at_end > 0 for call in work)


def test_result_totals_match_the_file_per_currency(api: Api, pump: Any) -> None:
    # GIVEN a file whose amounts we can add up ourselves (refunds negative)
    expected: dict[str, Any] = {}
    for coupon in iter_coupons(500, seed=3):
        amount = -coupon.importe if coupon.tipo_transaccion == "D" else coupon.importe
        expected[coupon.moneda] = expected.get(coupon.moneda, 0) + amount
    # WHEN it is imported
    job = import_file(api, pump, generate_bytes(500, seed=3))
    # THEN the result carries exact decimal totals per currency and the lote id
    assert job["status"] == "COMPLETED"
    assert job["result"]["totals"] == {k: f"{v:.2f}" for k, v in sorted(expected.items())}
    assert job["result"]["loteId"] == job["loteId"] == "ICBCVC2404"


def test_inline_small_file_is_imported_without_a_presigned_upload(api: Api, pump: Any) -> None:
    import base64

    data = generate_bytes(120, seed=11)
    created = api.create_import(content=base64.b64encode(data).decode())
    assert created.status_code == 201
    assert created.json_body["upload"] is None
    pump.drain()
    job = api.job(created.json_body["job"]["id"])
    assert job["status"] == "COMPLETED"
    assert job["processedItems"] == 120


def test_stored_lines_never_hold_a_clear_card_number(api: Api, pump: Any) -> None:
    data = generate_bytes(50, seed=5)
    job = import_file(api, pump, data)
    pans = {coupon.numero_tarjeta for coupon in iter_coupons(50, seed=5)}
    generation = generation_key("acme", job["loteId"], job["id"])
    for line in lines_of_generation(generation):
        text = str(line.record)
        assert not any(pan in text for pan in pans)
        assert line.record["tarjeta"][6:12] == "******"
