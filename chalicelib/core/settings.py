"""Settings: one frozen object read from the environment, once per process.

Every field is read from the upper-case of its name (`chunk_size` from `CHUNK_SIZE`),
except `region` (`AWS_REGION`, then `AWS_DEFAULT_REGION`). Every problem with the
environment is reported at once, in one `SettingsError`, so a deployment is fixed in
one round; the values of secrets never appear in it.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated

from pydantic import AliasChoices, Field, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars

CHUNK_SIZE = 100
MIB = 1024 * 1024
GIB = 1024 * MIB
# One presigned POST (a single S3 PUT) cannot carry more than 5 GiB.
MAX_UPLOAD_BYTES = 5 * GIB
# SigV4 presigned URLs expire after at most seven days.
MAX_URL_TTL_S = 7 * 24 * 3600
# A Lambda runs for at most 15 minutes; a larger reserve would leave no time to work.
MAX_LAMBDA_MS = 15 * 60 * 1000
# The most batch writes one call keeps in flight (the size of the process's writer pool).
MAX_WRITE_CONCURRENCY = 16

_REGION_VARIABLES = frozenset({"AWS_REGION", "AWS_DEFAULT_REGION"})

Name = Annotated[str, Field(min_length=1)]


class AuthMode(StrEnum):
    """Where bearer tokens come from."""

    LOCAL = "local"  # HS256 tokens signed with LOCAL_JWT_SECRET (local stack, tests)
    COGNITO = "cognito"  # RS256 Cognito user-pool tokens, keys from the pool's JWKS


class SettingsError(ValueError):
    """The environment is missing settings or holds values out of range."""


class Settings(BaseSettings):
    """Names of the AWS resources, limits and secrets the service runs with."""

    model_config = SettingsConfigDict(
        frozen=True,
        case_sensitive=False,
        extra="ignore",
    )

    region: str = Field(
        "us-east-1",
        min_length=1,
        validation_alias=AliasChoices("aws_region", "aws_default_region"),
    )
    jobs_table: Name
    lotes_table: Name
    lines_table: Name
    errors_table: Name
    rules_table: Name
    idempotency_table: Name
    upload_bucket: Name
    work_queue_url: Name
    # Locally the key itself; deployed, an SSM SecureString read at start (runtime.py),
    # so the key is never in the function's configuration.
    # Secrets: repr=False keeps them out of logs of the object; errors never carry values.
    card_hash_key: bytes = Field(b"", repr=False)
    card_hash_key_parameter: str = ""
    auth_mode: AuthMode = AuthMode.LOCAL
    local_jwt_secret: str = Field("", repr=False)
    cognito_issuer: str = ""
    cognito_audience: str = ""
    # Or the SSM parameter holding it (a new pool's app client id is only known after
    # the API exists, and the API cannot depend on it without a cycle in the stack).
    cognito_audience_parameter: str = ""
    # EventBridge bus for JobFinished events; none published when empty.
    event_bus_name: str = ""
    # The queue the bus's JobFinished events reach (the notifier's), which also holds its
    # delayed webhook retries; empty: no webhooks are called.
    notify_queue_url: str = ""
    # The verified SES identity job e-mails are sent from; empty: no e-mails.
    email_sender: str = ""
    # The key webhook bodies are signed with (HMAC-SHA256), or its SSM parameter; a
    # create with a callbackUrl is refused when neither is set.
    webhook_secret: bytes = Field(b"", repr=False)
    webhook_secret_parameter: str = ""
    webhook_attempts: int = Field(6, ge=1, le=20)
    # The n-th retry waits base * 2^(n-1) seconds, at most SQS's 900 s delay.
    webhook_retry_base_s: int = Field(30, ge=0, le=900)
    webhook_timeout_s: float = Field(5.0, gt=0, le=30)
    # Only under `make run` and in tests: callbacks to 127.0.0.1 over http.
    allow_loopback_callbacks: bool = False
    # The user pool's hosted sign-in domain, e.g. https://acme.auth.us-east-1.amazoncognito.com
    cognito_domain: str = ""
    tenant_claim: Name = "custom:tenant"
    upload_prefix: Name = "uploads/"
    max_file_size: int = Field(50 * MIB, ge=1, le=MAX_UPLOAD_BYTES)
    # A JSON body with base64 content (4/3 of the file) must stay under Lambda's 6 MB
    # request payload limit.
    inline_max_bytes: int = Field(4 * MIB, ge=1, le=4 * MIB)
    chunk_size: int = Field(CHUNK_SIZE, ge=1, le=1_000)
    # Lines read per chunk while validating: parsing only, no writes, so larger chunks.
    validate_chunk_size: int = Field(20 * CHUNK_SIZE, ge=1, le=100_000)
    # Time kept in reserve at the end of an invocation to checkpoint and re-enqueue: this
    # share of the time the invocation starts with, at most `safety_margin_ms` (the cap wins
    # over the engine's 1 s floor, so a small cap is the margin itself).
    safety_margin_share: float = Field(0.1, ge=0, le=1)
    safety_margin_ms: int = Field(10_000, ge=0, le=MAX_LAMBDA_MS)
    # Batch writes of one call in flight together (a chunk's 100 lines are 4 of them).
    write_concurrency: int = Field(4, ge=1, le=MAX_WRITE_CONCURRENCY)
    upload_url_ttl_s: int = Field(15 * 60, ge=1, le=MAX_URL_TTL_S)
    # An import may be scheduled (runAt) this many days ahead at most: its file waits in
    # the bucket, whose raw uploads go after RawUploadRetentionDays (8), and a failed
    # import keeps it for the retry window (7) after it ran.
    schedule_max_days: int = Field(1, ge=0, le=30)
    # The longest delay of one hop of a scheduled job's message (SQS allows 900 s).
    schedule_hop_s: int = Field(900, ge=0, le=900)
    # After a replace, the replaced lines are kept this long, for an undo (0: no undo).
    undo_window_s: int = Field(24 * 3600, ge=0, le=7 * 24 * 3600)
    max_active_jobs_per_user: int = Field(5, ge=1)
    max_attempts: int = Field(3, ge=1)
    # A job that failed for a transient reason (dead letter, worker lost) is retried by
    # the sweeper until it has had this many attempts (1: never), the n-th retry
    # auto_retry_base_s * 2^(n-1) after the failure.
    auto_retry_attempts: int = Field(3, ge=1, le=10)
    auto_retry_base_s: int = Field(5 * 60, ge=0)
    max_reported_errors: int = Field(1_000, ge=1)
    job_ttl_days: int = Field(180, ge=1)
    # A watched job with no sign of life for this long is rescued by the sweeper. It must
    # exceed the worker's Lambda timeout, or a live worker would be rescued.
    stale_after_s: int = Field(15 * 60, ge=0)
    # Most partition keys one import's lines are spread over (core/line_keys.py says why 50).
    # A generation keeps the count it started with; raise it with the table's warm
    # throughput: at least its write units per second / 800.
    line_shards: int = Field(50, ge=1, le=1_000)
    # An export is written to S3 in parts of this size: one part per chunk, so a worker
    # holds at most one part of the file. It may not be under the store's least part size
    # (S3's 5 MiB for every part but the last; moto's can be lowered, for tests).
    export_part_bytes: int = Field(8 * MIB, ge=1, le=64 * MIB)
    s3_min_part_bytes: int = Field(5 * MIB, ge=1)
    # Lines an export chunk reads (one query round over a lote's keys, ~0.7 MB of CSV):
    # bounded like an import's chunk, so a chunk fits any invocation's budget. Chunks'
    # CSV waits on S3 as pieces until the pieces make a part.
    export_chunk_lines: int = Field(5_000, ge=1, le=50_000)
    # An XLSX is written in one chunk (a zip cannot be continued by another process): at
    # most this many rows, so that it fits one worker invocation (README: ~11,000 rows/s
    # written on one core, and a 1,024 MB Lambda has about half of one). At most Excel's.
    xlsx_max_rows: int = Field(250_000, ge=1, le=1_048_575)
    # How long a download link of a finished export works (it is made anew on every read).
    download_url_ttl_s: int = Field(5 * 60, ge=1, le=MAX_URL_TTL_S)
    # Days an export's file is kept: the bucket's rule (infra ExportRetentionDays) deletes
    # it then, and the job stops offering a link to it.
    export_retention_days: int = Field(7, ge=1)
    # Staged lines of a FAILED import are kept this long, so a retry resumes.
    retry_window_s: int = Field(7 * 24 * 3600, ge=0)

    @model_validator(mode="after")
    def _parts_fit_the_store(self) -> Settings:
        if self.export_part_bytes < self.s3_min_part_bytes:
            raise ValueError(
                f"EXPORT_PART_BYTES must be at least S3_MIN_PART_BYTES ({self.s3_min_part_bytes})"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # from_env() parses the environment it is given into init values; reading os.environ
        # here too would let a variable the caller did not pass fill a field.
        return (init_settings,)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Builds settings from `env` alone (never from `os.environ` unless it is `env`).

        Raises:
            SettingsError: naming every missing variable and every invalid or out-of-range
                one, without the values of secrets.
        """
        # An empty AWS_REGION falls back to AWS_DEFAULT_REGION, then to the default.
        env = {k: v for k, v in env.items() if v or k.upper() not in _REGION_VARIABLES}
        values = _MappingEnvSource(cls, env)()
        try:
            return cls(**values)
        except ValidationError as exc:
            raise SettingsError(_describe(exc)) from None


class _MappingEnvSource(EnvSettingsSource):
    """pydantic-settings' environment source, reading a given mapping instead of os.environ."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        self._env = env
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._env, self.case_sensitive, self.env_ignore_empty)


def _variable(field: str) -> str:
    if field == "region":
        return "AWS_REGION"
    return field.upper()


def _describe(exc: ValidationError) -> str:
    """One line per problem, naming the variable; never the value (it may be a secret)."""
    problems: list[str] = []
    for error in exc.errors(include_input=False, include_url=False, include_context=True):
        field = str(error["loc"][0]) if error["loc"] else ""
        field = _FIELD_BY_KEY.get(field, field)
        if error["type"] == "missing":
            problems.append(f"{_variable(field)} is required")
        else:
            problems.append(f"{_variable(field)}: {error['msg']}")
    return "invalid settings: " + "; ".join(problems)


def _keys() -> dict[str, str]:
    # The alias choices of `region` come back as the loc of its errors.
    keys: dict[str, str] = {}
    for name, info in Settings.model_fields.items():
        keys[name] = name
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            for choice in alias.choices:
                keys[str(choice)] = name
    return keys


_FIELD_BY_KEY = _keys()


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings; tests clear the cache after changing the environment."""
    return Settings.from_env(os.environ)
