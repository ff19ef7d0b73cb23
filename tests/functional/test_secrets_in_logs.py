"""No card number, token or key in any log line, at any level, of any logger.

Every log record of a whole import (strict, then skipping invalid lines) and of a run of
rejected requests is captured at DEBUG, through the handlers as the service configures
them (Powertools' formatter for ours; the filter observability puts on the root
logger's handlers for the libraries': botocore, PynamoDB), and scanned.
"""

from __future__ import annotations

import io

from support import Api, assert_no_secret, import_file, token_for

from localdev.dktgen import generate_bytes, iter_coupons
from localdev.pump import Pump


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
