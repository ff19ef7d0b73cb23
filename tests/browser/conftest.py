"""The local stack in a subprocess and headless Chromium from the system packages.

Playwright drives Debian's /usr/bin/chromium: it never downloads a browser.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from local_stack import running_stack
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from localdev.dktgen import generate_bytes
from localdev.tokens import issue_local_token

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
# Each worker invocation gets this budget (2 s of it kept in reserve), so an 18,000-line
# import spans several invocations and several 2 s polls of the page.
WORKER_BUDGET_MS = 8000


# What the stack printed, shown under a failing test: its pump's deliveries, the workers'
# log lines, the sweeps. A job the page shows stuck is then stuck here too, or not.
STACK_LOG_KEY = pytest.StashKey[Path]()
STACK_LOG_TAIL = 200


@pytest.fixture(scope="module")
def stack_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    log = tmp_path_factory.mktemp("stack") / "stack.log"
    request.config.stash[STACK_LOG_KEY] = log
    with running_stack(WORKER_BUDGET_MS, log=log) as url:
        yield url


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    log = item.config.stash.get(STACK_LOG_KEY, None)
    if report.failed and log is not None and log.exists():
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-STACK_LOG_TAIL:]
        report.sections.append((f"local stack log, last {len(tail)} lines", "\n".join(tail)))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs Debian's Chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_context(browser: Browser) -> Iterator[Callable[[], BrowserContext]]:
    """Fresh browser profiles (own localStorage and sessionStorage), closed after the test."""
    contexts: list[BrowserContext] = []

    def make() -> BrowserContext:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="es-AR")
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def signed_in_page(
    stack_url: str, new_context: Callable[[], BrowserContext]
) -> Callable[..., Page]:
    """A page of the import UI, signed in as `user` of `tenant` with a pasted dev token; in a
    fresh browser profile, or as another tab of `context`."""

    def open_page(
        user: str, tenant: str, token: str | None = None, context: BrowserContext | None = None
    ) -> Page:
        page = (context or new_context()).new_page()
        page.goto(f"{stack_url}/")
        page.get_by_label("Token de acceso").fill(token or issue_local_token(user, tenant))
        page.get_by_role("button", name="Ingresar").click()
        expect(page.get_by_role("heading", name="Nueva importación")).to_be_visible()
        expect(page.get_by_role("button", name="Salir")).to_be_visible()
        return page

    return open_page


_STATEMENT_SEEDS = itertools.count(1)


@pytest.fixture
def statement(tmp_path: Path) -> Path:
    """An ordinary 18,000-line statement, as a user would pick it: another one for every
    test (the service refuses a file already imported into one of the tenant's lotes)."""
    path = tmp_path / "abril.dkt"
    path.write_bytes(generate_bytes(18_000, seed=next(_STATEMENT_SEEDS)))
    return path
