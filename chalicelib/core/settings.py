"""Settings: one frozen object read from the environment, once per process."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

CHUNK_SIZE = 100
MIB = 1024 * 1024


class AuthMode(StrEnum):
    """Where bearer tokens come from."""

    LOCAL = "local"  # HS256 tokens signed with LOCAL_JWT_SECRET (local stack, tests)
    COGNITO = "cognito"  # RS256 Cognito user-pool tokens, keys from the pool's JWKS


@dataclass(frozen=True)
class Settings:
    """Names of the AWS resources, limits and secrets the service runs with."""

    region: str
    jobs_table: str
    lotes_table: str
    lines_table: str
    errors_table: str
    rules_table: str
    idempotency_table: str
    upload_bucket: str
    work_queue_url: str
    # Locally the key itself; deployed, an SSM SecureString read at start (runtime.py),
    # so the key is never in the function's configuration.
    card_hash_key: bytes
    card_hash_key_parameter: str = ""
    auth_mode: AuthMode = AuthMode.LOCAL
    local_jwt_secret: str = ""
    cognito_issuer: str = ""
    cognito_audience: str = ""
    # Or the SSM parameter holding it (a new pool's app client id is only known after
    # the API exists, and the API cannot depend on it without a cycle in the stack).
    cognito_audience_parameter: str = ""
    # EventBridge bus for JobFinished events; none published when empty.
    event_bus_name: str = ""
    # The user pool's hosted sign-in domain, e.g. https://acme.auth.us-east-1.amazoncognito.com
    cognito_domain: str = ""
    tenant_claim: str = "custom:tenant"
    upload_prefix: str = "uploads/"
    max_file_size: int = 50 * MIB
    # A JSON body with base64 content must stay under Lambda's 6 MB request payload limit.
    inline_max_bytes: int = 4 * MIB
    chunk_size: int = CHUNK_SIZE
    # Lines read per chunk while validating: parsing only, no writes, so larger chunks.
    validate_chunk_size: int = 20 * CHUNK_SIZE
    # Time kept in reserve at the end of an invocation to checkpoint and re-enqueue.
    safety_margin_ms: int = 10_000
    upload_url_ttl_s: int = 15 * 60
    max_active_jobs_per_user: int = 5
    max_attempts: int = 3
    max_reported_errors: int = 1_000
    job_ttl_days: int = 180
    # A watched job with no sign of life for this long is rescued by the sweeper. It must
    # exceed the worker's Lambda timeout, or a live worker would be rescued.
    stale_after_s: int = 15 * 60
    # Staged lines of a FAILED import are kept this long, so a retry resumes.
    retry_window_s: int = 7 * 24 * 3600

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Builds settings from environment variables; a missing required name raises KeyError."""
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
        return cls(
            region=region,
            jobs_table=env["JOBS_TABLE"],
            lotes_table=env["LOTES_TABLE"],
            lines_table=env["LINES_TABLE"],
            errors_table=env["ERRORS_TABLE"],
            rules_table=env["RULES_TABLE"],
            idempotency_table=env["IDEMPOTENCY_TABLE"],
            upload_bucket=env["UPLOAD_BUCKET"],
            work_queue_url=env["WORK_QUEUE_URL"],
            card_hash_key=env.get("CARD_HASH_KEY", "").encode(),
            card_hash_key_parameter=env.get("CARD_HASH_KEY_PARAMETER", ""),
            auth_mode=AuthMode(env.get("AUTH_MODE", AuthMode.LOCAL)),
            local_jwt_secret=env.get("LOCAL_JWT_SECRET", ""),
            cognito_issuer=env.get("COGNITO_ISSUER", ""),
            cognito_audience=env.get("COGNITO_AUDIENCE", ""),
            cognito_audience_parameter=env.get("COGNITO_AUDIENCE_PARAMETER", ""),
            cognito_domain=env.get("COGNITO_DOMAIN", ""),
            event_bus_name=env.get("EVENT_BUS_NAME", ""),
            tenant_claim=env.get("TENANT_CLAIM", "custom:tenant"),
            max_file_size=int(env.get("MAX_FILE_SIZE", 50 * MIB)),
            inline_max_bytes=int(env.get("INLINE_MAX_BYTES", 4 * MIB)),
            chunk_size=int(env.get("CHUNK_SIZE", CHUNK_SIZE)),
            validate_chunk_size=int(env.get("VALIDATE_CHUNK_SIZE", 20 * CHUNK_SIZE)),
            safety_margin_ms=int(env.get("SAFETY_MARGIN_MS", 10_000)),
            max_active_jobs_per_user=int(env.get("MAX_ACTIVE_JOBS_PER_USER", 5)),
            max_attempts=int(env.get("MAX_ATTEMPTS", 3)),
            stale_after_s=int(env.get("STALE_AFTER_S", 15 * 60)),
            retry_window_s=int(env.get("RETRY_WINDOW_S", 7 * 24 * 3600)),
        )


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings; tests clear the cache after changing the environment."""
    return Settings.from_env(os.environ)
