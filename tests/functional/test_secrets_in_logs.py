"""No card number, token or key in any log line, at any level, of any logger.

Every log record of a whole import (strict, then skipping invalid lines) and of a run of
rejected requests is captured at DEBUG, through the handlers as the service configures
them (Powertools' formatter for ours; the filter observability puts on the root
logger's handlers for the libraries': botocore, PynamoDB), and scanned.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from support import Api, import_file, token_for

from chalicelib.core import observability
from chalicelib.core.observability import logger
from chalicelib.core.redact import card_numbers
from localdev.dktgen import generate_bytes, iter_coupons
from localdev.pump import Pump

# moto stands for AWS here and logs what AWS would receive; it is not the service.
NOT_THE_SERVICE = ("moto", "werkzeug", "urllib3")


class _ServiceOnly(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith(NOT_THE_SERVICE)


@pytest.fixture
def every_log_line() -> Iterator[io.StringIO]:
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


def assert_no_secret(text: str, *secrets: str) -> None:
    assert text, "nothing was logged: the capture is broken"
    assert card_numbers(text) == [], card_numbers(text)[:3]
    for secret in secrets:
        assert secret not in text


def test_a_whole_import_logs_no_card_number_at_any_level(
    api: Api, pump: Pump, every_log_line: io.StringIO
) -> None:
    data = generate_bytes(150, seed=7)
    pans = {coupon.numero_tarjeta for coupon in iter_coupons(150, seed=7)}
    broken = data.replace(b"ARP", b"XXX", 2)  # two invalid lines, quoted in the error report

    failed = import_file(api, pump, broken)
    imported = import_file(api, pump, broken, skipInvalidLines=True)

    assert (failed["status"], imported["status"]) == ("FAILED", "COMPLETED")
    text = every_log_line.getvalue()
    assert "BatchWriteItem" in text  # botocore's DEBUG lines were captured too
    assert_no_secret(text, api.token, *pans)


def test_rejected_requests_log_no_card_number_or_token(
    api: Api, every_log_line: io.StringIO
) -> None:
    card = "4539578763621486"
    wrong_secret = token_for("ana") + "x"
    requests = [
        api.put("/api/rules", {"rules": [{"code": card, "name": card, "priority": 1}]}),
        api.get(f"/api/jobs?{card}=1"),
        api.get(f"/api/jobs/{card}"),
        api.get(f"/api/lotes/{card}"),
        api.get(f"/api/nope/{card}"),
        api.post("/api/jobs/dkt-import", {"codigoTarjeta": card, "filename": card, "size": 1}),
        api.post("/api/jobs/dkt-import", '{"codigoTarjeta": "' + card),
        api.client.http.get("/api/jobs", headers={"Authorization": f"Bearer {wrong_secret}"}),
        api.client.http.get("/api/jobs", headers={"Authorization": f"Bearer {card}"}),
    ]

    assert all(400 <= response.status_code < 500 for response in requests)
    assert_no_secret(every_log_line.getvalue(), api.token, wrong_secret)
    for response in requests:
        assert_no_secret(response.body.decode(), api.token, wrong_secret)
