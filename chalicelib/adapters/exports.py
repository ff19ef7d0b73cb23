"""S3: export files, written as multipart uploads a part at a time, read by presigned URL.

An export's parts are uploaded by successive chunks, possibly by different invocations:
the upload id and the parts done so far live in the job's checkpoint, so the file is
never whole in memory. Uploading a part again under its number replaces it, which is
what makes a repeated chunk harmless.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class ExportStore:
    """Export files in the service's bucket, under their own prefix (no upload trigger)."""

    def __init__(self, client: S3Client, bucket: str, prefix: str = "exports/") -> None:
        self._s3 = client
        self._bucket = bucket
        self._prefix = prefix

    def key_for(self, tenant_id: str, user_id: str, job_id: str, filename: str) -> str:
        return f"{self._prefix}{tenant_id}/{user_id}/{job_id}/{filename}"

    def begin(self, key: str, file_format: str) -> str:
        """The open multipart upload of `key`, started now unless an earlier delivery of
        the same chunk started one and died before recording it; returns its upload id."""
        for upload_id in self._open_uploads(key):
            return upload_id
        response = self._s3.create_multipart_upload(
            Bucket=self._bucket,
            Key=key,
            ContentType=CONTENT_TYPES[file_format],
        )  # encrypted by the bucket's default (KMS), like the uploads
        return response["UploadId"]

    def put_part(self, key: str, upload_id: str, number: int, data: bytes) -> str | None:
        """Uploads part `number` (from 1); returns its ETag, or None if the upload is no
        longer open (S3's lifecycle rule aborted it)."""
        try:
            response = self._s3.upload_part(
                Bucket=self._bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data
            )
        except ClientError as exc:
            if _code(exc) == "NoSuchUpload":
                return None
            raise
        return response["ETag"]

    def finish(self, key: str, upload_id: str, etags: Sequence[str]) -> None:
        """Completes the upload from its parts 1..len(etags), in order; a completed one is
        left as is. The ETags are S3's own (ListParts): a part a duplicate delivery
        uploaded again may have another one (with SSE-KMS an ETag is no digest)."""
        try:
            listed = self._part_etags(key, upload_id)
            self._s3.complete_multipart_upload(
                Bucket=self._bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={
                    "Parts": [
                        {"PartNumber": number, "ETag": listed.get(number, etag)}
                        for number, etag in enumerate(etags, start=1)
                    ]
                },
            )
        except ClientError as exc:
            # A repeated delivery of the last chunk: the first one completed it.
            if _code(exc) != "NoSuchUpload" or self.size_of(key) is None:
                raise
        self._abort_open(key)  # any that two deliveries racing at the start both began

    def _part_etags(self, key: str, upload_id: str) -> dict[int, str]:
        paginator = self._s3.get_paginator("list_parts")
        etags: dict[int, str] = {}
        for page in paginator.paginate(Bucket=self._bucket, Key=key, UploadId=upload_id):
            etags.update({part["PartNumber"]: part["ETag"] for part in page.get("Parts", [])})
        return etags

    def discard(self, key: str) -> None:
        """Aborts every open upload of `key` and removes the file, if it was completed, and
        its pieces."""
        self._abort_open(key)
        self._s3.delete_object(Bucket=self._bucket, Key=key)
        self.drop_pieces(key)

    # Pieces: what chunks wrote that is not a part yet (S3 takes no part under 5 MiB but
    # the last), one small object per chunk beside the file, read back to make a part.

    def put_piece(self, key: str, name: int, data: bytes) -> None:
        self._s3.put_object(Bucket=self._bucket, Key=self._piece_key(key, name), Body=data)

    def piece(self, key: str, name: int) -> bytes:
        response = self._s3.get_object(Bucket=self._bucket, Key=self._piece_key(key, name))
        return response["Body"].read()

    def drop_pieces(self, key: str) -> None:
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=f"{key}.pieces/"):
            objects: list[ObjectIdentifierTypeDef] = [
                {"Key": item["Key"]} for item in page.get("Contents", [])
            ]
            if objects:
                self._s3.delete_objects(
                    Bucket=self._bucket, Delete={"Objects": objects, "Quiet": True}
                )

    @staticmethod
    def _piece_key(key: str, name: int) -> str:
        return f"{key}.pieces/{name:012d}"

    def _open_uploads(self, key: str) -> list[str]:
        response = self._s3.list_multipart_uploads(Bucket=self._bucket, Prefix=key)
        return [item["UploadId"] for item in response.get("Uploads", []) if item["Key"] == key]

    def _abort_open(self, key: str) -> None:
        for upload_id in self._open_uploads(key):
            try:
                self._s3.abort_multipart_upload(Bucket=self._bucket, Key=key, UploadId=upload_id)
            except ClientError as exc:
                if _code(exc) != "NoSuchUpload":
                    raise

    def size_of(self, key: str) -> int | None:
        """The size of the completed file, or None while there is none."""
        try:
            return int(self._s3.head_object(Bucket=self._bucket, Key=key)["ContentLength"])
        except ClientError as exc:
            if _code(exc) in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise

    def download_url(self, key: str, filename: str, expires_in: int) -> str:
        """A GET URL of the file that saves it as `filename`, valid `expires_in` seconds."""
        return self._s3.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self._bucket,
                "Key": key,
                "ResponseContentDisposition": f'attachment; filename="{filename}"',
            },
            ExpiresIn=expires_in,
        )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
