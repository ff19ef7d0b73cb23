"""Exports: a lote's lines as CSV or XLSX, written by an EXPORT job, fetched by a short-lived
link; followed, cancelled and failed like any job."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import boto3
import moto.s3.models
import openpyxl
import pytest
from faults import Crash, FaultInjector
from support import Api, import_file, run_until_settled, small_budget_pump, token_for

from chalicelib import runtime
from chalicelib.core.clock import utcnow
from chalicelib.core.models import Job, Lote, LoteStatus
from chalicelib.engine import sweeper
from localdev.dktgen import generate_bytes
from localdev.pump import Pump
from localdev.resources import QueueUrls

LOTE = "ICBCVC2404"
HEADER = [
    "Línea",
    "Fecha",
    "Titular",
    "Tarjeta",
    "Cuenta",
    "Comercio",
    "Rubro",
    "Localidad",
    "Cupón",
    "Cuota",
    "Cuotas",
    "Moneda",
    "Importe",
    "Tipo de transacción",
    "Periodo",
    "CUIT",
    "MCC",
]


def export(api: Api, file_format: str, lote_id: str = LOTE) -> dict[str, Any]:
    response = api.post(f"/api/lotes/{lote_id}/export", {"format": file_format})
    assert response.status_code == 202, response.body
    return dict(response.json_body["job"])


def downloaded(job: dict[str, Any]) -> bytes:
    """The file behind the job's download link (read with S3's API: moto in-process
    answers boto3, not plain HTTP)."""
    bucket = runtime.services().settings.upload_bucket
    body = boto3.client("s3").get_object(Bucket=bucket, Key=key_of(job))["Body"]
    return bytes(body.read())


def key_of(job: dict[str, Any]) -> str:
    """The object key in the job's download link (virtual-hosted or path style)."""
    bucket = runtime.services().settings.upload_bucket
    url = urlparse(job["result"]["downloadUrl"])
    path = unquote(url.path.lstrip("/"))
    return path if url.netloc.startswith(f"{bucket}.") else path.split("/", 1)[1]


def csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "Excel needs the BOM to read UTF-8"
    return list(csv.reader(io.StringIO(data[3:].decode("utf-8"), newline="")))


def lote_lines(api: Api, lote_id: str = LOTE) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = api.get(f"/api/lotes/{lote_id}?limit=500&cursor={cursor}").json_body
        lines += page["lines"]
        cursor = page["nextCursor"]
        if not cursor:
            return lines


def export_files_left() -> tuple[list[str], list[str]]:
    """Export objects and unfinished multipart uploads in the bucket."""
    s3 = boto3.client("s3")
    bucket = runtime.services().settings.upload_bucket
    objects = s3.list_objects_v2(Bucket=bucket, Prefix="exports/").get("Contents", [])
    uploads = s3.list_multipart_uploads(Bucket=bucket, Prefix="exports/").get("Uploads", [])
    return [item["Key"] for item in objects], [item["Key"] for item in uploads]


def test_a_csv_export_has_every_line_of_the_lote_in_file_order(api: Api, pump: Pump) -> None:
    # GIVEN a committed lote of 250 lines
    import_file(api, pump, generate_bytes(250, seed=71))
    # WHEN the user exports it to CSV
    queued = export(api, "csv")
    assert (queued["type"], queued["status"]) == ("EXPORT", "QUEUED")
    pump.drain()
    # THEN the job completes and links to a file with a Spanish header and one row per line
    job = api.job(queued["id"])
    assert job["status"] == "COMPLETED", job
    assert (job["processedItems"], job["totalItems"], job["progress"]) == (250, 250, 100)
    assert job["result"]["rows"] == 250
    assert job["result"]["filename"] == f"lote-{LOTE}.csv"
    assert "Exportación lista: 250 registros" in job["message"]
    [head, *rows] = csv_rows(downloaded(job))
    assert head == [*HEADER, "Reglas aplicadas", "Errores de reglas"]
    lines = lote_lines(api)
    assert (
        [int(row[0]) for row in rows] == [line["lineNo"] for line in lines] == list(range(1, 251))
    )
    for row, line in zip(rows, lines, strict=True):
        record = line["record"]
        assert row[HEADER.index("Importe")] == record["importe"]  # 1234.56: no locale
        assert row[HEADER.index("Tarjeta")] == record["tarjeta"]
        assert "******" in row[HEADER.index("Tarjeta")]
        assert row[HEADER.index("Fecha")] == record["fechaTransaccion"]
    assert sum(Decimal(row[HEADER.index("Importe")]) for row in rows) == sum(
        Decimal(line["record"]["importe"]) for line in lines
    )


def test_the_download_link_is_short_lived_and_saves_the_file_by_name(api: Api, pump: Pump) -> None:
    import_file(api, pump, generate_bytes(20, seed=72))
    job = api.job(export(api, "csv")["id"])
    pump.drain()
    job = api.job(job["id"])
    query = parse_qs(urlparse(job["result"]["downloadUrl"]).query)
    ttl = runtime.services().settings.download_url_ttl_s
    assert int(query["X-Amz-Expires"][0]) == ttl <= 15 * 60
    assert query["response-content-disposition"] == [f'attachment; filename="lote-{LOTE}.csv"']
    # ... made anew on every read, and in the list of jobs too
    [listed] = [j for j in api.get("/api/jobs").json_body["jobs"] if j["id"] == job["id"]]
    assert listed["result"]["downloadUrl"].startswith("http")
    # ... and never shown to another user of the tenant
    colleague = Api(api.client, token_for("bruno", tenant="acme"))
    assert colleague.get(f"/api/jobs/{job['id']}").status_code == 404
    namesake = Api(api.client, token_for("ana", tenant="globex"))  # same user id, other tenant
    assert namesake.get(f"/api/jobs/{job['id']}").status_code == 404


# The service's part size and the store's least part, both scaled down from S3's 5 MiB, so
# that a few thousand lines make a multipart file (moto's own floor is lowered to match);
# a chunk of 200 lines is ~29 KB of CSV: pieces wait for two more before they make a part.
SMALL_PART = 64 * 1024


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("EXPORT_CHUNK_LINES", "200")
    monkeypatch.setenv("EXPORT_PART_BYTES", str(SMALL_PART))
    monkeypatch.setenv("S3_MIN_PART_BYTES", str(SMALL_PART))
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", SMALL_PART)
    runtime.reset()
    yield
    monkeypatch.undo()
    runtime.reset()


def test_a_large_csv_is_written_in_parts_across_invocations(
    api: Api, pump: Pump, aws: QueueUrls, small_parts: None
) -> None:
    # GIVEN a lote whose CSV is several parts, and workers with budget for one chunk each
    import_file(api, pump, generate_bytes(3_000, seed=73))
    small = small_budget_pump(aws)
    # WHEN it is exported
    job_id = export(api, "csv")["id"]
    small.drain()
    assert sum(1 for call in small.stats.on("dkt-jobs-work")) >= 15
    # THEN the export ran over several invocations, the file is one multipart object of
    # several parts, and it holds every line once, in order
    job = api.job(job_id)
    assert job["status"] == "COMPLETED", job
    data = downloaded(job)
    assert len(data) > 2 * SMALL_PART
    s3 = boto3.client("s3")
    bucket = runtime.services().settings.upload_bucket
    assert s3.head_object(Bucket=bucket, Key=key_of(job), PartNumber=1)["PartsCount"] >= 5
    # ... and the pieces that waited to make a part are gone
    assert export_files_left() == ([key_of(job)], [])
    [_, *rows] = csv_rows(data)
    assert [int(row[0]) for row in rows] == list(range(1, 3_001))
    assert job["result"]["bytes"] == len(data)


def test_text_that_a_spreadsheet_would_run_is_neutralised(api: Api, pump: Pump) -> None:
    # GIVEN rules that write formulas into a field of their own and into the merchant
    rules = [
        {
            "code": "FORMULA",
            "name": "Fórmulas",
            "priority": 1,
            "actions": [
                {"type": "SET", "field": "centroCosto", "value": '=HYPERLINK("http://x","y")'},
                {"type": "SET", "field": "descripcionCupon", "value": "@SUM(A1)"},
            ],
        }
    ]
    assert api.put("/api/rules", {"rules": rules}).status_code == 200
    import_file(api, pump, generate_bytes(30, seed=74))
    # WHEN the lote is exported to CSV and to XLSX
    csv_job, xlsx_job = export(api, "csv"), export(api, "xlsx")
    pump.drain()
    # THEN the rule's field has a column, its formulas are text, and amounts stay numbers
    [head, *rows] = csv_rows(downloaded(api.job(csv_job["id"])))
    assert head[len(HEADER)] == "centroCosto"
    assert {row[len(HEADER)] for row in rows} == {'\'=HYPERLINK("http://x","y")'}
    assert {row[HEADER.index("Comercio")] for row in rows} == {"'@SUM(A1)"}
    assert {row[len(HEADER) + 1] for row in rows} == {"FORMULA"}
    book = openpyxl.load_workbook(io.BytesIO(downloaded(api.job(xlsx_job["id"]))))
    cells = list(book.active.iter_rows(min_row=2))
    # XLSX: string cells, which a spreadsheet shows and never runs (no apostrophe needed)
    assert {row[len(HEADER)].value for row in cells} == {'=HYPERLINK("http://x","y")'}
    assert {row[len(HEADER)].data_type for row in cells} == {"s"}
    assert all(isinstance(row[HEADER.index("Importe")].value, int | float) for row in cells)


def test_an_xlsx_export_has_a_header_and_numbers_as_numbers(api: Api, pump: Pump) -> None:
    import_file(api, pump, generate_bytes(120, seed=75))
    job_id = export(api, "xlsx")["id"]
    pump.drain()
    job = api.job(job_id)
    assert job["status"] == "COMPLETED", job
    assert job["result"]["filename"] == f"lote-{LOTE}.xlsx"
    book = openpyxl.load_workbook(io.BytesIO(downloaded(job)))
    [head, *rows] = book.active.iter_rows(values_only=True)
    assert list(head[: len(HEADER)]) == HEADER
    lines = lote_lines(api)
    assert [row[0] for row in rows] == [line["lineNo"] for line in lines]
    amounts = [row[HEADER.index("Importe")] for row in rows]
    assert amounts == [float(line["record"]["importe"]) for line in lines]
    # dates are date cells (shown dd/mm/aaaa), read back as the line's date
    assert [row[HEADER.index("Fecha")].date().isoformat() for row in rows] == [
        line["record"]["fechaTransaccion"] for line in lines
    ]
    cuotas = {row[HEADER.index("Cuota")] for row in rows} - {None}
    assert cuotas and all(isinstance(cuota, int) for cuota in cuotas)


def test_an_xlsx_of_more_rows_than_excel_holds_is_refused_with_the_csv_offered(
    api: Api,
) -> None:
    now = utcnow()
    Lote(
        tenant_id="acme",
        lote_id="HUGE2404",
        status=LoteStatus.ACTIVE.value,
        codigo_tarjeta="HUGE",
        periodo="2404",
        job_id="someimport",
        user_id="ana",
        line_count=runtime.services().settings.xlsx_max_rows + 1,
        created_at=now - timedelta(days=1),
        committed_at=now,
    ).save()
    response = api.post("/api/lotes/HUGE2404/export", {"format": "xlsx"})
    assert response.status_code == 400
    assert response.json_body["code"] == "TOO_MANY_ROWS"
    assert "hasta 250.000 filas" in response.json_body["message"]
    assert "CSV" in response.json_body["message"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"format": "pdf"}, "El formato debe ser csv o xlsx."),
        ({}, "Falta el campo formato (format)."),
        ({"format": "csv", "sheet": 1}, "El campo sheet no se admite."),
    ],
)
def test_a_bad_export_request_is_a_400_in_spanish(
    api: Api, pump: Pump, body: dict[str, Any], message: str
) -> None:
    import_file(api, pump, generate_bytes(5, seed=76))
    response = api.post(f"/api/lotes/{LOTE}/export", body)
    assert response.status_code == 400
    assert response.json_body["message"] == message


def test_an_export_of_another_tenants_or_no_lote_is_a_404(api: Api, pump: Pump) -> None:
    import_file(api, pump, generate_bytes(5, seed=77))
    stranger = Api(api.client, token_for("zoe", tenant="globex"))
    assert stranger.post(f"/api/lotes/{LOTE}/export", {"format": "csv"}).status_code == 404
    assert api.post("/api/lotes/NOPE2404/export", {"format": "csv"}).status_code == 404


def test_a_cancelled_export_leaves_no_file_and_no_upload(
    api: Api, pump: Pump, aws: QueueUrls, small_parts: None
) -> None:
    # GIVEN an export of a large lote under way (one part written)
    import_file(api, pump, generate_bytes(1_200, seed=78))
    pump = small_budget_pump(aws)
    job_id = export(api, "csv")["id"]
    pump.poll_once(only="dkt-jobs-work")
    assert api.job(job_id)["status"] == "PROCESSING"
    assert export_files_left()[1], "the multipart upload is under way"
    # WHEN the user cancels it
    assert api.cancel(job_id).status_code == 200
    pump.drain()
    # THEN it ends CANCELLED with nothing left in the bucket
    job = api.job(job_id)
    assert job["status"] == "CANCELLED"
    assert job["message"].startswith("Exportación cancelada con ")
    assert job["result"] is None
    assert export_files_left() == ([], [])
    # WHEN she retries it: it starts over, and counts the whole lote again
    assert api.post(f"/api/jobs/{job_id}/retry").status_code == 202
    pump.drain()
    job = api.job(job_id)
    assert job["status"] == "COMPLETED", job
    assert (job["processedItems"], job["totalItems"], job["result"]["rows"]) == (1_200,) * 3
    assert [int(row[0]) for row in csv_rows(downloaded(job))[1:]] == list(range(1, 1_201))


def test_an_export_of_a_lote_deleted_meanwhile_fails_and_leaves_nothing(
    api: Api, pump: Pump, aws: QueueUrls, small_parts: None
) -> None:
    import_file(api, pump, generate_bytes(1_200, seed=79))
    job_id = export(api, "csv")["id"]
    small_budget_pump(aws).poll_once(only="dkt-jobs-work")
    # WHEN the lote is deleted while the export runs
    assert api.delete(f"/api/lotes/{LOTE}").status_code == 202
    pump.drain()
    # THEN the export fails saying why, and leaves no partial file
    job = api.job(job_id)
    assert job["status"] == "FAILED"
    assert job["error"]["code"] == "LOTE_CHANGED"
    assert "expórtelo de nuevo" in job["error"]["message"]
    assert export_files_left() == ([], [])


@pytest.mark.parametrize(
    ("file_format", "event", "occurrences"),
    [
        ("csv", "after-call.s3.UploadPart", (1, 3)),
        ("csv", "after-call.s3.PutObject", (2, 5)),
        ("csv", "before-call.s3.GetObject", (3,)),
        ("csv", "after-call.s3.CompleteMultipartUpload", (1,)),
        ("csv", "before-call.dynamodb.UpdateItem", (2, 4)),
        ("xlsx", "after-call.s3.UploadPart", (1,)),
        ("xlsx", "after-call.s3.CompleteMultipartUpload", (1,)),
    ],
)
def test_a_worker_killed_anywhere_still_gives_a_file_with_each_line_once(
    api: Api,
    pump: Pump,
    aws: QueueUrls,
    small_parts: None,
    file_format: str,
    event: str,
    occurrences: tuple[int, ...],
) -> None:
    # GIVEN an export whose worker dies at `event` (the message comes back, as from SQS)
    import_file(api, pump, generate_bytes(1_200, seed=80))
    faults = FaultInjector().install()
    for occurrence in occurrences:
        faults.crash_at(event, occurrence)
    small = small_budget_pump(aws, faults=faults)
    job_id = export(api, file_format)["id"]
    small.drain()
    # THEN it completes, once, and its file holds each line once, in order
    assert any(call.error for call in small.stats.invocations), "no worker was killed"
    job = api.job(job_id)
    assert job["status"] == "COMPLETED", job
    data = downloaded(job)
    if file_format == "csv":
        numbers = [int(row[0]) for row in csv_rows(data)[1:]]
    else:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
        numbers = [row[0] for row in book.active.iter_rows(min_row=2, values_only=True)]
    assert numbers == list(range(1, 1_201))
    assert job["result"]["bytes"] == len(data)
    assert export_files_left() == ([key_of(job)], []), "a piece or an upload was left"


def test_an_imports_error_report_is_exported_like_a_lote(api: Api, pump: Pump) -> None:
    # GIVEN an import that skipped its three broken lines
    lines = generate_bytes(60, seed=81).split(b"\n")
    for line_no in (10, 20, 30):
        lines[line_no - 1] = b"not a dkt line"
    imported = import_file(api, pump, b"\n".join(lines), skipInvalidLines=True)
    assert imported["status"] == "COMPLETED"
    # WHEN its error report is exported
    response = api.post(f"/api/jobs/{imported['id']}/errors/export", {"format": "csv"})
    assert response.status_code == 202, response.body
    pump.drain()
    # THEN the file lists the skipped lines with the reasons the report gives
    job = api.job(response.json_body["job"]["id"])
    assert job["status"] == "COMPLETED", job
    assert job["result"]["filename"] == "errores-abril.csv"
    assert job["message"] == "Exportación lista: 3 líneas con error de abril.dkt (CSV)."
    [head, *rows] = csv_rows(downloaded(job))
    assert head == ["Línea", "Campo", "Valor leído", "Motivo"]
    report = api.get(f"/api/jobs/{imported['id']}/errors").json_body["errors"]
    assert [int(row[0]) for row in rows] == [10, 20, 30] == [e["lineNo"] for e in report]
    assert [row[3] for row in rows] == [e["reason"] for e in report]


def test_an_import_without_line_errors_has_no_report_to_export(api: Api, pump: Pump) -> None:
    imported = import_file(api, pump, generate_bytes(10, seed=82))
    response = api.post(f"/api/jobs/{imported['id']}/errors/export", {"format": "csv"})
    assert response.status_code == 409
    assert response.json_body["message"] == (
        "Esta importación no tiene errores por línea para exportar."
    )
    colleague = Api(api.client, token_for("bruno", tenant="acme"))
    refused = colleague.post(f"/api/jobs/{imported['id']}/errors/export", {"format": "csv"})
    assert refused.status_code == 404


def test_an_export_that_died_in_the_dead_letter_queue_is_retried_by_itself(
    api: Api, pump: Pump, aws: QueueUrls, small_parts: None
) -> None:
    # GIVEN an export whose pieces cannot be written for a while: dead-lettered, FAILED
    import_file(api, pump, generate_bytes(1_200, seed=83))
    faults = FaultInjector().install()
    break_piece_writes(faults, after=1)
    small = small_budget_pump(aws, faults=faults)
    job_id = export(api, "csv")["id"]
    small.drain()
    failed = api.job(job_id)
    assert failed["status"] == "FAILED" and failed["error"]["code"] == "PROCESSING_ERROR"
    assert failed["nextRetryAt"] is not None
    # WHEN S3 is back and the retry is due
    faults.disarm()
    due = datetime.fromisoformat(failed["nextRetryAt"].replace("Z", "+00:00"))
    assert sweeper.sweep(runtime.services(), due + timedelta(seconds=1)).retried == [job_id]
    job = run_until_settled(api, small, job_id)
    # THEN it resumes and completes, with each line once
    assert job["status"] == "COMPLETED", job
    assert job["attempts"] == 2
    assert [int(row[0]) for row in csv_rows(downloaded(job))[1:]] == list(range(1, 1_201))
    assert export_files_left() == ([key_of(job)], [])


def break_piece_writes(faults: FaultInjector, after: int) -> None:
    """After `after` pieces, S3 refuses every piece until `faults.disarm()`."""

    def always_fail() -> None:
        raise Crash("S3 keeps failing")

    def break_storage() -> None:
        for _ in range(100):
            faults.run_at("before-call.s3.PutObject", 1, always_fail)

    faults.run_at("before-call.s3.PutObject", after + 1, break_storage)


def test_the_link_goes_when_the_bucket_drops_the_file(api: Api, pump: Pump) -> None:
    import_file(api, pump, generate_bytes(10, seed=84))
    job_id = export(api, "csv")["id"]
    pump.drain()
    job = Job.get(job_id)
    kept = runtime.services().settings.export_retention_days
    job.update(actions=[Job.completed_at.set(utcnow() - timedelta(days=kept, minutes=1))])
    shown = api.job(job_id)
    assert shown["status"] == "COMPLETED"
    assert "downloadUrl" not in shown["result"]
