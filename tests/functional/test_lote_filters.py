"""Finding lotes, lines and jobs: the lotes of a card or periodo, the lines of a holder,
card, merchant, rule or amount range, the history by status, card and periodo; and
replacing a lote from the import that found it."""

from __future__ import annotations

import unicodedata
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
from support import (
    Api,
    count_lines,
    import_file,
    later,
    run_first_invocations,
    run_until_settled,
    small_budget_pump,
    start_import,
    token_for,
)

from chalicelib import runtime
from chalicelib.api import jobs as jobs_api
from chalicelib.core.line_keys import generation_key
from chalicelib.core.models import DISCARDING_PHASES, Job, Phase
from chalicelib.engine import sweeper
from chalicelib.stores import lotes
from localdev.dktgen import generate_bytes
from localdev.pump import Pump
from localdev.resources import QueueUrls

FUEL = {
    "code": "COMB",
    "name": "Combustible",
    "priority": 10,
    "conditions": [{"field": "grupoRubro", "op": "EQUALS", "value": "04"}],
    "actions": [{"type": "SET", "field": "cuentaContable", "value": "5.1.02"}],
}


def lote_ids(api: Api, **filters: str) -> list[str]:
    response = api.get(f"/api/lotes?{urlencode(filters)}")
    assert response.status_code == 200, response.body
    return sorted(lote["loteId"] for lote in response.json_body["lotes"])


def search(api: Api, lote_id: str, **filters: str) -> tuple[list[dict[str, Any]], int]:
    """Every matching line, following the cursor as the page does; and the requests made."""
    found: list[dict[str, Any]] = []
    cursor, requests = "", 0
    while True:
        query = urlencode({**filters, "limit": "50", **({"cursor": cursor} if cursor else {})})
        response = api.get(f"/api/lotes/{lote_id}?{query}")
        assert response.status_code == 200, response.body
        requests += 1
        page = response.json_body
        assert len(page["lines"]) <= 50
        found += page["lines"]
        if not page["nextCursor"]:
            return found, requests
        cursor = page["nextCursor"]


def every_line(api: Api, lote_id: str) -> list[dict[str, Any]]:
    lines, _ = search(api, lote_id)
    return lines


def plain(text: str) -> str:
    return "".join(
        c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c)
    )


@pytest.fixture
def small_scans(monkeypatch: pytest.MonkeyPatch) -> None:
    # A filtered request looks at 120 lines, 40 at a time: a 600-line lote needs several.
    monkeypatch.setattr(lotes, "FILTER_SCAN_LINES", 120)
    monkeypatch.setattr(lotes, "FILTER_READ_LINES", 40)


def test_lotes_are_found_by_card_product_and_periodo(api: Api, pump: Pump) -> None:
    import_file(api, pump, generate_bytes(5, seed=1, periodo="2404"))
    import_file(api, pump, generate_bytes(5, seed=2, periodo="2405"))
    import_file(api, pump, generate_bytes(5, seed=3, periodo="2404"), codigoTarjeta="ICBCMC")
    # "ICBC" is the start of both cards' lote ids and neither card's code
    import_file(api, pump, generate_bytes(5, seed=4, periodo="2404"), codigoTarjeta="ICBC")

    assert lote_ids(api, codigoTarjeta="ICBCVC") == ["ICBCVC2404", "ICBCVC2405"]
    assert lote_ids(api, codigoTarjeta="ICBC") == ["ICBC2404"]
    assert lote_ids(api, periodo="2404") == ["ICBC2404", "ICBCMC2404", "ICBCVC2404"]
    assert lote_ids(api, codigoTarjeta="ICBCMC", periodo="2404") == ["ICBCMC2404"]
    assert lote_ids(api, codigoTarjeta="ICBCMC", periodo="2405") == []


def test_lotes_are_listed_the_last_imported_first_across_pages(api: Api, pump: Pump) -> None:
    for periodo in ("2402", "2403", "2401"):
        import_file(api, pump, generate_bytes(3, seed=5, periodo=periodo))
    # (another statement: the same file again would be refused as a duplicate)
    import_file(api, pump, generate_bytes(3, seed=7, periodo="2402"), codigoTarjeta="ICBCMC")
    # a replace makes its lote the newest
    import_file(api, pump, generate_bytes(4, seed=6, periodo="2403"), replace=True)

    first = api.get("/api/lotes?codigoTarjeta=ICBCVC&limit=2").json_body
    second = api.get(f"/api/lotes?codigoTarjeta=ICBCVC&limit=2&cursor={first['nextCursor']}")
    every = api.get("/api/lotes?limit=2").json_body

    ids = [lote["loteId"] for lote in first["lotes"] + second.json_body["lotes"]]
    assert ids == ["ICBCVC2403", "ICBCVC2401", "ICBCVC2402"]
    assert second.json_body["nextCursor"] is None
    assert [lote["loteId"] for lote in every["lotes"]] == ["ICBCVC2403", "ICBCMC2402"]


def test_each_line_filter_finds_exactly_the_lines_a_reader_would(
    api: Api, pump: Pump, small_scans: None
) -> None:
    # GIVEN a 600-line lote, every line read back unfiltered
    import_file(api, pump, generate_bytes(600, seed=6))
    lines = every_line(api, "ICBCVC2404")
    assert len(lines) == 600
    sample = lines[123]["record"]
    holder_part = plain(sample["apellidoNombreUsuario"].split()[0])[:5].upper()
    merchant_part = sample["descripcionCupon"].split()[0].lower()
    last4 = sample["tarjeta"][-4:]
    amounts = sorted(Decimal(line["record"]["importe"]) for line in lines)
    low, high = amounts[200], amounts[260]

    expected = {
        "titular": [
            n
            for n, r in _records(lines)
            if holder_part.lower() in plain(r["apellidoNombreUsuario"])
        ],
        "comercio": [
            n for n, r in _records(lines) if merchant_part in r["descripcionCupon"].lower()
        ],
        "tarjeta": [n for n, r in _records(lines) if r["tarjeta"].endswith(last4)],
        "importe": [n for n, r in _records(lines) if low <= Decimal(r["importe"]) <= high],
    }
    queries = {
        "titular": {"titular": holder_part},
        "comercio": {"comercio": merchant_part.upper()},
        "tarjeta": {"tarjeta": last4},
        "importe": {"importeMin": str(low), "importeMax": str(high)},
    }
    for name, query in queries.items():
        # WHEN the user filters by it
        found, requests = search(api, "ICBCVC2404", **query)
        # THEN exactly those lines come back, in file order, over several requests
        assert [line["lineNo"] for line in found] == expected[name], name
        assert expected[name], name
        assert requests >= 600 // 120, name

    # ... and the criteria add up
    both, _ = search(api, "ICBCVC2404", tarjeta=last4, importeMin=str(low))
    assert [line["lineNo"] for line in both] == [
        n
        for n, r in _records(lines)
        if r["tarjeta"].endswith(last4) and Decimal(r["importe"]) >= low
    ]


def _records(lines: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    return [(line["lineNo"], line["record"]) for line in lines]


def test_lines_are_found_by_the_rule_that_fired_and_show_its_fields(
    api: Api, pump: Pump, small_scans: None
) -> None:
    assert api.put("/api/rules", {"rules": [FUEL]}).status_code == 200
    import_file(api, pump, generate_bytes(300, seed=7))
    lines = every_line(api, "ICBCVC2404")
    fuel = [line["lineNo"] for line in lines if "COMB" in line["rulesFired"]]
    assert fuel

    found, _ = search(api, "ICBCVC2404", regla="COMB")

    assert [line["lineNo"] for line in found] == fuel
    assert {line["record"]["cuentaContable"] for line in found} == {"5.1.02"}
    page = api.get("/api/lotes/ICBCVC2404?limit=1").json_body
    assert page["ruleFields"] == ["cuentaContable"]
    assert search(api, "ICBCVC2404", regla="NADA")[0] == []


def test_a_page_says_how_far_the_search_has_looked(api: Api, pump: Pump, small_scans: None) -> None:
    import_file(api, pump, generate_bytes(300, seed=8))

    # a card no line has: every request looks at 120 more lines and finds none
    first = api.get("/api/lotes/ICBCVC2404?tarjeta=0000&limit=50").json_body
    assert first["lines"] == [] and first["searchedThrough"] == 120 and first["nextCursor"]
    second = api.get(
        f"/api/lotes/ICBCVC2404?tarjeta=0000&limit=50&cursor={first['nextCursor']}"
    ).json_body
    assert second["searchedThrough"] == 240
    third = api.get(
        f"/api/lotes/ICBCVC2404?tarjeta=0000&limit=50&cursor={second['nextCursor']}"
    ).json_body
    assert third["searchedThrough"] == 300 and third["nextCursor"] is None
    # unfiltered, a page ends where its last line is
    plain_page = api.get("/api/lotes/ICBCVC2404?limit=100").json_body
    assert plain_page["searchedThrough"] == 100


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("tarjeta=12", "últimos 4 dígitos"),
        ("tarjeta=4111111111111111", "últimos 4 dígitos"),
        ("importeMin=abc", "importeMin debe ser un importe"),
        ("importeMin=10&importeMax=5", "importeMin no puede ser mayor que importeMax"),
        ("titular=" + "x" * 101, "titular debe tener de 1 a 100"),
        ("comercio=", "comercio debe tener de 1 a 100"),
        ("color=rojo", "El parámetro color no se admite"),
    ],
)
def test_a_bad_line_filter_is_a_400_that_says_which(
    api: Api, pump: Pump, query: str, message: str
) -> None:
    import_file(api, pump, generate_bytes(3, seed=9))

    response = api.get(f"/api/lotes/ICBCVC2404?{query}")

    assert response.status_code == 400
    assert message in response.json_body["message"]
    assert "4111111111111111" not in response.body.decode()


@pytest.mark.parametrize(
    ("query", "message"), [("periodo=24", "4 dígitos"), ("codigoTarjeta=IC-1", "letras o números")]
)
def test_a_bad_lote_filter_is_a_400(api: Api, query: str, message: str) -> None:
    response = api.get(f"/api/lotes?{query}")

    assert response.status_code == 400
    assert message in response.json_body["message"]


def test_an_import_that_found_its_lote_replaces_it_when_retried_so(api: Api, pump: Pump) -> None:
    # GIVEN a lote of 40 lines, and a second import of it that failed with LOTE_EXISTS
    first = import_file(api, pump, generate_bytes(40, seed=10))
    second = import_file(api, pump, generate_bytes(70, seed=11))
    assert second["status"] == "FAILED" and second["error"]["code"] == "LOTE_EXISTS"
    # WHEN the user retries it asking to replace the lote
    response = api.post(f"/api/jobs/{second['id']}/retry", {"replace": True})
    # THEN it completes, and the lote shows its 70 lines, the first import's lines gone
    assert response.status_code == 202, response.body
    pump.drain()
    done = api.job(second["id"])
    assert done["status"] == "COMPLETED"
    assert done["attempts"] == 2
    assert api.get("/api/lotes/ICBCVC2404").json_body["lote"]["lineCount"] == 70
    assert count_lines(generation_key("acme", "ICBCVC2404", first["id"])) == 0
    assert api.job(first["id"])["loteDeleted"] is True


def test_a_retry_without_replace_still_finds_the_lote(api: Api, pump: Pump) -> None:
    import_file(api, pump, generate_bytes(10, seed=12))
    second = import_file(api, pump, generate_bytes(12, seed=13))

    assert (
        api.client.http.post(
            f"/api/jobs/{second['id']}/retry", headers={"Authorization": f"Bearer {api.token}"}
        ).status_code
        == 202
    )  # no body at all, as before
    pump.drain()

    assert api.job(second["id"])["error"]["code"] == "LOTE_EXISTS"
    assert api.get("/api/lotes/ICBCVC2404").json_body["lote"]["lineCount"] == 10


def test_replace_is_refused_for_a_job_that_did_not_find_its_lote(api: Api, pump: Pump) -> None:
    # GIVEN an import cancelled before it started: a plain retry would be taken
    job_id = start_import(api, generate_bytes(10, seed=14))
    assert api.cancel(job_id).status_code == 200
    assert api.job(job_id)["status"] == "CANCELLED"
    # WHEN the user asks to retry it replacing its lote, THEN that is refused, saying why
    response = api.post(f"/api/jobs/{job_id}/retry", {"replace": True})
    assert response.status_code == 409
    assert "encontró su lote ya importado" in response.json_body["message"]
    assert api.job(job_id)["status"] == "CANCELLED"
    # ... and a replace that is not a yes or no is a 400
    bad = api.post(f"/api/jobs/{job_id}/retry", {"replace": "sí"})
    assert bad.status_code == 400
    assert "reemplazar lote" in bad.json_body["message"]
    # ... while the plain retry still runs
    assert api.post(f"/api/jobs/{job_id}/retry").status_code == 202
    pump.drain()
    assert api.job(job_id)["status"] == "COMPLETED"


def test_a_replace_asked_while_the_failed_import_is_still_discarding_runs_after_it(
    api: Api, aws: QueueUrls
) -> None:
    # GIVEN a lote, and a second import of it that failed with LOTE_EXISTS and is still
    # removing what it staged (one chunk per invocation)
    pump = small_budget_pump(aws)
    import_file(api, pump, generate_bytes(20, seed=15))
    job_id = start_import(api, generate_bytes(25, seed=16))
    run_first_invocations(pump, invocations=1)
    for _ in range(5):
        if Job.get(job_id).status == "FAILED":
            break
        pump.poll_once(only="dkt-jobs-work")
    # ... whose last pass over what it staged the sweeper has just started
    sweeper.sweep(runtime.services(), later())
    job = Job.get(job_id)
    assert job.status == "FAILED" and Phase(job.checkpoint.phase) in DISCARDING_PHASES
    # WHEN the user asks to replace the lote now
    response = api.post(f"/api/jobs/{job_id}/retry", {"replace": True})
    # THEN it is taken, and runs once the discard is over, replacing the lote
    assert response.status_code == 202, response.body
    assert "comenzará en cuanto" in api.job(job_id)["message"]
    run_until_settled(api, pump, job_id)
    assert api.job(job_id)["status"] == "COMPLETED"
    assert api.get("/api/lotes/ICBCVC2404").json_body["lote"]["lineCount"] == 25


# --- the history ----------------------------------------------------------------------------


def history_ids(api: Api, **filters: str) -> list[str]:
    """Every job of the caller's history that matches, following the cursor, newest first."""
    ids: list[str] = []
    cursor = ""
    while True:
        query = urlencode({**filters, "limit": "2", **({"cursor": cursor} if cursor else {})})
        response = api.get(f"/api/jobs?{query}")
        assert response.status_code == 200, response.body
        ids += [job["id"] for job in response.json_body["jobs"]]
        if not (cursor := response.json_body["nextCursor"]):
            return ids


def test_the_history_is_filtered_by_status_card_and_periodo(
    api: Api, pump: Pump, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a filtered request reads 3 jobs, 2 at a time: the answers span several requests
    monkeypatch.setattr(jobs_api, "JOB_FILTER_SCAN", 3)
    monkeypatch.setattr(jobs_api, "JOB_FILTER_READ", 2)
    april = import_file(api, pump, generate_bytes(5, seed=20, periodo="2404"))
    may = import_file(api, pump, generate_bytes(5, seed=21, periodo="2405"))
    master = import_file(api, pump, generate_bytes(5, seed=22), codigoTarjeta="ICBCMC")
    again = import_file(api, pump, generate_bytes(6, seed=23, periodo="2404"))
    assert again["error"]["code"] == "LOTE_EXISTS"
    export = api.post("/api/lotes/ICBCVC2405/export", {"format": "csv"}).json_body["job"]
    pump.drain()
    other = Api(api.client, token_for("bruno", tenant="acme"))
    import_file(other, pump, generate_bytes(5, seed=24, periodo="2406"))

    assert history_ids(api, status="FAILED") == [again["id"]]
    assert history_ids(api, status="COMPLETED") == [
        export["id"],
        master["id"],
        may["id"],
        april["id"],
    ]
    assert history_ids(api, codigoTarjeta="ICBCVC") == [
        export["id"],
        again["id"],
        may["id"],
        april["id"],
    ]
    assert history_ids(api, periodo="2404") == [again["id"], master["id"], april["id"]]
    assert history_ids(api, codigoTarjeta="ICBCVC", periodo="2405") == [export["id"], may["id"]]
    assert history_ids(api, status="CANCELLED") == []
    assert history_ids(api, periodo="2406") == []  # Bruno's, not Ana's


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("status=DONE", "admite active, QUEUED"),
        ("periodo=abril", "4 dígitos"),
        ("codigoTarjeta=x", "letras o números"),
        ("status=active&periodo=2404", "no se combina"),
    ],
)
def test_a_bad_history_filter_is_a_400(api: Api, query: str, message: str) -> None:
    response = api.get(f"/api/jobs?{query}")

    assert response.status_code == 400
    assert message in response.json_body["message"]
