"""Wiring: the process-wide services, built lazily from the settings.

Nothing AWS-facing is created at import, so `chalice package` can import the app
without credentials, and tests start moto before the first client exists.
"""

from __future__ import annotations

import functools

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from chalicelib.adapters import aws
from chalicelib.adapters.events import EventPublisher
from chalicelib.adapters.exports import ExportStore
from chalicelib.adapters.queue import WorkQueue
from chalicelib.adapters.services import Services
from chalicelib.adapters.storage import UploadStore
from chalicelib.core.models import bind_models
from chalicelib.core.settings import Settings, get_settings
from chalicelib.engine import finals, registry
from chalicelib.jobtypes import JOB_TYPES


@functools.cache
def services() -> Services:
    settings = _with_secrets(get_settings())
    bind_models(settings)
    registry.install(registry.JobTypes(JOB_TYPES))
    events = (
        EventPublisher(aws.events_client(), settings.event_bus_name)
        if settings.event_bus_name
        else None
    )
    finals.install(events)
    return Services(
        settings=settings,
        store=UploadStore(aws.s3_client(), settings.upload_bucket, settings.upload_prefix),
        queue=WorkQueue(aws.sqs_client(), settings.work_queue_url),
        exports=ExportStore(aws.s3_client(), settings.upload_bucket),
        notices=WorkQueue(aws.sqs_client(), settings.notify_queue_url)
        if settings.notify_queue_url
        else None,
    )


def _with_secrets(settings: Settings) -> Settings:
    """The settings with the card-hash key read from SSM where only its parameter is named."""
    if not settings.card_hash_key and not settings.card_hash_key_parameter:
        raise RuntimeError("set CARD_HASH_KEY or CARD_HASH_KEY_PARAMETER")
    if settings.card_hash_key:
        return settings
    return settings.model_copy(update={"card_hash_key": _secret(settings.card_hash_key_parameter)})


@functools.cache
def webhook_secret() -> bytes:
    """The key webhook bodies are signed with. Read only by the notifier, the one function
    whose role may read its SSM parameter (the others would be denied at cold start)."""
    settings = services().settings
    if settings.webhook_secret or not settings.webhook_secret_parameter:
        return settings.webhook_secret
    return _secret(settings.webhook_secret_parameter)


def _secret(parameter: str) -> bytes:
    found = aws.ssm_client().get_parameter(Name=parameter, WithDecryption=True)
    return found["Parameter"]["Value"].encode()


@functools.cache
def idempotency_store() -> DynamoDBPersistenceLayer:
    settings = services().settings
    return DynamoDBPersistenceLayer(table_name=settings.idempotency_table)


def reset() -> None:
    """Forgets settings, clients and services (tests, after changing env or starting moto)."""
    services.cache_clear()
    finals.install(None)
    webhook_secret.cache_clear()
    idempotency_store.cache_clear()
    get_settings.cache_clear()
    aws.reset_clients()
