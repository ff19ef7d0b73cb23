"""The metrics dashboard in headless Chromium: the figures and the day's bar say what the
company's imports did."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browsing import OpenPage, completed, followed, start_import
from playwright.sync_api import expect

from localdev.dktgen import generate_bytes

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def test_the_dashboard_shows_the_imports_of_the_period_and_a_bar_per_day(
    signed_in_page: OpenPage, tmp_path: Path
) -> None:
    # GIVEN a company whose user imported a 250-line statement, and a broken one that failed
    good = tmp_path / "junio.dkt"
    good.write_bytes(generate_bytes(250, seed=71))
    bad = tmp_path / "julio.dkt"
    bad.write_bytes(generate_bytes(40, seed=72).replace(b"\n", b"\nno es DKT\n", 1))
    page = signed_in_page("tomas", "metricas")
    section = page.locator("#metrics-section")
    expect(section.locator("#metric-imports")).to_have_text("0")  # loaded on sign-in
    completed(page, start_import(page, "METRA", good))
    failed = start_import(page, "METRB", bad)
    expect(followed(page, failed).locator(".job-status")).to_have_text("Con error", timeout=60_000)

    # WHEN she refreshes the dashboard
    section.get_by_role("button", name="Actualizar las métricas").click()

    # THEN the figures are those two imports, and today's bar says how they ended
    expect(section.locator("#metric-imports")).to_have_text("2")
    expect(section.locator("#metric-success")).to_have_text(re.compile(r"^50\s?%$"))
    expect(section.locator("#metric-lines")).to_have_text("250")
    expect(section.locator("#metric-average")).to_contain_text(" s")
    days = section.locator("#metrics-chart .chart-day")
    expect(days).to_have_count(30)
    today = section.locator("#metrics-chart .chart-day").last
    expect(today.locator("title")).to_contain_text("1 completada, 1 con error, 0 canceladas")
    expect(today.locator("rect")).to_have_count(2)
    assert days.first.locator("rect").count() == 0
    label = section.locator("#metrics-chart").get_attribute("aria-label") or ""
    assert "1 completada y 1 con error" in label
    section.scroll_into_view_if_needed()
    section.screenshot(path=str(ARTIFACTS / "page-metrics.png"))
    # ... and over the last 7 days, 7 bars
    section.get_by_label("Período de las métricas").select_option("7")
    expect(days).to_have_count(7)
