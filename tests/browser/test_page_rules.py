"""The rules screen in headless Chromium: write a rule from the offered names, see the
error where it is, try it on a lote's lines, save it, edit it, read the versions."""

from __future__ import annotations

from pathlib import Path

import pytest
from browsing import OpenPage, api_get, completed, start_import
from playwright.sync_api import expect

from localdev.dktgen import generate_bytes
from localdev.tokens import issue_local_token

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def test_a_rule_is_written_from_the_offered_names_tried_on_a_lote_saved_and_edited(
    signed_in_page: OpenPage, tmp_path: Path, stack_url: str
) -> None:
    # GIVEN a lote of 60 lines, and the rubro group of its first line
    statement = tmp_path / "noviembre.dkt"
    statement.write_bytes(generate_bytes(60, seed=61))
    page = signed_in_page("yael", "acme")
    token = issue_local_token("yael", "acme")
    completed(page, start_import(page, "REGLA", statement))
    sample = api_get(stack_url, token, "/api/lotes/REGLA2404?limit=20")["lines"]
    group = sample[0]["record"]["grupoRubro"]
    matching = sum(1 for line in sample if line["record"]["grupoRubro"] == group)
    section = page.locator("#rules-section")
    expect(section.locator("#rules-version")).to_contain_text("Todavía no hay reglas")

    # WHEN she writes a rule choosing the field and the operator from the lists
    section.get_by_role("button", name="Nueva regla").click()
    dialog = page.locator("#rule-dialog")
    dialog.get_by_label("Código").fill("RUBRO")
    dialog.get_by_label("Nombre").fill("Clasificar por rubro")
    dialog.get_by_role("button", name="Agregar condición").click()
    condition = dialog.locator("#rule-conditions .condition").first
    condition.get_by_label("Campo").select_option("grupoRubro")
    condition.get_by_label("Operador").select_option(label="es igual a")
    action = dialog.locator("#rule-actions .action").first
    expect(action.get_by_label("Acción")).to_have_value("SET")
    action.get_by_label("Campo que asigna").fill("cuentaContable")
    action.get_by_label("Valor", exact=True).fill("5.1.02")
    # ... and saves it without the value the condition compares with
    dialog.get_by_role("button", name="Guardar").click()
    # THEN the error is shown at that input, naming the rule and the field
    expect(dialog.locator("#rule-error")).to_contain_text("regla RUBRO: conditions[0].value")
    value = condition.get_by_label("Valor", exact=True)
    expect(value).to_have_attribute("aria-invalid", "true")
    expect(value).to_be_focused()
    assert api_get(stack_url, token, "/api/rules")["version"] == 0

    # WHEN she fills it and tries the rule on the lote's first lines
    value.fill(group)
    expect(dialog.get_by_label("Lote")).to_have_value("REGLA2404")
    dialog.get_by_role("button", name="Probar con 20 líneas").click()
    # THEN she sees on how many it fires, and what it set, before saving anything
    expect(dialog.locator("#rule-test-summary")).to_have_text(
        f"La regla RUBRO se aplica a {matching} de 20 líneas del lote REGLA2404."
    )
    expect(dialog.locator("#rule-test-body tr.fired")).to_have_count(matching)
    expect(dialog.locator("#rule-test-body tr.fired").first).to_contain_text(
        "cuentaContable = 5.1.02"
    )
    assert api_get(stack_url, token, "/api/rules")["version"] == 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "page-rule-editor.png"))

    # WHEN she saves it
    dialog.get_by_role("button", name="Guardar").click()
    # THEN it is the tenant's version 1, listed with what it does
    expect(dialog).to_be_hidden()
    row = section.locator('#rules-body tr[data-code="RUBRO"]')
    expect(row).to_contain_text("Grupo de rubro es igual a " + group)
    expect(row).to_contain_text("cuentaContable: Asignar el valor (5.1.02)")
    expect(section.locator("#rules-version")).to_contain_text("Versión 1")
    stored = api_get(stack_url, token, "/api/rules")
    assert stored["rules"][0]["conditions"] == [
        {"field": "grupoRubro", "op": "EQUALS", "value": group}
    ]

    # WHEN she edits it
    row.get_by_role("button", name="Editar la regla RUBRO").click()
    expect(
        dialog.locator("#rule-actions .action").first.get_by_label("Valor", exact=True)
    ).to_have_value("5.1.02")
    dialog.locator("#rule-actions .action").first.get_by_label("Valor", exact=True).fill("5.1.03")
    dialog.get_by_role("button", name="Guardar").click()
    # THEN version 2 holds the change, and the history lists both versions
    expect(section.locator("#rules-version")).to_contain_text("Versión 2")
    assert api_get(stack_url, token, "/api/rules")["rules"][0]["actions"][0]["value"] == "5.1.03"
    section.locator("#rules-versions summary").click()
    versions = section.locator("#versions-body tr")
    expect(versions).to_have_count(2)
    expect(versions.first).to_contain_text("yael")

    # WHEN she adds a lookup table, one line without its "="
    section.get_by_role("button", name="Nueva tabla").click()
    table = page.locator("#lookup-dialog")
    table.get_by_label("Nombre").fill("centros")
    table.get_by_label("Claves y valores").fill(f"{group} = C-100\nsin valor")
    table.get_by_role("button", name="Guardar").click()
    # THEN she is told which line, and once mended the table is saved as version 3
    expect(table.locator("#lookup-error")).to_contain_text("revise la línea 2")
    table.get_by_label("Claves y valores").fill(f"{group} = C-100\n99 = C-999")
    table.get_by_role("button", name="Guardar").click()
    expect(table).to_be_hidden()
    expect(section.locator('#lookups-list li[data-table="centros"]')).to_contain_text("2 claves")
    expect(section.locator("#rules-version")).to_contain_text("Versión 3")
    assert api_get(stack_url, token, "/api/rules")["lookups"] == {
        "centros": {group: "C-100", "99": "C-999"}
    }
    # ... and a rule's "Buscar en una tabla" offers it
    row.get_by_role("button", name="Editar la regla RUBRO").click()
    dialog.get_by_role("button", name="Agregar acción").click()
    added = dialog.locator("#rule-actions .action").nth(1)
    added.get_by_label("Acción").select_option(label="Buscar en una tabla")
    expect(added.get_by_label("Tabla", exact=True)).to_have_value("centros")
    expect(added.get_by_label("Campo de origen")).to_be_visible()
