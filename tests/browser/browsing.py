"""What the browser tests do on the page and ask of the API, shared by their modules."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page, expect

OpenPage = Callable[..., Page]
# An 18,000-line import takes ~15 s on the local stack; moto's queries scan whole tables,
# so late in the suite, with every test's lines stored, the same work can take minutes.
IMPORT_TIMEOUT_MS = 180_000


def start_import(page: Page, codigo: str, statement: Path) -> str:
    """Fills the form and submits it; returns the id of the job the page now follows."""
    page.get_by_label("Código de tarjeta").fill(codigo)
    page.locator("#file").set_input_files(statement)
    expect(page.locator("#file-name")).to_contain_text(statement.name)
    page.get_by_role("button", name="Importar").click()
    card = page.locator("#followed .job").first
    expect(card).to_be_visible(timeout=20_000)
    expect(card.locator(".job-title")).to_have_text(f"{statement.name} · {codigo.upper()}")
    job_id = card.get_attribute("data-job-id")
    assert job_id
    return job_id


def followed(page: Page, job_id: str) -> Locator:
    return page.locator(f'#followed .job[data-job-id="{job_id}"]')


def card_titled(page: Page, title: str) -> Locator:
    """The card of the job the page titles so, running or finished."""
    return page.locator("#followed .job", has=page.locator(".job-title", has_text=title))


def history_row(page: Page, job_id: str) -> Locator:
    return page.locator(f'#history-body tr[data-job-id="{job_id}"]')


def api_get(stack_url: str, token: str, path: str) -> Any:
    request = urllib.request.Request(
        f"{stack_url}{path}", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def api_post(stack_url: str, token: str, path: str, body: Any) -> Any:
    request = urllib.request.Request(
        f"{stack_url}{path}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def completed(page: Page, job_id: str) -> None:
    """Waits until the page's card of the job says it completed."""
    expect(followed(page, job_id).locator(".job-status")).to_have_text(
        "Completada", timeout=IMPORT_TIMEOUT_MS
    )
