"""S3: upload keys and URLs, and streaming a file's lines from a byte offset."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError

from chalicelib.core.errors import FileChanged

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import GetObjectOutputTypeDef, GetObjectRequestTypeDef

# Ranged reads of this size: memory stays flat whatever the file size (one window and a
# line), and each GetObject's first-byte latency (~20 ms) is paid once per ~6,000 lines.
READ_WINDOW = 2 * 1024 * 1024
# A DKT line is ~330 bytes; anything far longer is garbage, reported, never buffered.
MAX_LINE_BYTES = 4096
# Hashing a whole upload streams it in blocks of this size.
HASH_BLOCK = 1024 * 1024

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class PresignedUpload:
    """What a browser or CLI needs to POST a file straight to S3."""

    url: str
    fields: dict[str, str]
    key: str
    max_size: int
    expires_in: int


@dataclass(frozen=True)
class UploadPath:
    """Where an uploaded object sits: tenant and user from the path, plus the rest."""

    key: str
    tenant_id: str
    user_id: str
    folder: str | None  # job id (presigned uploads) or card product code (dropped files)
    filename: str


@dataclass(frozen=True)
class ObjectInfo:
    """What the service pins of an uploaded object."""

    size: int
    etag: str


@dataclass(frozen=True, slots=True)
class RawLine:
    """One physical line without its newline, and the offset just past it."""

    data: bytes
    end: int
    too_long: bool = False


def safe_filename(filename: str) -> str:
    """The base name reduced to characters that are safe in a key (and in a log)."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE_NAME.sub("_", base).strip("._") or "archivo.dkt"
    return cleaned[:100]


class UploadStore:
    """The private upload bucket."""

    def __init__(self, client: S3Client, bucket: str, prefix: str = "uploads/") -> None:
        self._s3 = client
        self._bucket = bucket
        self._prefix = prefix

    @property
    def bucket(self) -> str:
        return self._bucket

    def upload_key(self, tenant_id: str, user_id: str, job_id: str, filename: str) -> str:
        return f"{self._prefix}{tenant_id}/{user_id}/{job_id}/{safe_filename(filename)}"

    def parse_key(self, raw_key: str) -> UploadPath | None:
        """Reads tenant and user off an object key as S3 events send it (URL-encoded).

        Returns None for keys outside `uploads/{tenant}/{user}/...`.
        """
        key = unquote_plus(raw_key)
        if not key.startswith(self._prefix):
            return None
        parts = key[len(self._prefix) :].split("/")
        if len(parts) not in (3, 4) or not all(parts):
            return None
        folder = parts[2] if len(parts) == 4 else None
        return UploadPath(key, parts[0], parts[1], folder, parts[-1])

    def presigned_post(self, key: str, size: int, expires_in: int) -> PresignedUpload:
        """A POST policy pinned to `key` and to exactly `size` bytes (the declared size)."""
        post = self._s3.generate_presigned_post(
            Bucket=self._bucket,
            Key=key,
            Conditions=[["content-length-range", size, size]],
            ExpiresIn=expires_in,
        )
        return PresignedUpload(post["url"], dict(post["fields"]), key, size, expires_in)

    def put(self, key: str, data: bytes) -> None:
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=data)

    def head(self, key: str) -> ObjectInfo | None:
        """The object's size and ETag, or None if it does not exist."""
        try:
            head = self._s3.head_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return ObjectInfo(int(head["ContentLength"]), str(head["ETag"]))

    def delete(self, key: str) -> None:
        self._s3.delete_object(Bucket=self._bucket, Key=key)

    def sha256(self, key: str, etag: str) -> str:
        """The SHA-256 (hex) of the object's version `etag`, read as a stream (never whole
        in memory); FileChanged if the object was replaced meanwhile."""
        digest = hashlib.sha256()
        for block in self._get(key, etag)["Body"].iter_chunks(HASH_BLOCK):
            digest.update(block)
        return digest.hexdigest()

    def read_range(self, key: str, start: int, end: int, etag: str | None = None) -> bytes:
        """Bytes [start, end) of the object; of the version `etag` only, if given
        (FileChanged if the object was replaced)."""
        body: bytes = self._get(key, etag, f"bytes={start}-{end - 1}")["Body"].read()
        return body

    def _get(
        self, key: str, etag: str | None, byte_range: str | None = None
    ) -> GetObjectOutputTypeDef:
        """GetObject, of the version `etag` only if given: FileChanged if it was replaced."""
        request: GetObjectRequestTypeDef = {"Bucket": self._bucket, "Key": key}
        if etag:
            request["IfMatch"] = etag
        if byte_range:
            request["Range"] = byte_range
        try:
            return self._s3.get_object(**request)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in ("PreconditionFailed", "412", "NoSuchKey"):
                raise FileChanged(f"{key} is not the version {etag} any more") from exc
            raise

    def lines(
        self, key: str, start: int, size: int, etag: str | None, window: int = READ_WINDOW
    ) -> LineCursor:
        return LineCursor(self, key, start, size, window, etag)


class LineCursor:
    """Lines of an object from a byte offset, read in ranged windows.

    Kept open across chunks of one invocation, so consecutive chunks share reads;
    holds at most one window plus one line in memory.
    """

    def __init__(
        self,
        store: UploadStore,
        key: str,
        start: int,
        size: int,
        window: int,
        etag: str | None = None,
    ) -> None:
        self._store = store
        self._key = key
        self._etag = etag
        self._size = size
        self._window = window
        self._read_to = start  # next byte to fetch from S3
        self._buffer = b""
        self._buffer_start = start  # file offset of self._buffer[0]
        self._pos = 0  # index in self._buffer of the next line
        self._iterator = self._iterate()

    @property
    def position(self) -> int:
        """File offset of the next line this cursor will return."""
        return self._buffer_start + self._pos

    def take(self, count: int) -> list[RawLine]:
        """Up to `count` lines; fewer only at end of file."""
        lines: list[RawLine] = []
        for line in self._iterator:
            lines.append(line)
            if len(lines) == count:
                break
        return lines

    def _iterate(self) -> Iterator[RawLine]:
        skipping = False  # inside a line longer than MAX_LINE_BYTES
        while True:
            newline = self._buffer.find(b"\n", self._pos)
            if newline >= 0:
                too_long = skipping or newline - self._pos > MAX_LINE_BYTES
                line = b"" if too_long else self._buffer[self._pos : newline]
                self._pos = newline + 1
                skipping = False
                yield RawLine(line, self.position, too_long=too_long)
                continue
            if len(self._buffer) - self._pos > MAX_LINE_BYTES:
                skipping = True
                self._pos = len(self._buffer)
            data = self._fetch()
            if not data:
                break
            self._buffer = self._buffer[self._pos :] + data
            self._buffer_start += self._pos
            self._pos = 0
        rest = self._buffer[self._pos :]
        self._pos = len(self._buffer)
        if skipping or len(rest) > MAX_LINE_BYTES:
            yield RawLine(b"", self.position, too_long=True)
        elif rest:
            yield RawLine(rest, self.position)

    def _fetch(self) -> bytes:
        if self._read_to >= self._size:
            return b""
        end = min(self._read_to + self._window, self._size)
        data = self._store.read_range(self._key, self._read_to, end, self._etag)
        self._read_to += len(data)
        return data
