"""Settings from the environment: defaults, bounds, one error for every problem, no secrets."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from chalicelib.core.settings import MIB, AuthMode, Settings, SettingsError, get_settings

REQUIRED = {
    "JOBS_TABLE": "jobs",
    "LOTES_TABLE": "lotes",
    "LINES_TABLE": "lines",
    "ERRORS_TABLE": "errors",
    "RULES_TABLE": "rules",
    "IDEMPOTENCY_TABLE": "idempotency",
    "UPLOAD_BUCKET": "bucket",
    "WORK_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/work",
}

# (variable, lowest valid, highest valid or None when unbounded above)
BOUNDS = [
    ("MAX_FILE_SIZE", 1, 5 * 1024 * MIB),
    ("INLINE_MAX_BYTES", 1, 4 * MIB),
    ("CHUNK_SIZE", 1, 1_000),
    ("VALIDATE_CHUNK_SIZE", 1, 100_000),
    ("SAFETY_MARGIN_MS", 0, 900_000),
    ("SAFETY_MARGIN_SHARE", 0, 1),
    ("WRITE_CONCURRENCY", 1, 16),
    ("UPLOAD_URL_TTL_S", 1, 7 * 24 * 3600),
    ("MAX_ACTIVE_JOBS_PER_USER", 1, None),
    ("MAX_ATTEMPTS", 1, None),
    ("MAX_REPORTED_ERRORS", 1, None),
    ("JOB_TTL_DAYS", 1, None),
    ("STALE_AFTER_S", 0, None),
    ("RETRY_WINDOW_S", 0, None),
]


def test_defaults_when_only_the_resource_names_are_set() -> None:
    settings = Settings.from_env(REQUIRED)

    assert settings.jobs_table == "jobs"
    assert settings.work_queue_url == REQUIRED["WORK_QUEUE_URL"]
    assert settings.region == "us-east-1"
    assert settings.card_hash_key == b""
    assert settings.auth_mode is AuthMode.LOCAL
    assert settings.tenant_claim == "custom:tenant"
    assert settings.upload_prefix == "uploads/"
    assert settings.max_file_size == 50 * MIB
    assert settings.inline_max_bytes == 4 * MIB
    assert (settings.chunk_size, settings.validate_chunk_size) == (100, 2_000)
    assert settings.safety_margin_ms == 10_000
    assert settings.safety_margin_share == 0.1
    assert settings.write_concurrency == 4
    assert settings.upload_url_ttl_s == 900
    assert settings.max_active_jobs_per_user == 5
    assert settings.max_attempts == 3
    assert settings.max_reported_errors == 1_000
    assert settings.job_ttl_days == 180
    assert settings.stale_after_s == 900
    assert settings.retry_window_s == 7 * 24 * 3600
    assert settings.event_bus_name == settings.cognito_issuer == ""


def test_every_documented_variable_is_read() -> None:
    env = {
        **REQUIRED,
        "CARD_HASH_KEY": "k3y",
        "CARD_HASH_KEY_PARAMETER": "/stack/key",
        "AUTH_MODE": "cognito",
        "LOCAL_JWT_SECRET": "jwt",
        "COGNITO_ISSUER": "https://issuer",
        "COGNITO_AUDIENCE": "client",
        "COGNITO_AUDIENCE_PARAMETER": "/stack/client",
        "COGNITO_DOMAIN": "https://domain",
        "EVENT_BUS_NAME": "bus",
        "TENANT_CLAIM": "custom:org",
        "UPLOAD_PREFIX": "in/",
        "MAX_FILE_SIZE": "1000",
        "INLINE_MAX_BYTES": "500",
        "CHUNK_SIZE": "25",
        "VALIDATE_CHUNK_SIZE": "400",
        "SAFETY_MARGIN_MS": "0",
        "UPLOAD_URL_TTL_S": "60",
        "MAX_ACTIVE_JOBS_PER_USER": "2",
        "MAX_ATTEMPTS": "4",
        "MAX_REPORTED_ERRORS": "10",
        "JOB_TTL_DAYS": "30",
        "STALE_AFTER_S": "120",
        "RETRY_WINDOW_S": "3600",
    }

    settings = Settings.from_env(env)

    assert settings.card_hash_key == b"k3y"
    assert settings.card_hash_key_parameter == "/stack/key"
    assert settings.auth_mode is AuthMode.COGNITO
    assert settings.local_jwt_secret == "jwt"
    assert (settings.cognito_issuer, settings.cognito_audience) == ("https://issuer", "client")
    assert settings.cognito_audience_parameter == "/stack/client"
    assert settings.cognito_domain == "https://domain"
    assert settings.event_bus_name == "bus"
    assert settings.tenant_claim == "custom:org"
    assert settings.upload_prefix == "in/"
    assert (settings.max_file_size, settings.inline_max_bytes) == (1000, 500)
    assert (settings.chunk_size, settings.validate_chunk_size) == (25, 400)
    assert settings.safety_margin_ms == 0
    assert settings.upload_url_ttl_s == 60
    assert settings.max_active_jobs_per_user == 2
    assert settings.max_attempts == 4
    assert settings.max_reported_errors == 10
    assert settings.job_ttl_days == 30
    assert settings.stale_after_s == 120
    assert settings.retry_window_s == 3600


@pytest.mark.parametrize(("variable", "lowest", "highest"), BOUNDS)
def test_numbers_are_accepted_up_to_their_bounds(
    variable: str, lowest: int, highest: int | None
) -> None:
    for value in (lowest, highest):
        if value is None:
            continue
        settings = Settings.from_env({**REQUIRED, variable: str(value)})
        assert getattr(settings, variable.lower()) == value


@pytest.mark.parametrize(("variable", "lowest", "highest"), BOUNDS)
def test_numbers_out_of_range_are_refused_by_name(
    variable: str, lowest: int, highest: int | None
) -> None:
    outside = [lowest - 1] + ([highest + 1] if highest is not None else [])
    for value in outside:
        with pytest.raises(SettingsError) as raised:
            Settings.from_env({**REQUIRED, variable: str(value)})
        assert variable in str(raised.value)


def test_one_error_names_every_missing_and_invalid_variable() -> None:
    env = {
        "JOBS_TABLE": "jobs",
        "CHUNK_SIZE": "0",
        "MAX_FILE_SIZE": "big",
        "AUTH_MODE": "ldap",
        "UPLOAD_BUCKET": "",
    }

    with pytest.raises(SettingsError) as raised:
        Settings.from_env(env)

    message = str(raised.value)
    for missing in REQUIRED.keys() - {"JOBS_TABLE"}:
        assert missing in message
    for invalid in ("CHUNK_SIZE", "MAX_FILE_SIZE", "AUTH_MODE"):
        assert invalid in message
    assert "JOBS_TABLE" not in message


def test_secrets_never_appear_in_the_error_or_the_repr() -> None:
    card_key = "card-hash-key-do-not-print"
    jwt_secret = "jwt-secret-do-not-print"
    env = {"CARD_HASH_KEY": card_key, "LOCAL_JWT_SECRET": jwt_secret, "CHUNK_SIZE": "-1"}

    with pytest.raises(SettingsError) as raised:
        Settings.from_env(env)

    shown = str(raised.value) + repr(raised.value)
    assert card_key not in shown and jwt_secret not in shown
    # Nor in the chained ValidationError a traceback would print.
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    settings = Settings.from_env({**REQUIRED, **env, "CHUNK_SIZE": "5"})
    assert card_key not in repr(settings) and jwt_secret not in repr(settings)


def test_region_falls_back_from_aws_region_to_default_region_to_us_east_1() -> None:
    both = {**REQUIRED, "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "sa-east-1"}
    assert Settings.from_env(both).region == "eu-west-1"
    default_only = {**REQUIRED, "AWS_DEFAULT_REGION": "sa-east-1"}
    assert Settings.from_env(default_only).region == "sa-east-1"
    empty_region = {**REQUIRED, "AWS_REGION": "", "AWS_DEFAULT_REGION": "sa-east-1"}
    assert Settings.from_env(empty_region).region == "sa-east-1"
    assert Settings.from_env(REQUIRED).region == "us-east-1"


def test_settings_are_frozen_and_copied_with_a_secret() -> None:
    settings = Settings.from_env(REQUIRED)

    with pytest.raises(ValidationError):
        settings.chunk_size = 5  # type: ignore[misc]
    with_key = settings.model_copy(update={"card_hash_key": b"from-ssm"})

    assert with_key.card_hash_key == b"from-ssm"
    assert settings.card_hash_key == b""


def test_from_env_reads_only_the_mapping_it_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHUNK_SIZE", "7")

    assert Settings.from_env(REQUIRED).chunk_size == 100
    with pytest.raises(SettingsError):
        Settings.from_env({})


def test_get_settings_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CHUNK_SIZE", "7")
    get_settings.cache_clear()
    try:
        settings = get_settings()
        assert (settings.jobs_table, settings.chunk_size) == ("jobs", 7)
        assert get_settings() is settings
    finally:
        get_settings.cache_clear()
