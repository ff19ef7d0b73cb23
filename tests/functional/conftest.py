"""Fixtures for tests against moto in-process with the real Chalice app.

One moto serves every test of this folder (moto_state.py), emptied before each
test. The service's settings, clients and services are built once and kept; a
test that changes them (monkeypatched env, then `runtime.reset()`) gets them
rebuilt for the next test.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path

import faults
import pytest
from chalice.test import Client
from moto_state import MotoState
from support import Api, make_pump, token_for

import app as app_module
from chalicelib import runtime
from chalicelib.core.settings import get_settings
from localdev.pump import Pump
from localdev.resources import QueueUrls

HERE = Path(__file__).parent
MOTO = MotoState()


@pytest.fixture
def aws() -> Iterator[QueueUrls]:
    """The session's moto, empty: the service's bucket, queues and tables, and nothing in them."""
    urls = MOTO.start()
    MOTO.empty()
    settings, services = get_settings(), runtime.services()
    yield urls
    faults.uninstall_all()
    if _rebuilt_since(settings, services):
        runtime.reset()


def _rebuilt_since(settings: object, services: object) -> bool:
    """Whether the test replaced the cached settings or services (it changed the env)."""
    for cached, seen in ((get_settings, settings), (runtime.services, services)):
        if cached.cache_info().currsize == 0 or cached() is not seen:
            return True
    return False


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, None, None]:
    # Tests outside this folder (unit tests with a moto of their own, the local stack)
    # must not run inside this one: it stops once the last test here is torn down.
    yield
    if nextitem is None or HERE not in Path(nextitem.path).parents:
        MOTO.stop()


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
