"""Fixtures for tests against moto in-process with the real Chalice app.

One moto serves every test of this folder (moto_state.py), emptied before each
test. The service's settings, clients and services are built once and kept; a
test that changes them (monkeypatched env, then `runtime.reset()`) gets them
rebuilt for the next test.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import faults
import pytest
import support
from chalice.test import Client
from moto_state import MotoState
from support import Api, make_pump, token_for

import app as app_module
from chalicelib import runtime
from chalicelib.adapters import aws as aws_clients
from chalicelib.core import observability
from chalicelib.core.observability import logger
from chalicelib.core.settings import get_settings
from localdev.gateway import DeployedGateway
from localdev.pump import Pump
from localdev.resources import QueueUrls

HERE = Path(__file__).parent
MOTO = MotoState()


# What the service builds once and tests may replace (monkeypatched env, then a reset).
CACHED: tuple[Callable[[], object], ...] = (
    get_settings,
    runtime.services,
    aws_clients.s3_client,
    aws_clients.sqs_client,
)


@pytest.fixture
def aws() -> Iterator[QueueUrls]:
    """The session's moto, empty: the service's bucket, queues and tables, and nothing in them."""
    urls = MOTO.start()
    MOTO.empty()
    built = [cached() for cached in CACHED]
    yield urls
    faults.uninstall_all()
    if any(_replaced(cached, seen) for cached, seen in zip(CACHED, built, strict=True)):
        runtime.reset()


def _replaced(cached: Any, seen: object) -> bool:
    """Whether the test dropped or rebuilt what was cached when it started."""
    return bool(cached.cache_info().currsize == 0 or cached() is not seen)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, None, None]:
    # Tests outside this folder (unit tests with a moto of their own, the local stack)
    # must not run inside this one: it stops once the last test here is torn down.
    yield
    if nextitem is None or HERE not in Path(nextitem.path).parents:
        MOTO.stop()
        support.sqs_client.cache_clear()  # it belonged to this moto


@pytest.fixture
def chalice_client(aws: QueueUrls) -> Iterator[Client]:
    with Client(app_module.app) as client:
        # The gateway's answers as deployed (unknown paths: 404), as under `make run`.
        client.http._local_gateway = DeployedGateway(app_module.app, client.http._config)
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


# moto stands for AWS here and logs what AWS would receive; it is not the service.
NOT_THE_SERVICE = ("moto", "werkzeug", "urllib3")


class _ServiceOnly(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith(NOT_THE_SERVICE)


@pytest.fixture
def every_log_line() -> Iterator[io.StringIO]:
    """Every log record of the test, at DEBUG, of every logger but moto's: ours through the
    Logger's own (redacting) handler, the libraries' through a handler carrying the filter
    observability puts on the root logger's handlers."""
    stream = io.StringIO()
    ours = logger.registered_handler
    assert isinstance(ours, logging.StreamHandler)
    previous_stream, previous_level = ours.setStream(stream), logger.log_level
    logger.setLevel("DEBUG")
    root = logging.getLogger()
    libraries = logging.StreamHandler(stream)
    libraries.addFilter(_ServiceOnly())
    root.addHandler(libraries)
    observability.redact_root_handlers()  # as at import time, on Lambda's own handler
    previous_root = root.level
    root.setLevel(logging.DEBUG)
    yield stream
    root.setLevel(previous_root)
    root.removeHandler(libraries)
    logger.setLevel(previous_level)
    ours.setStream(previous_stream)
