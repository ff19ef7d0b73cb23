"""S3 uploads start jobs: presigned uploads, files dropped in the bucket, bad uploads."""

from __future__ import annotations

import json

import boto3
from support import Api, import_file, make_pump, token_for, upload

from localdev.dktgen import generate_bytes
from localdev.pump import Pump
from localdev.resources import QueueUrls

BUCKET = "test-dkt-uploads"


def jobs_of(api: Api) -> list[dict[str, object]]:
    return list(api.get("/api/jobs").json_body["jobs"])


def test_file_dropped_in_the_users_folder_creates_and_runs_a_job(api: Api, pump: Pump) -> None:
    # GIVEN a file put straight into uploads/{tenant}/{user}/{CODIGO}/ (e.g. by an SFTP feed)
    data = generate_bytes(300, seed=9)
    boto3.client("s3").put_object(
        Bucket=BUCKET, Key="uploads/acme/ana/VISACORP/resumen abril.dkt", Body=data
    )
    # WHEN its notification is processed
    pump.drain()
    # THEN Ana sees a completed import of that card product
    [job] = jobs_of(api)
    assert job["status"] == "COMPLETED"
    assert job["processedItems"] == 300
    assert job["loteId"] == "VISACORP2404"
    assert job["parameters"]["filename"] == "resumen abril.dkt"


def test_repeated_s3_notification_starts_one_job_once(api: Api, aws: QueueUrls) -> None:
    s3 = boto3.client("s3")
    s3.put_object(Bucket=BUCKET, Key="uploads/acme/ana/ICBCVC/a.dkt", Body=generate_bytes(10))
    sqs = boto3.client("sqs")
    messages = []
    while batch := sqs.receive_message(QueueUrl=aws.uploads, MaxNumberOfMessages=10).get(
        "Messages"
    ):
        messages += batch
    notification = next(m["Body"] for m in messages if "Records" in m["Body"])
    for _ in range(3):  # at-least-once delivery
        sqs.send_message(QueueUrl=aws.uploads, MessageBody=notification)

    make_pump(aws).drain()

    [job] = jobs_of(api)
    assert job["status"] == "COMPLETED"
    assert job["processedItems"] == 10


def test_file_dropped_without_a_card_code_fails_with_a_reason(api: Api, pump: Pump) -> None:
    boto3.client("s3").put_object(
        Bucket=BUCKET, Key="uploads/acme/ana/statement.dkt", Body=generate_bytes(5)
    )
    pump.drain()
    [job] = jobs_of(api)
    assert job["status"] == "FAILED"
    assert "código de tarjeta" in str(job["message"])


def test_card_code_can_come_from_the_file_name(api: Api, pump: Pump) -> None:
    boto3.client("s3").put_object(
        Bucket=BUCKET, Key="uploads/acme/ana/ICBCMC_2404.dkt", Body=generate_bytes(5)
    )
    pump.drain()
    [job] = jobs_of(api)
    assert job["status"] == "COMPLETED"
    assert job["loteId"] == "ICBCMC2404"


def test_upload_over_the_size_limit_fails_the_job_even_if_s3_accepted_it(
    api: Api, pump: Pump, monkeypatch: object
) -> None:
    # GIVEN a job whose upload is bigger than its limit (moto does not enforce the policy)
    created = api.create_import(size=100)
    job_id = created.json_body["job"]["id"]
    big = b"0" * (50 * 1024 * 1024 + 1)
    key = created.json_body["upload"]["key"]
    boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=big)
    # WHEN its notification is processed
    pump.drain()
    # THEN the job fails with a clear reason and the file is gone
    job = api.job(job_id)
    assert job["status"] == "FAILED"
    assert job["error"]["code"] == "FILE_TOO_LARGE"
    assert "máximo" in job["message"]
    assert boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=key)["KeyCount"] == 0


def test_s3_test_event_and_foreign_keys_are_ignored(api: Api, aws: QueueUrls) -> None:
    sqs = boto3.client("sqs")
    sqs.send_message(
        QueueUrl=aws.uploads,
        MessageBody=json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"}),
    )
    boto3.client("s3").put_object(Bucket=BUCKET, Key="reports/x.dkt", Body=b"x")
    boto3.client("s3").put_object(Bucket=BUCKET, Key="uploads/too-short.dkt", Body=b"x")
    sqs.send_message(QueueUrl=aws.uploads, MessageBody="not json")

    stats = make_pump(aws).drain()

    assert all(call.error is None for call in stats.invocations)
    assert jobs_of(api) == []


def test_dropped_file_belongs_only_to_the_user_of_its_folder(api: Api, pump: Pump) -> None:
    boto3.client("s3").put_object(
        Bucket=BUCKET, Key="uploads/acme/bruno/ICBCVC/x.dkt", Body=generate_bytes(5)
    )
    pump.drain()
    bruno = Api(api.client, token_for("bruno"))
    assert jobs_of(api) == []
    assert len(jobs_of(bruno)) == 1


def test_empty_upload_fails_the_job(api: Api, pump: Pump) -> None:
    created = api.create_import(size=10)
    boto3.client("s3").put_object(Bucket=BUCKET, Key=created.json_body["upload"]["key"], Body=b"")
    pump.drain()
    job = api.job(created.json_body["job"]["id"])
    assert job["status"] == "FAILED"
    assert job["error"]["code"] == "EMPTY_FILE"


def test_presigned_post_upload_is_what_the_worker_reads(api: Api, pump: Pump) -> None:
    data = generate_bytes(40, seed=12)
    job = import_file(api, pump, data)
    assert job["status"] == "COMPLETED"
    assert job["totalItems"] == 40


def test_dropped_files_count_against_the_users_active_import_limit(api: Api, pump: Pump) -> None:
    # GIVEN Ana with 4 imports waiting for their files (the limit is 5)
    waiting = [api.create_import(size=10).json_body["job"]["id"] for _ in range(4)]
    # WHEN two files land in her folder at once
    s3 = boto3.client("s3")
    for codigo in ("VISACORP", "AMEXCORP"):
        s3.put_object(
            Bucket=BUCKET, Key=f"uploads/acme/ana/{codigo}/abril.dkt", Body=generate_bytes(40)
        )
    pump.drain(only="dkt-jobs-uploads")
    # THEN one takes the fifth slot, the other fails saying why, its file kept
    dropped = [job for job in jobs_of(api) if job["id"] not in waiting]
    by_status = {str(job["status"]): job for job in dropped}
    assert sorted(by_status) == ["FAILED", "QUEUED"]
    refused = by_status["FAILED"]
    assert refused["error"]["code"] == "TOO_MANY_ACTIVE_JOBS"
    assert "quedó guardado" in str(refused["message"])
    assert api.create_import(size=10).status_code == 429
    # AND once a slot is free, retrying the refused one imports its file
    assert api.cancel(waiting[0]).status_code == 200
    assert api.post(f"/api/jobs/{refused['id']}/retry").status_code == 202
    pump.drain()
    done = api.job(str(refused["id"]))
    assert done["status"] == "COMPLETED"
    assert done["processedItems"] == 40


def test_a_job_says_it_waits_for_its_file_until_the_file_arrives(api: Api, pump: Pump) -> None:
    # GIVEN an import created, its file not uploaded yet
    data = generate_bytes(10, seed=60)
    created = api.create_import(size=len(data)).json_body
    job_id = created["job"]["id"]
    # THEN the job says it waits for the file (the page tells a live upload from a lost one)
    assert api.job(job_id)["awaitingUpload"] is True
    # WHEN the file arrives and is taken
    upload(created["upload"], data)
    pump.drain(only="dkt-jobs-uploads")
    # THEN it no longer waits, nor once it is done
    assert api.job(job_id)["awaitingUpload"] is False
    pump.drain()
    done = api.job(job_id)
    assert done["status"] == "COMPLETED" and done["awaitingUpload"] is False
