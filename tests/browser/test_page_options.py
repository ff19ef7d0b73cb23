"""The import form's options: a scheduled import says when it will start and can start
now; "Avisarme por e-mail" asks the service to write to the user's own address."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from browsing import OpenPage, api_get, completed, followed, start_import
from playwright.sync_api import expect

from localdev.dktgen import generate_bytes
from localdev.tokens import issue_local_token

pytestmark = pytest.mark.browser


def test_a_scheduled_import_waits_for_its_time_and_can_start_now(
    signed_in_page: OpenPage, tmp_path: Path, stack_url: str
) -> None:
    # GIVEN a statement to import two hours from now
    statement = tmp_path / "agosto.dkt"
    statement.write_bytes(generate_bytes(90, seed=81))
    token = issue_local_token("ulises", "acme")
    page = signed_in_page("ulises", "acme", token)
    local_time = (datetime.now() + timedelta(hours=2)).replace(second=0, microsecond=0)
    page.get_by_label("Comenzar el (opcional)").fill(local_time.strftime("%Y-%m-%dT%H:%M"))

    # WHEN it is imported
    job_id = start_import(page, "PROGR", statement)

    # THEN the file is up and the job waits, saying when it starts, in local time
    card = followed(page, job_id)
    expect(card.locator(".job-message")).to_have_text(
        f"Programada: comenzará el {local_time:%d/%m/%Y %H:%M}.", timeout=20_000
    )
    expect(card.locator(".job-status")).to_have_text("En cola")
    job = api_get(stack_url, token, f"/api/jobs/{job_id}")
    assert job["runAt"] and job["startedAt"] is None
    # ... and "Comenzar ahora" starts it at once
    card.get_by_role("button", name="Comenzar ahora").click()
    completed(page, job_id)
    assert api_get(stack_url, token, f"/api/jobs/{job_id}")["processedItems"] == 90


def test_the_e_mail_option_asks_for_an_e_mail_to_the_users_own_address(
    signed_in_page: OpenPage, tmp_path: Path, stack_url: str
) -> None:
    statement = tmp_path / "septiembre.dkt"
    statement.write_bytes(generate_bytes(40, seed=82))
    token = issue_local_token("vicky", "acme", email="vicky@acme.example")
    page = signed_in_page("vicky", "acme", token)

    page.get_by_label("Avisarme por e-mail al terminar").check()
    job_id = start_import(page, "AVISO", statement)
    completed(page, job_id)

    job = api_get(stack_url, token, f"/api/jobs/{job_id}")
    assert job["parameters"]["notifyEmail"] == "vicky@acme.example"
    # The form is left as new: the next import asks for nothing unless ticked again.
    expect(page.get_by_label("Avisarme por e-mail al terminar")).not_to_be_checked()
