"""Every log line of an API request carries who made it."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from support import Api

from chalicelib.core.observability import logger


@pytest.fixture
def service_log() -> Iterator[io.StringIO]:
    """What the service logs during the test, at INFO and up, one JSON object a line."""
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    previous, level = handler.setStream(stream), logger.log_level
    # Tests run at WARNING (tests/environment.py); a refused request logs at INFO.
    logger.setLevel("INFO")
    yield stream
    logger.setLevel(level)
    handler.setStream(previous)


def test_log_lines_of_a_request_carry_the_user_and_tenant(
    api: Api, service_log: io.StringIO
) -> None:
    # GIVEN a verified caller WHEN a request of theirs is refused (and so logged)
    response = api.get("/api/jobs/nonexistent")
    # THEN the log line names the user and the tenant, and never the token
    assert response.status_code == 404
    lines = [json.loads(line) for line in service_log.getvalue().splitlines()]
    [refused] = [line for line in lines if line["message"] == "request refused"]
    assert (refused["user_id"], refused["tenant_id"]) == ("ana", "acme")
    assert api.token not in service_log.getvalue()
