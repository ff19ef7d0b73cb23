"""The same statement twice: refused, naming the lote it already is, unless the user
insists (issue 14, item 5)."""

from __future__ import annotations

import base64
import hashlib

import boto3
from support import Api, import_file, start_import, token_for

from localdev.dktgen import generate_bytes
from localdev.pump import Pump

BUCKET = "test-dkt-uploads"
STATEMENT = generate_bytes(120, seed=301)
DIGEST = hashlib.sha256(STATEMENT).hexdigest()


def jobs_of(api: Api) -> list[dict[str, object]]:
    return list(api.get("/api/jobs").json_body["jobs"])


def lote_lines(api: Api, lote_id: str) -> int | None:
    response = api.get(f"/api/lotes/{lote_id}")
    return int(response.json_body["lote"]["lineCount"]) if response.status_code == 200 else None


def test_a_file_already_imported_is_refused_before_its_upload_naming_the_lote(
    api: Api, pump: Pump
) -> None:
    first = import_file(api, pump, STATEMENT, sha256=DIGEST)
    assert first["status"] == "COMPLETED" and first["fileSha256"] == DIGEST

    # The page sends the file's digest with the create, before any byte is uploaded.
    again = api.create_import(codigoTarjeta="VISACORP", size=len(STATEMENT), sha256=DIGEST)

    assert again.status_code == 409
    assert again.json_body["code"] == "DUPLICATE_FILE"
    assert again.json_body["loteId"] == "ICBCVC2404"
    assert "ICBCVC2404" in again.json_body["message"]
    assert len(jobs_of(api)) == 1  # no job, no upload form, no slot taken


def test_without_a_digest_the_arrived_file_is_checked_and_nothing_is_imported(
    api: Api, pump: Pump
) -> None:
    import_file(api, pump, STATEMENT)

    # A client that sends no digest (the CLI of an older version, a script).
    second = import_file(api, pump, STATEMENT, codigoTarjeta="VISACORP")

    assert second["status"] == "FAILED"
    assert second["error"]["code"] == "DUPLICATE_FILE"
    assert second["error"]["loteId"] == "ICBCVC2404"
    assert second["retryable"] is False  # a plain retry would be refused again
    assert second["fileSha256"] == DIGEST
    assert lote_lines(api, "VISACORP2404") is None
    assert lote_lines(api, "ICBCVC2404") == 120


def test_allow_duplicate_imports_the_same_file_again(api: Api, pump: Pump) -> None:
    import_file(api, pump, STATEMENT, sha256=DIGEST)

    forced = import_file(
        api, pump, STATEMENT, codigoTarjeta="VISACORP", sha256=DIGEST, allowDuplicate=True
    )

    assert forced["status"] == "COMPLETED"
    assert lote_lines(api, "VISACORP2404") == 120
    # Both lotes now hold the file: a third try names one of them.
    third = api.create_import(codigoTarjeta="AMEXCORP", size=len(STATEMENT), sha256=DIGEST)
    assert third.json_body["loteId"] in {"ICBCVC2404", "VISACORP2404"}


def test_a_refused_duplicate_is_imported_when_retried_with_allow_duplicate(
    api: Api, pump: Pump
) -> None:
    import_file(api, pump, STATEMENT)
    refused = import_file(api, pump, STATEMENT, codigoTarjeta="VISACORP")

    plain = api.post(f"/api/jobs/{refused['id']}/retry")
    assert plain.status_code == 409
    wrong_option = api.post(f"/api/jobs/{refused['id']}/retry", {"replace": True})
    assert wrong_option.status_code == 409
    assert "reemplaz" in wrong_option.json_body["message"]

    forced = api.post(f"/api/jobs/{refused['id']}/retry", {"allowDuplicate": True})
    assert forced.status_code == 202, forced.json_body
    pump.drain()

    job = api.job(refused["id"])
    assert job["status"] == "COMPLETED" and job["attempts"] == 2
    assert job["parameters"]["allowDuplicate"] is True
    assert lote_lines(api, "VISACORP2404") == 120


def test_allow_duplicate_is_refused_on_a_retry_of_any_other_failure(api: Api, pump: Pump) -> None:
    import_file(api, pump, STATEMENT)
    exists = import_file(api, pump, generate_bytes(30, seed=302))  # same lote, other file
    assert exists["error"]["code"] == "LOTE_EXISTS"

    response = api.post(f"/api/jobs/{exists['id']}/retry", {"allowDuplicate": True})

    assert response.status_code == 409
    assert "de todos modos" in response.json_body["message"]
    assert api.job(exists["id"])["status"] == "FAILED"


def test_replacing_its_own_lote_with_the_same_file_is_no_duplicate(api: Api, pump: Pump) -> None:
    # How a lote is read again with new rules: the same statement, replacing its lote.
    first = import_file(api, pump, STATEMENT, sha256=DIGEST)

    again = import_file(api, pump, STATEMENT, sha256=DIGEST, replace=True)

    assert again["status"] == "COMPLETED"
    lote = api.get("/api/lotes/ICBCVC2404").json_body["lote"]
    assert (lote["jobId"], lote["lineCount"]) == (again["id"], 120)
    assert first["id"] != again["id"]


def test_a_deleted_or_replaced_lote_no_longer_holds_its_file(api: Api, pump: Pump) -> None:
    import_file(api, pump, STATEMENT)
    assert api.delete("/api/lotes/ICBCVC2404").status_code == 202
    # Being deleted (its lines still there): already no lote of the tenant's.
    while_deleting = api.create_import(codigoTarjeta="VISACORP", size=10, sha256=DIGEST)
    assert while_deleting.status_code == 201, while_deleting.json_body
    pump.drain()

    after_delete = import_file(api, pump, STATEMENT, sha256=DIGEST)
    assert after_delete["status"] == "COMPLETED"

    # Replaced by another statement of the same period: the first file is free again.
    import_file(api, pump, generate_bytes(40, seed=303), replace=True)
    after_replace = api.create_import(codigoTarjeta="VISACORP", size=10, sha256=DIGEST)
    assert after_replace.status_code == 201, after_replace.json_body


def test_a_file_sent_inline_is_refused_at_once(api: Api, pump: Pump) -> None:
    import_file(api, pump, STATEMENT)

    inline = api.create_import(
        codigoTarjeta="VISACORP", content=base64.b64encode(STATEMENT).decode()
    )

    assert inline.status_code == 409
    assert inline.json_body["loteId"] == "ICBCVC2404"


def test_a_file_dropped_in_the_bucket_again_fails_its_job(api: Api, pump: Pump) -> None:
    s3 = boto3.client("s3")
    s3.put_object(Bucket=BUCKET, Key="uploads/acme/ana/ICBCVC/abril.dkt", Body=STATEMENT)
    pump.drain()
    s3.put_object(Bucket=BUCKET, Key="uploads/acme/ana/VISACORP/abril-copia.dkt", Body=STATEMENT)
    pump.drain()

    statuses = sorted((job["status"], (job["error"] or {}).get("code")) for job in jobs_of(api))

    assert statuses == [("COMPLETED", None), ("FAILED", "DUPLICATE_FILE")]


def test_another_company_may_import_the_same_file(api: Api, pump: Pump) -> None:
    import_file(api, pump, STATEMENT, sha256=DIGEST)
    other = Api(api.client, token_for("zoe", tenant="globex"))

    theirs = import_file(other, pump, STATEMENT, sha256=DIGEST)

    assert theirs["status"] == "COMPLETED"


def test_two_imports_of_one_file_at_once_leave_one_lote(api: Api, pump: Pump) -> None:
    # Both created and uploaded before either runs.
    first = start_import(api, STATEMENT, sha256=DIGEST)
    second = start_import(api, STATEMENT, sha256=DIGEST)
    pump.drain()

    jobs = sorted((api.job(job_id) for job_id in (first, second)), key=lambda job: job["status"])
    outcomes = [(job["status"], (job["error"] or {}).get("code")) for job in jobs]

    # The loser is refused by the lote's claim, or by the digest if the winner committed
    # before its file was accepted (as the pump orders them here): either way, one lote.
    assert outcomes[0] == ("COMPLETED", None)
    assert outcomes[1] in {("FAILED", "LOTE_EXISTS"), ("FAILED", "DUPLICATE_FILE")}
    assert lote_lines(api, "ICBCVC2404") == 120
