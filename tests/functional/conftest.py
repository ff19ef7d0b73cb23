"""Fixtures for tests against moto in-process with the real Chalice app."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chalice.test import Client
from moto import mock_aws
from support import Api, make_pump, token_for

import app as app_module
from chalicelib import runtime
from chalicelib.core.settings import get_settings
from localdev.pump import Pump
from localdev.resources import QueueUrls, create_resources


@pytest.fixture
def aws() -> Iterator[QueueUrls]:
    """A fresh moto with the service's bucket, queues and tables."""
    with mock_aws():
        runtime.reset()
        urls = create_resources(get_settings())
        runtime.reset()
        yield urls
    runtime.reset()


@pytest.fixture
def chalice_client(aws: QueueUrls) -> Iterator[Client]:
    with Client(app_module.app) as client:
        yield client


@pytest.fixture
def api(chalice_client: Client) -> Api:
    return Api(chalice_client, token_for("ana"))


@pytest.fixture
def other_api(chalice_client: Client) -> Api:
    return Api(chalice_client, token_for("bruno"))


@pytest.fixture
def pump(aws: QueueUrls) -> Pump:
    return make_pump(aws)
