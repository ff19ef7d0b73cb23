"""The import page in headless Chromium against the local stack: what a user sees."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import openpyxl
import pytest
from browsing import (
    IMPORT_TIMEOUT_MS,
    OpenPage,
    api_get,
    card_titled,
    followed,
    history_row,
    start_import,
)
from playwright.sync_api import BrowserContext, Page, Request, Route, expect

from localdev.dktgen import generate_bytes
from localdev.tokens import issue_local_token

pytestmark = pytest.mark.browser


ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
# Records every value the followed job's progress bar shows, as the user sees them.
RECORD_PROGRESS = """() => {
  window.progressSeen = [];
  new MutationObserver(() => {
    const bar = document.querySelector('#followed .job [role="progressbar"]');
    const value = bar && Number(bar.getAttribute('aria-valuenow'));
    if (bar && window.progressSeen.at(-1) !== value) window.progressSeen.push(value);
  }).observe(document.getElementById('followed'), {
    subtree: true, childList: true, attributes: true, attributeFilter: ['aria-valuenow'],
  });
}"""

PROGRESS_BETWEEN = """([jobId, low, high]) => {
  const bar = document.querySelector(`.job[data-job-id="${jobId}"] [role="progressbar"]`);
  const value = bar && Number(bar.getAttribute('aria-valuenow'));
  return bar && value >= low && value <= high ? value : null;
}"""


# The tab's own notice, or the notice its other tab took (recorded in localStorage).
NOTICE_SHOWN = """(jobId) =>
  document.querySelector(`#notices .notice[data-job-id="${jobId}"]`) !== null
  || (localStorage.getItem('dkt.notifiedJobs') || '').includes(jobId)"""


# Records, in each tab, the outcome of every claim of a notice (true: this tab announces it).
# The claim runs under the Web Lock of notices.js, so its end is the moment a tab has decided.
RECORD_NOTICE_CLAIMS = """(() => {
  window.noticeClaims = [];
  if (!navigator.locks) return;
  const request = navigator.locks.request.bind(navigator.locks);
  navigator.locks.request = (name, ...rest) => {
    const callback = rest.at(-1);
    if (name !== 'dkt-jobs-notices') return request(name, ...rest);
    return request(name, ...rest.slice(0, -1), async (lock) => {
      const claimed = await callback(lock);
      window.noticeClaims.push(claimed);
      return claimed;
    });
  };
})()"""


def is_history_request(response: Any) -> bool:
    """The history's page of jobs (GET /api/jobs?limit=...), not a single job's poll."""
    return (
        response.request.method == "GET"
        and "/api/jobs?" in response.url
        and ("status=active" not in response.url)
    )


class PollWatch:
    """Counts the page's polls of single jobs that are in flight at the same time."""

    def __init__(self, page: Page) -> None:
        self.in_flight: set[Request] = set()
        self.max_in_flight = 0
        self.polls = 0
        page.on("request", self._started)
        page.on("requestfinished", self._settled)
        page.on("requestfailed", self._settled)

    @staticmethod
    def _is_poll(request: Request) -> bool:
        return request.method == "GET" and "/api/jobs/" in request.url

    def _started(self, request: Request) -> None:
        if self._is_poll(request):
            self.polls += 1
            self.in_flight.add(request)
            self.max_in_flight = max(self.max_in_flight, len(self.in_flight))

    def _settled(self, request: Request) -> None:
        self.in_flight.discard(request)


def wait_progress(page: Page, job_id: str, low: int, high: int) -> int:
    """Waits until the job's bar shows a value in [low, high]; returns it."""
    handle = page.wait_for_function(
        PROGRESS_BETWEEN, arg=[job_id, low, high], timeout=IMPORT_TIMEOUT_MS, polling=100
    )
    return int(handle.json_value())


def test_import_moves_the_bar_to_100_and_notifies_once(
    signed_in_page: OpenPage, statement: Path
) -> None:
    # GIVEN a signed-in user, the values her progress bar shows being recorded
    page = signed_in_page("ana", "acme")
    page.evaluate(RECORD_PROGRESS)
    polls = PollWatch(page)
    # WHEN she imports an ordinary 18,000-line statement from the page
    job_id = start_import(page, "pagea", statement)
    card = followed(page, job_id)
    wait_progress(page, job_id, 20, 85)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "page-mid-import.png", full_page=True)
    assert 1 <= int(card.get_by_role("progressbar").get_attribute("aria-valuenow") or 0) <= 99
    # THEN the bar ends at 100, with the lines counted in Argentine format
    bar = card.get_by_role("progressbar")
    expect(bar).to_have_attribute("aria-valuenow", "100", timeout=IMPORT_TIMEOUT_MS)
    expect(card.locator(".job-status")).to_have_text("Completada")
    expect(card.locator(".job-lines")).to_have_text("18.000 de 18.000 líneas")
    # ... having moved through several values, never backwards
    seen = page.evaluate("window.progressSeen")
    assert len(set(seen)) >= 4, seen
    assert seen == sorted(seen), seen
    assert seen[-1] == 100
    # ... polled one request at a time
    assert polls.polls >= 3
    assert polls.max_in_flight == 1
    # ... with exactly one completion notice, and the history refreshed
    notices = page.locator("#notices .notice")
    expect(notices).to_have_count(1)
    expect(notices).to_contain_text("Importación completa: abril.dkt")
    expect(notices).to_contain_text("18.000 líneas importadas en el lote PAGEA")
    row = history_row(page, job_id)
    expect(row).to_contain_text("Completada")
    expect(row).to_contain_text("18.000 de 18.000")
    # ... and the finished job left "En curso" for "Terminados"
    expect(page.locator("#follow-list .job")).to_have_count(0)
    expect(page.get_by_text("No hay importaciones en curso.")).to_be_visible()
    expect(page.locator(f'#done-list .job[data-job-id="{job_id}"]')).to_be_visible()
    # ... still one after another full round of the page's loop (asked for with the history's
    # Actualizar button and over once its history request is answered): the finished job is
    # not polled or announced again, polling stopped at the final state
    polls_at_end = polls.polls
    with page.expect_response(is_history_request):
        page.get_by_role("button", name="Actualizar", exact=True).click()
    expect(row).to_contain_text("Completada")
    expect(notices).to_have_count(1)
    assert polls.polls == polls_at_end
    # WHEN the page is reloaded
    page.reload()
    # THEN the history is back and the finished job is not announced again (jobs are looked
    # up before the history is loaded, so a notice would already be there)
    expect(history_row(page, job_id)).to_contain_text("Completada")
    expect(page.locator("#notices .notice")).to_have_count(0)
    expect(page.get_by_text("No hay importaciones en curso.")).to_be_visible()


def test_reload_mid_import_follows_the_same_job_without_a_click(
    signed_in_page: OpenPage, statement: Path
) -> None:
    # GIVEN an import running from the page
    page = signed_in_page("bruno", "acme")
    job_id = start_import(page, "pageb", statement)
    before = wait_progress(page, job_id, 11, 70)
    # WHEN the user reloads the page in the middle of it (and clicks nothing)
    page.context.add_init_script(RECORD_NOTICE_CLAIMS)  # this page's reload and the next tab
    page.reload()
    # THEN the same job is followed again
    card = followed(page, job_id)
    expect(card).to_be_visible(timeout=10_000)
    expect(card.locator(".job-title")).to_have_text("abril.dkt · PAGEB")
    assert int(card.get_by_role("progressbar").get_attribute("aria-valuenow") or 0) >= before
    # WHEN the user also opens the page in a second tab
    other_tab = signed_in_page("bruno", "acme", context=page.context)
    other_card = followed(other_tab, job_id)
    expect(other_card).to_be_visible(timeout=10_000)
    # THEN both tabs follow the job to its end
    for tab_card in (card, other_card):
        expect(tab_card.get_by_role("progressbar")).to_have_attribute(
            "aria-valuenow", "100", timeout=IMPORT_TIMEOUT_MS
        )
        expect(tab_card.locator(".job-status")).to_have_text("Completada")
    expect(history_row(page, job_id)).to_contain_text("Completada")
    # ... and only one of them announces it
    tabs = (page, other_tab)
    page.wait_for_function(NOTICE_SHOWN, arg=job_id, timeout=5_000)
    for tab in tabs:  # each tab has decided whether it announces the job
        tab.wait_for_function("window.noticeClaims.length > 0", timeout=10_000)
    shown = [tab.locator(f'#notices .notice[data-job-id="{job_id}"]').count() for tab in tabs]
    assert sum(shown) == 1, shown
    claims = [tab.evaluate("window.noticeClaims") for tab in tabs]
    assert sorted(claim for tab_claims in claims for claim in tab_claims) == [False, True], claims


def test_api_unreachable_shows_a_banner_then_follows_the_job_to_the_end(
    signed_in_page: OpenPage, statement: Path
) -> None:
    # GIVEN an import running from the page
    page = signed_in_page("fede", "acme")
    job_id = start_import(page, "pagee", statement)
    wait_progress(page, job_id, 11, 60)
    # WHEN the API cannot be reached for a while
    page.route("**/api/jobs/**", lambda route: route.abort())
    banner = page.locator("#banner")
    # THEN an error banner says so, and the page backs off
    expect(banner).to_be_visible(timeout=10_000)
    expect(banner).to_have_attribute("role", "alert")
    expect(banner).to_contain_text("No se puede contactar al servidor")
    expect(banner).to_contain_text("Reintentando en 4 s", timeout=10_000)
    # WHEN the API answers again
    page.unroute("**/api/jobs/**")
    # THEN the banner goes away and the job is followed to its end
    expect(banner).to_be_hidden(timeout=15_000)
    card = followed(page, job_id)
    expect(card.get_by_role("progressbar")).to_have_attribute(
        "aria-valuenow", "100", timeout=IMPORT_TIMEOUT_MS
    )
    notices = page.locator("#notices .notice")
    expect(notices).to_have_count(1)
    expect(notices).to_contain_text("Importación completa: abril.dkt")


def test_cancel_from_the_page_ends_cancelled_in_the_history(
    stack_url: str, signed_in_page: OpenPage, statement: Path
) -> None:
    # GIVEN an import running from the page
    page = signed_in_page("carla", "acme")
    job_id = start_import(page, "pagec", statement)
    wait_progress(page, job_id, 11, 80)
    card = followed(page, job_id)
    # WHEN the user cancels it
    card.get_by_role("button", name="Cancelar").click()
    # THEN it ends cancelled, is announced once and the history says so
    expect(card.locator(".job-status")).to_have_text("Cancelada", timeout=30_000)
    expect(card.get_by_role("button", name="Cancelar")).to_be_hidden()
    notices = page.locator("#notices .notice")
    expect(notices).to_have_count(1)
    expect(notices).to_contain_text("Importación cancelada: abril.dkt")
    row = history_row(page, job_id)
    expect(row.locator(".badge").first).to_have_text("Cancelada")
    expect(row.get_by_role("button", name="Reintentar")).to_be_visible()
    expect(row.locator("td.lote")).to_have_text("—")  # its lote was never committed
    # ... and the API agrees
    job = api_get(stack_url, issue_local_token("carla", "acme"), f"/api/jobs/{job_id}")
    assert job["status"] == "CANCELLED"
    assert job["processedItems"] < 18_000


def test_another_users_page_never_shows_the_first_users_jobs(
    signed_in_page: OpenPage, statement: Path
) -> None:
    # GIVEN a user with an active import (queued or running: both are looked up on load)
    owner = signed_in_page("diego", "acme")
    job_id = start_import(owner, "paged", statement)
    expect(followed(owner, job_id).locator(".job-status")).to_have_text(
        re.compile("En cola|Procesando")
    )
    # WHEN another user of the same tenant, and the same user name in another tenant, open
    # the page
    for user, tenant in (("elena", "acme"), ("diego", "otra")):
        other = signed_in_page(user, tenant)
        # THEN their history is empty and they follow nothing
        expect(other.get_by_text("Todavía no hay importaciones.")).to_be_visible()
        expect(other.get_by_text("No hay importaciones en curso.")).to_be_visible()
        expect(other.locator("#followed .job")).to_have_count(0)
        expect(other.locator("#history-body tr")).to_have_count(0)
        expect(other.locator("body")).not_to_contain_text("PAGED")
        expect(other.locator("body")).not_to_contain_text(job_id)
    # ... while the owner still follows it (then cancels it, to leave the worker free)
    expect(history_row(owner, job_id)).to_be_visible()
    followed(owner, job_id).get_by_role("button", name="Cancelar").click()
    expect(followed(owner, job_id).locator(".job-status")).to_have_text("Cancelada", timeout=30_000)


def test_the_token_stays_in_this_tab_and_salir_forgets_it(signed_in_page: OpenPage) -> None:
    # GIVEN a signed-in user
    token = issue_local_token("gabi", "acme")
    page = signed_in_page("gabi", "acme", token)
    # THEN the token is in this tab's sessionStorage, never in localStorage nor in the URL
    stored = page.evaluate("() => Object.values(sessionStorage)")
    assert any(value == token for value in stored)
    assert token not in page.evaluate("() => JSON.stringify(Object.entries(localStorage))")
    assert token.split(".")[2] not in page.url
    # WHEN she signs out
    page.get_by_role("button", name="Salir").click()
    # THEN she sees the sign-in again and the tab forgot the token
    expect(page.get_by_label("Token de acceso")).to_be_visible()
    expect(page.get_by_role("heading", name="Nueva importación")).to_be_hidden()
    assert page.evaluate("() => sessionStorage.length") == 0


def test_cognito_sign_in_uses_the_code_flow_with_pkce_and_no_token_in_the_url(
    stack_url: str, new_context: Callable[[], BrowserContext]
) -> None:
    # GIVEN the page configured for Cognito, with the hosted UI played by the test
    hosted_ui = "https://auth.example.com"
    token = issue_local_token("hugo", "acme")  # the local API accepts it: only the UI is fake
    seen: dict[str, str] = {}
    page = new_context().new_page()
    config = {
        "authMode": "cognito",
        "cognitoDomain": "auth.example.com",
        "cognitoClientId": "client-123",
        "pollIntervalMs": 2000,
        "maxFileSize": 52428800,
    }
    page.route("**/ui-config", lambda route: route.fulfill(json=config))

    def authorize(route: Route) -> None:
        seen["authorize"] = route.request.url
        query = parse_qs(urlparse(route.request.url).query)
        back = f"{stack_url}/?code=the-code&state={query['state'][0]}"
        route.fulfill(content_type="text/html", body=f"<script>location.replace({back!r})</script>")

    def token_endpoint(route: Route) -> None:
        seen["token"] = route.request.post_data or ""
        route.fulfill(
            json={"id_token": token, "access_token": "opaque", "token_type": "Bearer"},
            headers={"Access-Control-Allow-Origin": stack_url},
        )

    page.route(f"{hosted_ui}/oauth2/authorize**", authorize)
    page.route(f"{hosted_ui}/oauth2/token", token_endpoint)
    page.route(f"{hosted_ui}/logout**", lambda route: route.fulfill(body="adiós"))
    page.goto(f"{stack_url}/")
    # WHEN the user signs in
    page.get_by_role("button", name="Ingresar").click()
    # THEN she is signed in, and the URL carries neither the code nor any token
    expect(page.get_by_role("heading", name="Nueva importación")).to_be_visible()
    assert page.url == f"{stack_url}/"
    # ... through the authorization-code flow with PKCE (S256)
    authorize_query = parse_qs(urlparse(seen["authorize"]).query)
    assert authorize_query["response_type"] == ["code"]
    assert authorize_query["client_id"] == ["client-123"]
    assert authorize_query["redirect_uri"] == [f"{stack_url}/"]
    assert authorize_query["code_challenge_method"] == ["S256"]
    exchange = parse_qs(seen["token"])
    assert exchange["grant_type"] == ["authorization_code"]
    assert exchange["code"] == ["the-code"]
    verifier = exchange["code_verifier"][0].encode()
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
    assert authorize_query["code_challenge"] == [challenge.decode()]
    # ... and the id token is kept in this tab only
    assert token in page.evaluate("() => Object.values(sessionStorage)")
    assert token not in page.evaluate("() => JSON.stringify(Object.entries(localStorage))")
    # WHEN she signs out, THEN she is sent to the hosted UI's logout, which comes back here
    page.get_by_role("button", name="Salir").click()
    page.wait_for_url(f"{hosted_ui}/logout**")
    assert parse_qs(urlparse(page.url).query)["logout_uri"] == [f"{stack_url}/"]


def test_a_failed_job_says_when_it_retries_by_itself(signed_in_page: OpenPage) -> None:
    # The page's own module, in the page, on jobs as the API returns them.
    page = signed_in_page("hugo", "acme")
    texts = page.evaluate(
        """async () => {
            const { messageText } = await import("./static/jobs.js");
            const error = { code: "PROCESSING_ERROR", message: "Se detuvo por un error." };
            const failed = { status: "FAILED", message: "x", error };
            return [
                messageText({ ...failed, nextRetryAt: "2026-12-03T15:05:00.000Z" }),
                messageText({ ...failed, nextRetryAt: null }),
            ];
        }"""
    )
    # in the browser's zone (UTC here), dd/mm/aaaa hh:mm, 24-hour
    assert texts[0] == "Se detuvo por un error. Se reintentará automáticamente el 03/12/2026 15:05."
    assert texts[1] == "Se detuvo por un error."


def test_skipped_lines_show_in_the_history_and_their_report_opens(
    stack_url: str, signed_in_page: OpenPage, tmp_path: Path
) -> None:
    # GIVEN a 300-line statement whose lines 10, 20 and 30 are broken
    lines = generate_bytes(300, seed=44).split(b"\n")
    for line_no in (10, 20, 30):
        lines[line_no - 1] = b"not a dkt line"
    statement = tmp_path / "mayo.dkt"
    statement.write_bytes(b"\n".join(lines))
    token = issue_local_token("ines", "acme")
    page = signed_in_page("ines", "acme", token)
    # WHEN it is imported skipping invalid lines
    page.get_by_label("Omitir líneas inválidas").check()
    job_id = start_import(page, "pages", statement)
    expect(followed(page, job_id).locator(".job-status")).to_have_text(
        "Completada", timeout=IMPORT_TIMEOUT_MS
    )
    # THEN the history says what came in, and the skipped lines can be seen
    row = history_row(page, job_id)
    expect(row).to_contain_text("297 de 300")
    row.get_by_role("button", name="Ver errores").click()
    expect(page.locator("#errors-dialog")).to_contain_text("10")
    page.keyboard.press("Escape")
    # ... and the same file again is refused before its upload, naming its lote
    page.get_by_label("Omitir líneas inválidas").uncheck()
    page.get_by_label("Código de tarjeta").fill("pagez")
    page.locator("#file").set_input_files(statement)
    page.get_by_role("button", name="Importar").click()
    expect(page.locator("#import-error")).to_contain_text("ya está importado: es el lote PAGES2404")
    expect(card_titled(page, "mayo.dkt · PAGEZ")).to_have_count(0)  # no job was made
    page.get_by_role("button", name="Ver el lote PAGES2404").click()
    expect(page.locator("#lines-dialog")).to_contain_text("Lote PAGES2404")
    page.keyboard.press("Escape")
    # ... imported anyway, strictly, it fails, with no "Reintentar" that would fail again
    page.get_by_role("button", name="Importar de todos modos").click()
    strict_card = card_titled(page, "mayo.dkt · PAGEZ")
    expect(strict_card).to_be_visible(timeout=20_000)
    strict = strict_card.get_attribute("data-job-id")
    assert strict
    assert api_get(stack_url, token, f"/api/jobs/{strict}")["parameters"]["allowDuplicate"]
    expect(followed(page, strict).locator(".job-status")).to_have_text(
        "Con error", timeout=IMPORT_TIMEOUT_MS
    )
    expect(followed(page, strict).get_by_role("button", name="Reintentar")).to_be_hidden()
    expect(history_row(page, strict).get_by_role("button", name="Reintentar")).to_have_count(0)
    expect(history_row(page, strict).get_by_role("button", name="Ver errores")).to_be_visible()
    # ... and the report of the lines it skipped can be exported from its dialog
    history_row(page, job_id).get_by_role("button", name="Ver errores").click()
    page.locator("#errors-dialog").get_by_role("button", name="Exportar a CSV").click()
    card = card_titled(page, "Exportación CSV · errores de mayo.dkt")
    expect(card.locator(".job-status")).to_have_text("Completada", timeout=IMPORT_TIMEOUT_MS)
    with page.expect_download() as download:
        card.get_by_role("button", name="Descargar").click()
    assert download.value.suggested_filename == "errores-mayo.csv"
    rows = Path(download.value.path()).read_bytes().decode("utf-8-sig").splitlines()
    assert [row.split(",")[0] for row in rows] == ["Línea", "10", "20", "30"]


# The page's view of the browser: system notifications recorded instead of shown, and a tab
# that can be sent to the background (`window.pretendHidden`) as switching tabs would.
RECORD_SYSTEM_NOTIFICATIONS = """(() => {
  window.systemNotifications = [];
  window.pretendHidden = false;
  Object.defineProperty(Document.prototype, 'hidden', { get: () => window.pretendHidden });
  class Recorded {
    static get permission() { return 'granted'; }
    static requestPermission() { return Promise.resolve('granted'); }
    constructor(title, options) { window.systemNotifications.push({ title, ...options }); }
    close() {}
  }
  window.Notification = Recorded;
})()"""


def import_with_notifications(
    signed_in_page: OpenPage,
    new_context: Callable[[], BrowserContext],
    statement: Path,
    codigo: str,
    hidden: bool,
) -> Page:
    """A user who allowed notifications imports `statement`, her tab in the background
    (`hidden`) or in front, until the page shows the import completed."""
    context = new_context()
    context.add_init_script(RECORD_SYSTEM_NOTIFICATIONS)
    page = signed_in_page("nora", "acme", context=context)
    page.evaluate(f"window.pretendHidden = {'true' if hidden else 'false'}")
    job_id = start_import(page, codigo, statement)
    expect(followed(page, job_id).locator(".job-status")).to_have_text(
        "Completada", timeout=IMPORT_TIMEOUT_MS
    )
    expect(page.locator("#notices .notice")).to_have_count(1)
    return page


def test_a_job_that_ends_while_the_tab_is_in_the_background_notifies_the_system(
    signed_in_page: OpenPage, new_context: Callable[[], BrowserContext], tmp_path: Path
) -> None:
    small = tmp_path / "mayo.dkt"
    small.write_bytes(generate_bytes(300, seed=5))
    page = import_with_notifications(signed_in_page, new_context, small, "NOTIF", hidden=True)
    [shown] = page.evaluate("window.systemNotifications")
    assert shown["title"] == "Importación completa: mayo.dkt"
    assert "300 líneas importadas en el lote NOTIF" in shown["body"]


def test_a_job_that_ends_in_front_of_the_user_only_gets_the_pages_notice(
    signed_in_page: OpenPage, new_context: Callable[[], BrowserContext], tmp_path: Path
) -> None:
    small = tmp_path / "junio.dkt"
    small.write_bytes(generate_bytes(50, seed=6))
    page = import_with_notifications(signed_in_page, new_context, small, "NOTIFB", hidden=False)
    assert page.evaluate("window.systemNotifications") == []


def test_a_lote_is_exported_from_the_history_and_downloaded_from_its_card(
    signed_in_page: OpenPage, tmp_path: Path
) -> None:
    # GIVEN a completed import of 120 lines
    small = tmp_path / "julio.dkt"
    small.write_bytes(generate_bytes(120, seed=7))
    page = signed_in_page("olga", "acme")
    job_id = start_import(page, "EXPO", small)
    expect(followed(page, job_id).locator(".job-status")).to_have_text(
        "Completada", timeout=IMPORT_TIMEOUT_MS
    )
    # WHEN she exports its lote to CSV from the history
    history_row(page, job_id).get_by_role("button", name="Exportar el lote EXPO2404 a CSV").click()
    # THEN the export is followed like an import, and its file downloads from the card
    card = card_titled(page, "Exportación CSV · lote EXPO2404")
    expect(card.locator(".job-status")).to_have_text("Completada", timeout=IMPORT_TIMEOUT_MS)
    expect(page.locator("#notices")).to_contain_text("Exportación completa: lote EXPO2404")
    with page.expect_download() as download:
        card.get_by_role("button", name="Descargar").click()
    assert download.value.suggested_filename == "lote-EXPO2404.csv"
    data = Path(download.value.path()).read_bytes()
    assert data.startswith("\ufeffLínea,Fecha,Titular,Tarjeta".encode())
    assert data.count(b"\r\n") == 121  # the header and one row per line


def test_the_lotes_list_shows_totals_in_pesos_and_lines_and_deletes_with_a_confirmation(
    signed_in_page: OpenPage, tmp_path: Path, stack_url: str
) -> None:
    # GIVEN a completed import of 150 lines
    small = tmp_path / "agosto.dkt"
    small.write_bytes(generate_bytes(150, seed=8))
    page = signed_in_page("paula", "acme")
    job_id = start_import(page, "LOTES", small)
    expect(followed(page, job_id).locator(".job-status")).to_have_text(
        "Completada", timeout=IMPORT_TIMEOUT_MS
    )
    # THEN the lote is listed with its lines and its totals as a finance user writes them
    token = issue_local_token("paula", "acme")
    lote = api_get(stack_url, token, "/api/lotes/LOTES2404?limit=1")["lote"]
    row = page.locator('#lotes-body tr[data-lote-id="LOTES2404"]')
    expect(row).to_contain_text("150")
    for currency, amount in lote["totals"].items():
        whole, cents = amount.split(".")
        sign = {"ARP": "$", "USD": "US$"}[currency]
        expect(row).to_contain_text(f"{sign} {int(whole):,}".replace(",", ".") + f",{cents}")
    # ... and its lines open page by page, dates dd/mm/aaaa, card numbers masked
    row.get_by_role("button", name="Ver las líneas del lote LOTES2404").click()
    lines = page.locator("#lines-body tr")
    expect(lines).to_have_count(100)
    page.get_by_role("button", name="Ver más líneas").click()
    expect(lines).to_have_count(150)
    first = lines.first.locator("td")
    expect(first.nth(1)).to_have_text(re.compile(r"^\d{2}/\d{2}/\d{4}$"))
    expect(first.nth(3)).to_contain_text("******")
    page.locator("#lines-close").click()
    # ... it exports to CSV and to Excel, and each file holds every line and the lote's sums
    expected = {currency: Decimal(amount) for currency, amount in lote["totals"].items()}
    for file_format, name in (("csv", "CSV"), ("xlsx", "Excel")):
        row.get_by_role("button", name=f"Exportar el lote LOTES2404 a {name}").click()
        card = card_titled(page, f"Exportación {name} · lote LOTES2404")
        expect(card.locator(".job-status")).to_have_text("Completada", timeout=IMPORT_TIMEOUT_MS)
        with page.expect_download() as download:
            card.get_by_role("button", name="Descargar").click()
        assert download.value.suggested_filename == f"lote-LOTES2404.{file_format}"
        rows = exported_rows(Path(download.value.path()), file_format)
        assert len(rows) == 150, file_format
        sums: dict[str, Decimal] = {}
        for exported in rows:
            amount = Decimal(str(exported["Importe"]))
            sums[exported["Moneda"]] = sums.get(exported["Moneda"], Decimal(0)) + amount
        assert {c: round(v, 2) for c, v in sums.items()} == expected, file_format
    # WHEN she deletes it, confirming
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Eliminar el lote LOTES2404").click()
    # THEN it leaves the list at once, and the deletion is followed to its end
    expect(row).to_have_count(0)
    card = card_titled(page, "Eliminación de lote LOTES2404")
    expect(card.locator(".job-status")).to_have_text("Completada", timeout=IMPORT_TIMEOUT_MS)
    remaining = [lote["loteId"] for lote in api_get(stack_url, token, "/api/lotes")["lotes"]]
    assert "LOTES2404" not in remaining


def exported_rows(path: Path, file_format: str) -> list[dict[str, Any]]:
    """The rows of a downloaded export, by header (openpyxl reads the XLSX's cells)."""
    if file_format == "csv":
        return list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))
    sheet = openpyxl.load_workbook(io.BytesIO(path.read_bytes()), read_only=True).active
    assert sheet is not None
    header, *body = [list(cells) for cells in sheet.iter_rows(values_only=True)]
    return [dict(zip(header, cells, strict=True)) for cells in body]


def test_notices_never_pile_up_and_good_news_goes_away_by_itself(
    signed_in_page: OpenPage,
) -> None:
    page = signed_in_page("quique", "acme")
    page.clock.install()
    # WHEN five outcomes are announced at once, two of them errors
    page.evaluate(
        """async () => {
            const { showNotice } = await import("./static/notices.js");
            for (const n of [1, 2, 3, 4, 5]) {
                const kind = n % 2 ? "success" : "error";
                showNotice({ title: `Aviso ${n}`, detail: "", kind });
            }
        }"""
    )
    # THEN only the newest three are on the page
    notices = page.locator("#notices .notice")
    expect(notices).to_have_count(3)
    expect(notices.locator(".notice-title")).to_have_text(["Aviso 3", "Aviso 4", "Aviso 5"])
    # ... and 30 s later the successes are gone, the error stays until closed
    page.clock.run_for(31_000)
    expect(notices.locator(".notice-title")).to_have_text(["Aviso 4"])
    notices.get_by_role("button", name="Cerrar aviso").click()
    expect(notices).to_have_count(0)
