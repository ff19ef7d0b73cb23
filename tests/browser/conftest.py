"""The local stack in a subprocess and headless Chromium from the system packages.

Playwright drives Debian's /usr/bin/chromium: it never downloads a browser.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest
from environment import TEST_ENV
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from localdev.dktgen import generate_bytes
from localdev.tokens import issue_local_token

ROOT = Path(__file__).resolve().parents[2]
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env() -> dict[str, str]:
    """The user's environment, without what the test session set for moto in-process."""
    return {k: v for k, v in os.environ.items() if k not in TEST_ENV}


def _drain(stream: IO[str]) -> None:
    for _line in stream:
        pass


@pytest.fixture(scope="module")
def stack_url() -> Iterator[str]:
    api_port, aws_port = free_port(), free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "localdev.stack",
            "--api-port",
            str(api_port),
            "--aws-port",
            str(aws_port),
            "--budget-ms",
            str(WORKER_BUDGET_MS),
        ],
        cwd=ROOT,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    banner = []
    for line in process.stdout:
        banner.append(line)
        if "Ctrl-C to stop" in line or time.monotonic() > deadline:
            break
    assert any(f"http://127.0.0.1:{api_port}" in line for line in banner), "".join(banner)
    # Keep reading what the stack prints, so a full pipe can never block it.
    threading.Thread(target=_drain, args=(process.stdout,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{api_port}"
    finally:
        process.terminate()
        process.wait(timeout=20)


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


@pytest.fixture(scope="module")
def statement(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ordinary 18,000-line statement, as a user would pick it."""
    path = tmp_path_factory.mktemp("dkt") / "abril.dkt"
    path.write_bytes(generate_bytes(18_000, seed=1))
    return path
