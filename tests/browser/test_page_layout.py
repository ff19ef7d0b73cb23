"""The page on a phone (390x844) and its notices, measured from the element boxes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from browsing import OpenPage, card_titled, completed, followed, start_import
from playwright.sync_api import Browser, BrowserContext, Page, expect

from localdev.dktgen import generate_bytes

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
PHONE = {"width": 390, "height": 844}

# Every control the user can see, with the part of its box that is on the screen (clipped
# by the scrolling boxes around it), and the boxes of the notices.
MEASURE = """(root) => {
  const scope = root ? document.querySelector(root) : document;
  const visible = (node) => {
    const style = getComputedStyle(node);
    return style.visibility !== 'hidden' && node.getClientRects().length > 0;
  };
  const clip = (node) => {
    let box = node.getBoundingClientRect();
    let { left, top, right, bottom } = box;
    for (let up = node.parentElement; up; up = up.parentElement) {
      const style = getComputedStyle(up);
      if (/(auto|scroll|hidden)/.test(style.overflow + style.overflowX + style.overflowY)) {
        const outer = up.getBoundingClientRect();
        left = Math.max(left, outer.left); right = Math.min(right, outer.right);
        top = Math.max(top, outer.top); bottom = Math.min(bottom, outer.bottom);
      }
    }
    return { left, top, right, bottom, full: { left: box.left, right: box.right } };
  };
  const controls = [...scope.querySelectorAll('button, input, select, a[href], label.button')]
    .filter(visible)
    .filter((node) => !node.closest('dialog:not([open])'))
    .filter((node) => !node.matches('.file-input, .skip'))  // hidden until focused, by design
    .filter((node) => !node.closest('#notices'))  // a notice's own Cerrar
    .map((node) => ({ name: (node.getAttribute('aria-label') || node.textContent || node.id).trim(),
                      ...clip(node) }));
  // A notice's part on the screen: the band scrolls when the notices outgrow it.
  const notices = [...document.querySelectorAll('#notices .notice')].map(clip);
  const main = document.querySelector('main');
  return {
    controls, notices,
    pageWidth: document.documentElement.scrollWidth,
    mainOverflow: main.scrollWidth - main.clientWidth,
  };
}"""


def overlaps(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (
        a["left"] < b["right"]
        and b["left"] < a["right"]
        and a["top"] < b["bottom"]
        and b["top"] < a["bottom"]
    )


def check_screen(page: Page, width: int, root: str | None = None) -> int:
    """Asserts no horizontal scroll, every visible control inside the screen's width and
    none under a notice (in a modal dialog, `root`, the dialog lies over the notices);
    returns how many controls it measured."""
    seen = page.evaluate(MEASURE, root)
    assert seen["pageWidth"] <= width, f"the page is {seen['pageWidth']} px wide"
    assert seen["mainOverflow"] <= 0, f"the content scrolls sideways by {seen['mainOverflow']} px"
    for control in seen["controls"]:
        assert control["full"]["left"] >= 0 and control["full"]["right"] <= width + 0.5, control
        if control["bottom"] <= control["top"] or control["right"] <= control["left"]:
            continue  # scrolled out of its box: nothing of it is on the screen
        for notice in seen["notices"] if root is None else []:
            assert not overlaps(control, notice), f"a notice covers {control['name']!r}"
    return len(seen["controls"])


@pytest.fixture
def phone(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport=PHONE, locale="es-AR", is_mobile=True, has_touch=True)
    yield context
    context.close()


def test_on_a_phone_every_control_is_on_the_screen_and_no_notice_covers_one(
    signed_in_page: OpenPage, phone: BrowserContext, tmp_path: Path
) -> None:
    # GIVEN a user on a 390x844 phone with an import, a lote and its export done
    statement = tmp_path / "septiembre.dkt"
    statement.write_bytes(generate_bytes(120, seed=51))
    page = signed_in_page("wanda", "acme", context=phone)
    completed(page, start_import(page, "MOVIL", statement))
    lote_row = page.locator('#lotes-body tr[data-lote-id="MOVIL2404"]')
    lote_row.get_by_role("button", name="Exportar el lote MOVIL2404 a CSV").click()
    expect(
        card_titled(page, "Exportación CSV · lote MOVIL2404").locator(".job-status")
    ).to_have_text("Completada", timeout=60_000)
    # ... and three notices on the screen
    page.evaluate(
        """async () => {
            const { showNotice } = await import("./static/notices.js");
            showNotice({ title: "Aviso de prueba", detail: "Uno más, de error.", kind: "error" });
        }"""
    )
    expect(page.locator("#notices .notice")).to_have_count(3)
    # THEN at the top, the middle and the bottom of the page: nothing is off to the right,
    # and no notice covers a control
    main = page.locator("main")
    measured = 0
    for fraction in (0, 0.5, 1):
        main.evaluate(
            "(node, f) => { node.scrollTop = (node.scrollHeight - node.clientHeight) * f; }",
            fraction,
        )
        measured += check_screen(page, PHONE["width"])
    assert measured > 30  # the import form, the cards, the lote's and history's buttons
    assert serious_violations(page) == []
    # ... the history and the lotes are stacked rows whose cells say what they are
    history_cell = page.locator("#history-body tr").first.locator("td").nth(1)
    expect(history_cell).to_have_attribute("data-label", "Archivo")
    ARTIFACTS.mkdir(exist_ok=True)
    lote_row.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "page-phone.png"))
    # WHEN she opens the lote's lines
    lote_row.get_by_role("button", name="Ver las líneas del lote MOVIL2404").click()
    dialog = page.locator("#lines-dialog")
    expect(dialog.locator("#lines-body tr")).to_have_count(100)
    # THEN the dialog, its filters and its lines fit the screen too
    assert check_screen(page, PHONE["width"], "#lines-dialog") > 5
    width = dialog.evaluate("(node) => node.scrollWidth - node.clientWidth")
    assert width <= 0, f"the lines dialog scrolls sideways by {width} px"
    page.screenshot(path=str(ARTIFACTS / "page-phone-lines.png"))


# --- accessibility --------------------------------------------------------------------------


def serious_violations(page: Page, context: str | None = None) -> list[str]:
    """axe-core's serious and critical findings on the page (or inside `context`)."""
    results = Axe().run(page, context=context)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_every_screen_has_no_serious_or_critical_accessibility_violation(
    new_context: Any, signed_in_page: OpenPage, stack_url: str, tmp_path: Path
) -> None:
    # The sign-in screen
    first = new_context().new_page()
    first.goto(f"{stack_url}/")
    expect(first.get_by_label("Token de acceso")).to_be_visible()
    assert serious_violations(first) == []
    # The page with an import done, one with line errors, a lote, its export and notices
    good, bad = tmp_path / "octubre.dkt", tmp_path / "roto.dkt"
    good.write_bytes(generate_bytes(120, seed=52))
    lines = generate_bytes(20, seed=53).splitlines(keepends=True)
    lines[4] = lines[4][:30] + b"X" * 10 + lines[4][40:]
    bad.write_bytes(b"".join(lines))
    page = signed_in_page("xime", "acme")
    completed(page, start_import(page, "AXE", good))
    failed = start_import(page, "AXEB", bad)
    expect(followed(page, failed).locator(".job-status")).to_have_text("Con error", timeout=60_000)
    expect(page.locator("#history-body tr")).to_have_count(2)
    assert serious_violations(page) == []
    # The lines dialog, searched
    page.get_by_role("button", name="Ver las líneas del lote AXE2404").click()
    dialog = page.locator("#lines-dialog")
    expect(dialog.locator("#lines-body tr")).to_have_count(100)
    dialog.get_by_label("Comercio").fill("a")
    dialog.get_by_role("button", name="Buscar").click()
    expect(dialog.locator("#lines-summary")).to_contain_text("coincide")
    assert serious_violations(page, "#lines-dialog") == []
    dialog.get_by_role("button", name="Cerrar").click()
    # The error report
    followed(page, failed).get_by_role("button", name="Ver errores").click()
    errors = page.locator("#errors-dialog")
    expect(errors.locator("#errors-body tr").first).to_be_visible()
    assert serious_violations(page, "#errors-dialog") == []
    errors.get_by_role("button", name="Cerrar").click()
    # The rule editor, with a condition, an action and a try on the lote
    page.get_by_role("button", name="Nueva regla").click()
    editor = page.locator("#rule-dialog")
    editor.get_by_role("button", name="Agregar condición").click()
    editor.get_by_label("Código").fill("AXE")
    editor.get_by_label("Nombre").fill("Prueba")
    editor.locator("#rule-conditions .condition").get_by_label("Valor").fill("a")
    action = editor.locator("#rule-actions .action")
    action.get_by_label("Campo que asigna").fill("centro")
    action.get_by_label("Valor", exact=True).fill("1")
    editor.get_by_role("button", name="Probar con 20 líneas").click()
    expect(editor.locator("#rule-test-summary")).to_contain_text("se aplica a")
    assert serious_violations(page, "#rule-dialog") == []
