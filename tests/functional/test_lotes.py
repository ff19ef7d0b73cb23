"""Lotes: invisible while staging, listed and read once committed, deleted by a job."""

from __future__ import annotations

from typing import Any

from support import (
    Api,
    cost_model_pump,
    count_lines,
    import_file,
    run_first_invocations,
    small_budget_pump,
    start_import,
    token_for,
    upload,
)

from chalicelib.core.line_keys import generation_key
from chalicelib.core.models import Lote
from localdev.dktgen import generate_bytes
from localdev.pump import Pump
from localdev.resources import QueueUrls


def jobs_by_type(api: Api, job_type: str) -> list[dict[str, Any]]:
    return [job for job in api.get("/api/jobs").json_body["jobs"] if job["type"] == job_type]


def test_lines_are_invisible_until_the_import_commits(api: Api, aws: QueueUrls) -> None:
    # GIVEN an import half way through
    pump = small_budget_pump(aws)
    job_id = start_import(api, generate_bytes(1_000, seed=41))
    run_first_invocations(pump, invocations=3)
    staged = count_lines(generation_key("acme", "ICBCVC2404", job_id))
    assert 0 < staged < 1_000
    # THEN the tenant sees no lote yet
    assert api.get("/api/lotes").json_body["lotes"] == []
    assert api.get("/api/lotes/ICBCVC2404").status_code == 404
    # ... and once it completes, the whole lote at once
    pump.drain()
    [lote] = api.get("/api/lotes").json_body["lotes"]
    assert lote["loteId"] == "ICBCVC2404"
    assert lote["lineCount"] == 1_000
    assert lote["jobId"] == job_id
    # ... saying which import made it
    assert (lote["filename"], lote["importedBy"]) == ("abril.dkt", "ana")
    detail = api.get("/api/lotes/ICBCVC2404?limit=1").json_body["lote"]
    assert (detail["filename"], detail["importedBy"]) == ("abril.dkt", "ana")


def test_a_lote_shows_its_lines_in_order_page_by_page(api: Api, pump: Pump) -> None:
    import_file(api, pump, generate_bytes(250, seed=42))

    first = api.get("/api/lotes/ICBCVC2404?limit=100").json_body
    numbers = [line["lineNo"] for line in first["lines"]]
    cursor = first["nextCursor"]
    while cursor:
        page = api.get(f"/api/lotes/ICBCVC2404?limit=100&cursor={cursor}").json_body
        numbers += [line["lineNo"] for line in page["lines"]]
        cursor = page["nextCursor"]

    assert numbers == list(range(1, 251))
    assert first["lote"]["periodo"] == "2404"
    assert set(first["lote"]["totals"]) <= {"ARP", "USD"}
    assert first["lines"][0]["record"]["tarjeta"][6:12] == "******"


def test_lotes_belong_to_the_tenant(api: Api, pump: Pump) -> None:
    import_file(api, pump, generate_bytes(20, seed=43))
    colleague = Api(api.client, token_for("bruno", tenant="acme"))
    stranger = Api(api.client, token_for("zoe", tenant="globex"))

    assert len(colleague.get("/api/lotes").json_body["lotes"]) == 1
    assert stranger.get("/api/lotes").json_body["lotes"] == []
    assert stranger.get("/api/lotes/ICBCVC2404").status_code == 404
    assert stranger.delete("/api/lotes/ICBCVC2404").status_code == 404


def test_deleting_a_lote_is_a_job_that_removes_every_line(api: Api, aws: QueueUrls) -> None:
    # GIVEN a committed lote of 700 lines, and workers whose AWS calls take 20 ms each
    pump = cost_model_pump(aws, budget_ms=350)
    imported = import_file(api, pump, generate_bytes(700, seed=44))
    # WHEN the user deletes it
    response = api.delete("/api/lotes/ICBCVC2404")
    # THEN the lote disappears at once, and a LOTE_DELETE job is queued
    assert response.status_code == 202
    deletion = response.json_body["job"]
    assert deletion["type"] == "LOTE_DELETE"
    assert deletion["status"] == "QUEUED"
    assert api.get("/api/lotes").json_body["lotes"] == []
    assert api.delete("/api/lotes/ICBCVC2404").status_code == 404
    # ... which removes the lines over several invocations and completes
    stats = pump.drain()
    assert len(stats.on("dkt-jobs-work")) > 1
    done = api.job(deletion["id"])
    assert done["status"] == "COMPLETED"
    assert done["progress"] == 100
    assert done["processedItems"] == 700
    assert count_lines(generation_key("acme", "ICBCVC2404", imported["id"])) == 0
    assert Lote.count("acme") == 0
    # ... and the import shows its lote was deleted
    [import_job] = jobs_by_type(api, "DKT_IMPORT")
    assert import_job["loteDeleted"] is True


def test_a_deleted_lote_can_be_imported_again(api: Api, pump: Pump) -> None:
    import_file(api, pump, generate_bytes(30, seed=45))
    api.delete("/api/lotes/ICBCVC2404")
    pump.drain()

    again = import_file(api, pump, generate_bytes(40, seed=46))

    assert again["status"] == "COMPLETED"
    assert api.get("/api/lotes/ICBCVC2404").json_body["lote"]["lineCount"] == 40


def test_replacing_a_lote_swaps_it_and_removes_the_old_lines(api: Api, pump: Pump) -> None:
    first = import_file(api, pump, generate_bytes(60, seed=47))

    second = import_file(api, pump, generate_bytes(80, seed=48), replace=True)

    assert second["status"] == "COMPLETED"
    assert api.get("/api/lotes/ICBCVC2404").json_body["lote"]["lineCount"] == 80
    assert count_lines(generation_key("acme", "ICBCVC2404", first["id"])) == 0
    assert count_lines(generation_key("acme", "ICBCVC2404", second["id"])) == 80
    [cleanup] = jobs_by_type(api, "LOTE_DELETE")
    assert cleanup["status"] == "COMPLETED"
    assert api.job(first["id"])["loteDeleted"] is True
    assert api.job(second["id"])["loteDeleted"] is False


def test_deleting_a_lote_cannot_be_cancelled(api: Api, pump: Pump) -> None:
    import_file(api, pump, generate_bytes(10, seed=49))
    deletion = api.delete("/api/lotes/ICBCVC2404").json_body["job"]

    response = api.cancel(deletion["id"])

    assert response.status_code == 409
    assert "no se puede cancelar" in response.json_body["message"]


def test_retry_is_refused_for_jobs_that_are_not_failed_or_cancelled(api: Api, pump: Pump) -> None:
    queued = api.create_import(size=10).json_body["job"]["id"]
    completed = import_file(api, pump, generate_bytes(10, seed=50))["id"]

    for job_id in (queued, completed):
        response = api.post(f"/api/jobs/{job_id}/retry")
        assert response.status_code == 409
        assert response.json_body["code"] == "JOB_CONFLICT"


def test_retry_of_a_cancelled_import_starts_over_and_completes(api: Api, pump: Pump) -> None:
    data = generate_bytes(120, seed=51)
    created = api.create_import(size=len(data))
    job_id = created.json_body["job"]["id"]
    api.cancel(job_id)
    upload(created.json_body["upload"], data)
    pump.drain()
    assert api.job(job_id)["status"] == "CANCELLED"
    assert api.job(job_id)["retryable"] is True

    response = api.post(f"/api/jobs/{job_id}/retry")
    pump.drain()

    assert response.status_code == 202
    job = api.job(job_id)
    assert job["status"] == "COMPLETED"
    assert job["attempts"] == 2
    assert job["processedItems"] == 120


def test_another_users_job_cannot_be_retried(api: Api, other_api: Api) -> None:
    job_id = api.create_import(size=10).json_body["job"]["id"]
    api.cancel(job_id)

    assert other_api.post(f"/api/jobs/{job_id}/retry").status_code == 404
