"""Bad input: a FAILED job with line-level reasons, nothing half-imported, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from support import Api, count_lines, import_file, stored_lines

from chalicelib.core.line_keys import generation_key
from chalicelib.core.models import Lote
from localdev.dktgen import generate_bytes
from localdev.pump import Pump

BAD_DATE = b"310299"  # 31 February


def with_bad_line(data: bytes, line_no: int) -> bytes:
    """The file with line `line_no` given an impossible transaction date."""
    lines = data.split(b"\n")
    line = lines[line_no - 1]
    fields = line.split(b",")
    fields[13] = BAD_DATE
    lines[line_no - 1] = b",".join(fields)
    return b"\n".join(lines)


def stored(job: dict[str, Any]) -> int:
    if not job.get("loteId"):
        return 0
    return int(count_lines(generation_key("acme", job["loteId"], job["id"])))


def test_strict_import_with_one_bad_line_fails_and_stores_nothing(api: Api, pump: Pump) -> None:
    # GIVEN a 500-line file whose line 137 has an impossible date
    data = with_bad_line(generate_bytes(500, seed=21), 137)
    # WHEN it is imported with the default (strict) validation
    job = import_file(api, pump, data)
    # THEN the job failed, naming the line, and nothing was stored
    assert job["status"] == "FAILED"
    assert job["error"]["code"] == "INVALID_LINES"
    assert job["errorCount"] == 1
    assert job["error"]["sample"][0]["lineNo"] == 137
    assert "1 líneas con errores" in job["message"]
    assert stored(job) == 0
    assert Lote.count("acme") == 0
    # ... and the error report says which field and why, in Spanish
    # ... no retry is offered, and one asked for anyway says why and what to do
    assert job["retryable"] is False
    refused = api.post(f"/api/jobs/{job['id']}/retry")
    assert refused.status_code == 409
    assert "nueva importación" in refused.json_body["message"]
    report = api.get(f"/api/jobs/{job['id']}/errors").json_body
    assert report["total"] == 1
    [error] = report["errors"]
    assert error["lineNo"] == 137
    assert error["field"] == "fechaTransaccion"
    assert error["value"] == "310299"
    assert "fecha" in error["reason"]


def test_same_file_with_skip_invalid_lines_imports_the_rest(api: Api, pump: Pump) -> None:
    data = with_bad_line(generate_bytes(500, seed=21), 137)

    job = import_file(api, pump, data, skipInvalidLines=True)

    assert job["status"] == "COMPLETED"
    assert job["totalItems"] == job["processedItems"] == 500
    assert job["result"]["linesImported"] == 499
    assert job["result"]["linesSkipped"] == 1
    assert "1 omitidos" in job["message"]
    assert stored(job) == 499
    assert 137 not in [
        int(line.line_no) for line in stored_lines(generation_key("acme", job["loteId"], job["id"]))
    ]
    # ... and the skipped line is counted where the page looks for it (it said 0)
    assert job["errorCount"] == 1
    report = api.get(f"/api/jobs/{job['id']}/errors").json_body
    assert report["total"] == 1
    assert [error["lineNo"] for error in report["errors"]] == [137]


def test_error_report_paginates_and_is_private(api: Api, other_api: Api, pump: Pump) -> None:
    data = generate_bytes(60, seed=2)
    for line_no in (5, 17, 33):
        data = with_bad_line(data, line_no)
    job = import_file(api, pump, data)

    first = api.get(f"/api/jobs/{job['id']}/errors?limit=2").json_body
    rest = api.get(f"/api/jobs/{job['id']}/errors?cursor={first['nextCursor']}").json_body

    assert [e["lineNo"] for e in first["errors"] + rest["errors"]] == [5, 17, 33]
    assert rest["nextCursor"] is None
    assert other_api.get(f"/api/jobs/{job['id']}/errors").status_code == 404


def test_utf8_file_with_bom_and_crlf_keeps_accented_names(api: Api, pump: Pump) -> None:
    data = generate_bytes(200, seed=4, encoding="utf-8", bom=True, newline="\r\n")

    job = import_file(api, pump, data)

    assert job["status"] == "COMPLETED"
    assert job["result"]["encoding"] == "utf-8"
    assert job["processedItems"] == 200
    names = {
        line.record["apellidoNombreUsuario"]
        for line in stored_lines(generation_key("acme", job["loteId"], job["id"]))
    }
    assert any("Ñ" in name for name in names)


def test_latin1_file_keeps_accented_names(api: Api, pump: Pump) -> None:
    job = import_file(api, pump, generate_bytes(200, seed=4, trailing_blank_line=True))

    assert job["status"] == "COMPLETED"
    assert job["result"]["encoding"] == "cp1252"
    assert job["totalItems"] == 200
    names = {
        line.record["apellidoNombreUsuario"]
        for line in stored_lines(generation_key("acme", job["loteId"], job["id"]))
    }
    assert any("Ñ" in name for name in names)


def test_file_of_blank_lines_fails_as_empty(api: Api, pump: Pump) -> None:
    job = import_file(api, pump, b"\r\n   \n\n")

    assert job["status"] == "FAILED"
    assert job["error"]["code"] == "EMPTY_FILE"
    assert "vacío" in job["message"]


def test_garbage_bytes_fail_as_no_statement_with_line_errors_not_a_crash(
    api: Api, pump: Pump
) -> None:
    no_newline = bytes(b for b in range(256) if b != ord("\n"))
    garbage = no_newline * 40 + b"\n" + b"%PDF-1.4 \x00\x01" * 50 + b"\nhola,mundo\n"

    job = import_file(api, pump, garbage)

    assert job["status"] == "FAILED"
    assert job["error"]["code"] == "NO_VALID_LINES"
    assert job["errorCount"] == 3
    reasons = [e["reason"] for e in api.get(f"/api/jobs/{job['id']}/errors").json_body["errors"]]
    assert len(reasons) == 3
    assert "demasiado larga" in reasons[0]


@pytest.mark.parametrize("skip", [True, False])
def test_a_text_that_is_no_statement_says_so_whether_or_not_lines_are_skipped(
    api: Api, pump: Pump, skip: bool
) -> None:
    job = import_file(
        api, pump, b"Estimado cliente:\nadjuntamos su resumen.\n", skipInvalidLines=skip
    )

    assert job["status"] == "FAILED"
    assert job["error"]["code"] == "NO_VALID_LINES"
    assert job["message"] == (
        "Ninguna de las 2 líneas del archivo es un registro DKT: revise que sea el resumen "
        "de la tarjeta."
    )  # not "2 líneas con errores... importe omitiendo las líneas inválidas"
    assert stored(job) == 0


def test_a_line_of_another_period_is_a_line_error(api: Api, pump: Pump) -> None:
    april = generate_bytes(30, seed=1, periodo="2404")
    may = generate_bytes(1, seed=2, periodo="2405")

    job = import_file(api, pump, april + may)

    assert job["status"] == "FAILED"
    [error] = api.get(f"/api/jobs/{job['id']}/errors").json_body["errors"]
    assert error["lineNo"] == 31
    assert error["field"] == "periodo"


def test_importing_an_existing_lote_fails_unless_replacing(api: Api, pump: Pump) -> None:
    # GIVEN April's lote already imported
    first = import_file(api, pump, generate_bytes(40, seed=1))
    assert first["status"] == "COMPLETED"
    # WHEN the same period is imported again
    again = import_file(api, pump, generate_bytes(50, seed=2))
    # THEN it fails with LOTE_EXISTS and the lote keeps the first import
    assert again["status"] == "FAILED"
    assert again["error"]["code"] == "LOTE_EXISTS"
    assert "ICBCVC2404" in again["message"]
    assert Lote.get("acme", "ICBCVC2404").job_id == first["id"]
    # ... and asking to replace swaps it at commit
    replaced = import_file(api, pump, generate_bytes(50, seed=2), replace=True)
    assert replaced["status"] == "COMPLETED"
    lote = Lote.get("acme", "ICBCVC2404")
    assert lote.job_id == replaced["id"]
    assert lote.line_count == 50
