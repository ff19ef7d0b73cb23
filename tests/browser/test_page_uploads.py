"""Sending the file from the page: its progress, leaving mid-upload, an upload cut short."""

from __future__ import annotations

from pathlib import Path

import pytest
from browsing import OpenPage, api_post, followed
from playwright.sync_api import Route, expect

from localdev.dktgen import generate_bytes
from localdev.tokens import issue_local_token

pytestmark = pytest.mark.browser

LOST = "La subida del archivo se interrumpió"


def test_leaving_mid_upload_is_warned_and_another_tab_knows_the_upload_is_alive(
    signed_in_page: OpenPage, tmp_path: Path
) -> None:
    # GIVEN an upload to S3 that does not finish (the storage never answers)
    statement = tmp_path / "lento.dkt"
    statement.write_bytes(generate_bytes(200, seed=41))
    page = signed_in_page("uma", "acme")
    page.route("**/*", _hold_s3_posts)
    page.get_by_label("Código de tarjeta").fill("LENTO")
    page.locator("#file").set_input_files(statement)
    page.get_by_role("button", name="Importar").click()
    # THEN the form shows the upload's progress bar
    expect(page.get_by_role("progressbar", name="Subida del archivo")).to_be_visible()
    expect(page.locator("#import-status")).to_contain_text("Subiendo lento.dkt")
    # ... and another tab that finds the job says it waits for its file, not that it is lost
    other = signed_in_page("uma", "acme", context=page.context)
    card = other.locator("#followed .job").first
    expect(card).to_be_visible(timeout=10_000)
    expect(card.locator(".job-message")).to_have_text("Esperando el archivo...")
    # WHEN the user tries to leave the page
    with page.expect_event("dialog") as asked:
        page.close(run_before_unload=True)
    # THEN the browser asks first (she stays)
    assert asked.value.type == "beforeunload"
    asked.value.dismiss()
    assert not page.is_closed()


def _hold_s3_posts(route: Route) -> None:
    request = route.request
    if request.method == "POST" and "/api/" not in request.url and "/ui-config" not in request.url:
        return  # never answered: the upload stays in flight
    route.fallback()


def test_a_job_whose_upload_was_cut_says_so_and_is_cancelled_at_once(
    signed_in_page: OpenPage, stack_url: str
) -> None:
    # GIVEN an import whose file never came (its page was reloaded mid-upload)
    token = issue_local_token("vera", "acme")
    created = api_post(
        stack_url,
        token,
        "/api/jobs/dkt-import",
        {"codigoTarjeta": "CORTE", "filename": "corte.dkt", "size": 3000},
    )
    job_id = created["job"]["id"]
    # WHEN the user opens the page
    page = signed_in_page("vera", "acme", token=token)
    card = followed(page, job_id)
    # THEN the job says its upload was interrupted and what to do
    expect(card.locator(".job-message")).to_contain_text(LOST, timeout=10_000)
    # ... and Cancelar ends it at once
    card.get_by_role("button", name="Cancelar").click()
    expect(card.locator(".job-status")).to_have_text("Cancelada", timeout=10_000)
