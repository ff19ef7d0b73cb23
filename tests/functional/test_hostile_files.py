"""Files that are not what they claim: each gets a FAILED job that says what it is, or
line errors for what is wrong inside a line; nothing is half-imported."""

from __future__ import annotations

import gzip
import io
import zipfile

import boto3
import pytest
from support import Api, create_and_upload, import_file, upload

from chalicelib.core.models import Lote
from localdev.dktgen import generate_bytes
from localdev.pump import Pump

BUCKET = "test-dkt-uploads"
STATEMENT = generate_bytes(40, seed=5)


def zipped(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("resumen.dkt", data)
    return buffer.getvalue()


def no_lotes() -> bool:
    return list(Lote.scan()) == []


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (zipped(STATEMENT), "ZIP"),
        (gzip.compress(STATEMENT), "GZIP"),
        (b"%PDF-1.7\n" + STATEMENT, "PDF"),
        (STATEMENT.decode("latin-1").encode("utf-16"), "UTF-16"),
        (STATEMENT.decode("latin-1").encode("utf-16-le"), "UTF-16"),  # no BOM
        (STATEMENT.replace(b"\r\n", b"\r").replace(b"\n", b"\r"), "solo con CR"),
        (STATEMENT[:400].replace(b"\n", b"\r"), "solo con CR"),  # the whole file in the head
    ],
)
def test_a_file_that_is_not_a_dkt_text_fails_saying_what_it_is(
    api: Api, pump: Pump, data: bytes, says: str
) -> None:
    job = import_file(api, pump, data, skipInvalidLines=True)
    assert job["status"] == "FAILED"
    assert job["error"]["code"] == "NOT_A_DKT_FILE"
    assert says in job["message"]
    assert "demasiado larga" not in job["message"]
    assert no_lotes()


@pytest.mark.parametrize("control", [b"\x00", b"\x07", b"\x1b", b"\x7f", b"\r", b"\t"])
def test_a_control_character_inside_a_field_is_a_line_error(
    api: Api, pump: Pump, control: bytes
) -> None:
    lines = STATEMENT.split(b"\n")
    lines[6] = lines[6][:60] + control + lines[6][61:]  # same width, one byte replaced
    data = b"\n".join(lines)

    strict = import_file(api, pump, data)
    assert strict["status"] == "FAILED" and strict["error"]["code"] == "INVALID_LINES"
    [error] = api.get(f"/api/jobs/{strict['id']}/errors").json_body["errors"]
    assert error["lineNo"] == 7
    assert "carácter de control" in error["reason"]
    assert no_lotes()

    lenient = import_file(api, pump, data, skipInvalidLines=True)
    assert lenient["status"] == "COMPLETED"
    assert lenient["result"]["linesImported"] == 39


def test_an_upload_of_another_size_than_declared_fails_and_is_removed(api: Api, pump: Pump) -> None:
    created = api.create_import(size=len(STATEMENT))
    upload(created.json_body["upload"], STATEMENT + STATEMENT[:300])  # moto ignores the policy
    pump.drain()
    job = api.job(created.json_body["job"]["id"])
    assert job["status"] == "FAILED"
    assert job["error"]["code"] == "SIZE_MISMATCH"
    assert "se declararon" in job["message"]
    key = created.json_body["upload"]["key"]
    assert boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=key)["KeyCount"] == 0
    assert no_lotes()


def test_an_upload_of_the_declared_size_is_imported(api: Api, pump: Pump) -> None:
    job_id = create_and_upload(api, STATEMENT).json_body["job"]["id"]
    pump.drain()
    assert api.job(job_id)["status"] == "COMPLETED"


@pytest.mark.parametrize(
    "name", ["sin-codigo.dkt", "sin_codigo.dkt", "icbcvc_2404.dkt", "ICBCVC-2404.dkt", "2404.dkt"]
)
def test_a_dropped_file_without_a_documented_card_code_fails_and_invents_no_lote(
    api: Api, pump: Pump, name: str
) -> None:
    boto3.client("s3").put_object(Bucket=BUCKET, Key=f"uploads/acme/ana/{name}", Body=STATEMENT)
    pump.drain()
    [job] = api.get("/api/jobs").json_body["jobs"]
    assert job["status"] == "FAILED"
    assert "código de tarjeta" in job["message"] and "ICBCVC_abril.dkt" in job["message"]
    assert no_lotes()
