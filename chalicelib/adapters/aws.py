"""AWS clients, created lazily once per process and dropped by tests between moto runs."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

from chalicelib.core.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sesv2 import SESV2Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient

# Standard retry mode backs off on throttling and 5xx, which is what a transient
# error should get before the message goes back to SQS.
_RETRIES = Config(retries={"mode": "standard", "max_attempts": 5})


@functools.cache
def s3_client() -> S3Client:
    config = _RETRIES.merge(Config(signature_version="s3v4"))
    return boto3.client("s3", region_name=get_settings().region, config=config)


@functools.cache
def sqs_client() -> SQSClient:
    return boto3.client("sqs", region_name=get_settings().region, config=_RETRIES)


@functools.cache
def events_client() -> EventBridgeClient:
    return boto3.client("events", region_name=get_settings().region, config=_RETRIES)


@functools.cache
def sesv2_client() -> SESV2Client:
    return boto3.client("sesv2", region_name=get_settings().region, config=_RETRIES)


@functools.cache
def ssm_client() -> SSMClient:
    return boto3.client("ssm", region_name=get_settings().region, config=_RETRIES)


def reset_clients() -> None:
    """Forgets cached clients (tests start a fresh moto per test)."""
    s3_client.cache_clear()
    sqs_client.cache_clear()
    events_client.cache_clear()
    ssm_client.cache_clear()
    sesv2_client.cache_clear()
