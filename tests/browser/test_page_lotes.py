"""The Lotes screen in headless Chromium: finding lotes and lines, replacing a lote."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from browsing import (
    IMPORT_TIMEOUT_MS,
    OpenPage,
    api_get,
    card_titled,
    completed,
    followed,
    start_import,
)
from playwright.sync_api import expect

from localdev.dktgen import generate_bytes
from localdev.tokens import issue_local_token

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def argentine(amount: Decimal) -> str:
    """1234.5 -> 1.234,50, as a finance user types it."""
    whole, cents = f"{abs(amount):.2f}".split(".")
    return ("-" if amount < 0 else "") + f"{int(whole):,}".replace(",", ".") + f",{cents}"


def test_lotes_and_their_lines_are_found_by_what_a_finance_user_knows(
    signed_in_page: OpenPage, tmp_path: Path, stack_url: str
) -> None:
    # GIVEN two lotes of one card, April's with 400 lines
    page = signed_in_page("rita", "acme")
    token = issue_local_token("rita", "acme")
    for name, lines, periodo in (("abril.dkt", 400, "2404"), ("mayo.dkt", 20, "2405")):
        path = tmp_path / name
        path.write_bytes(generate_bytes(lines, seed=31, periodo=periodo))
        completed(page, start_import(page, "BUSCA", path))
    rows = page.locator("#lotes-body tr")
    expect(rows).to_have_count(2)
    # WHEN she filters the lotes by periodo, THEN only May's is listed; Limpiar shows both
    lote_filters = page.get_by_role("search", name="Filtrar lotes")
    lote_filters.get_by_label("Periodo (AAMM)").fill("2405")
    lote_filters.get_by_role("button", name="Filtrar").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-lote-id", "BUSCA2405")
    lote_filters.get_by_role("button", name="Limpiar").click()
    expect(rows).to_have_count(2)
    page.locator("#lotes-title").scroll_into_view_if_needed()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "page-lotes.png"))
    # ... and the history, by periodo and by status
    history = page.locator("#history-body tr")
    expect(history).to_have_count(2)
    filters = page.get_by_role("search", name="Filtrar el historial")
    filters.get_by_label("Periodo (AAMM)").fill("2405")
    filters.get_by_role("button", name="Filtrar").click()
    expect(history).to_have_count(1)
    expect(history.first).to_contain_text("mayo.dkt")
    filters.get_by_label("Periodo (AAMM)").fill("")
    filters.get_by_label("Estado").select_option(label="Con error")
    filters.get_by_role("button", name="Filtrar").click()
    expect(page.locator("#history-empty")).to_have_text("Ningún proceso coincide con el filtro.")
    filters.get_by_role("button", name="Limpiar").click()
    expect(history).to_have_count(2)

    # WHEN she looks for April's lines of one card within an amount range
    every = []
    cursor = ""
    while True:
        query = f"?limit=1000&cursor={cursor}" if cursor else "?limit=1000"
        body = api_get(stack_url, token, f"/api/lotes/BUSCA2404{query}")
        every += body["lines"]
        if not (cursor := body["nextCursor"]):
            break
    last4 = every[7]["record"]["tarjeta"][-4:]
    amounts = sorted(Decimal(line["record"]["importe"]) for line in every)
    low = amounts[100]
    expected = [
        line["lineNo"]
        for line in every
        if line["record"]["tarjeta"].endswith(last4) and Decimal(line["record"]["importe"]) >= low
    ]
    assert expected
    page.locator('#lotes-body tr[data-lote-id="BUSCA2404"]').get_by_role(
        "button", name="Ver las líneas del lote BUSCA2404"
    ).click()
    dialog = page.locator("#lines-dialog")
    expect(dialog.locator("#lines-body tr")).to_have_count(100)
    dialog.get_by_label("Tarjeta (últimos 4)").fill(last4)
    dialog.get_by_label("Importe desde").fill(argentine(low))
    dialog.get_by_role("button", name="Buscar").click()
    # THEN exactly those lines are shown, and the summary counts them
    shown = dialog.locator("#lines-body tr td:first-child")
    expect(shown).to_have_text([f"{n:,}".replace(",", ".") for n in expected])
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "page-lines-search.png"))
    count = (
        f"{len(expected)} línea coincide"
        if len(expected) == 1
        else f"{len(expected)} líneas coinciden"
    )
    expect(dialog.locator("#lines-summary")).to_contain_text(count)
    for card in dialog.locator("#lines-body td.card-number").all_inner_texts():
        assert card.endswith(last4) and "*" in card
    # ... and a card that is not there finds nothing
    dialog.get_by_label("Tarjeta (últimos 4)").fill("0000" if last4 != "0000" else "1111")
    dialog.get_by_role("button", name="Buscar").click()
    expect(dialog.locator("#lines-summary")).to_contain_text("0 líneas coinciden")
    expect(dialog.locator("#lines-body tr")).to_have_count(0)
    dialog.get_by_role("button", name="Cerrar").click()


def test_an_import_that_finds_its_lote_replaces_it_from_its_card_after_a_confirmation(
    signed_in_page: OpenPage, tmp_path: Path, stack_url: str
) -> None:
    # GIVEN a lote of 30 lines, and a second file of the same card and periodo
    page = signed_in_page("sara", "acme")
    first, second = tmp_path / "junio.dkt", tmp_path / "junio-corregido.dkt"
    first.write_bytes(generate_bytes(30, seed=32))
    second.write_bytes(generate_bytes(45, seed=33))
    completed(page, start_import(page, "REEMP", first))
    # WHEN she imports the second without asking to replace
    job_id = start_import(page, "REEMP", second)
    card = followed(page, job_id)
    # THEN it fails saying the lote exists, and offers to replace it (not to retry)
    expect(card.locator(".job-status")).to_have_text("Con error", timeout=IMPORT_TIMEOUT_MS)
    expect(card.locator(".job-message")).to_contain_text("ya fue importado")
    expect(card.get_by_role("button", name="Reintentar")).to_be_hidden()
    # WHEN she replaces it, confirming
    messages: list[str] = []
    page.once("dialog", lambda dialog: (messages.append(dialog.message), dialog.accept()))
    card.get_by_role("button", name="Reemplazar lote").click()
    # THEN the same job completes and the lote holds the new file's 45 lines
    expect(card.locator(".job-status")).to_have_text("Completada", timeout=IMPORT_TIMEOUT_MS)
    assert "Reemplazar el lote REEMP2404" in messages[0]
    lote = api_get(stack_url, issue_local_token("sara", "acme"), "/api/lotes/REEMP2404?limit=1")
    assert lote["lote"]["lineCount"] == 45
    assert lote["lote"]["jobId"] == job_id
    expect(page.locator('#lotes-body tr[data-lote-id="REEMP2404"]')).to_contain_text("45")

    # WHEN she picks Reemplazar on the lote itself
    page.get_by_role("button", name="Reemplazar el lote REEMP2404 con otro archivo").click()
    # THEN the form is set to replace that card's lote and asks for the file
    expect(page.get_by_label("Código de tarjeta")).to_have_value("REEMP")
    expect(page.get_by_label("Reemplazar lote existente")).to_be_checked()
    expect(page.locator("#import-status")).to_contain_text(
        "Elija el archivo del periodo 2404 para reemplazar el lote REEMP2404"
    )
    expect(page.locator("#file")).to_be_focused()
    # WHEN she picks the new file and imports it, confirming the replacement
    third = tmp_path / "junio-final.dkt"
    third.write_bytes(generate_bytes(52, seed=34))
    page.locator("#file").set_input_files(third)
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name="Importar").click()
    # THEN the lote is replaced by its 52 lines
    card = card_titled(page, "junio-final.dkt · REEMP")
    expect(card.locator(".job-status")).to_have_text("Completada", timeout=IMPORT_TIMEOUT_MS)
    assert "se reemplazarán" in asked[0]
    replaced = api_get(stack_url, issue_local_token("sara", "acme"), "/api/lotes/REEMP2404?limit=1")
    assert replaced["lote"]["lineCount"] == 52
    row = page.locator('#lotes-body tr[data-lote-id="REEMP2404"]')
    expect(row).to_contain_text("junio-final.dkt (sara)")
    # ... the lines it replaced wait out the undo window, said in the history, not as a card
    expect(page.locator("#history-body")).to_contain_text(
        "Los registros reemplazados se eliminarán el", timeout=20_000
    )
    expect(page.locator("#followed .job", has_text="eliminarán")).to_have_count(0)

    # WHEN she undoes that last replace, confirming
    undo_asked: list[str] = []
    page.once("dialog", lambda dialog: (undo_asked.append(dialog.message), dialog.accept()))
    row.get_by_role("button", name="Deshacer el último reemplazo del lote REEMP2404").click()
    # THEN the lote is the 45 lines it had before, at once
    expect(row).to_contain_text("junio-corregido.dkt (sara)")
    expect(row.locator("td").nth(3)).to_have_text("45")
    assert "Volverán las líneas que tenía antes" in undo_asked[0]
    restored = api_get(stack_url, issue_local_token("sara", "acme"), "/api/lotes/REEMP2404?limit=1")
    assert (restored["lote"]["jobId"], restored["lote"]["lineCount"]) == (job_id, 45)
    expect(
        row.get_by_role("button", name="Deshacer el último reemplazo del lote REEMP2404")
    ).to_have_count(0)
