"""Fixtures for the browser tests: one live server per session, Debian's Chromium through Playwright.

``open_page`` gives a fresh page whose console errors (CSP violations, script
errors) and failed responses are collected in ``problems``; a test fails at
teardown if any are left. Screenshots go to artifacts/screenshots/, or to
$BACKPROP_LENS_SCREENSHOTS (docs/screenshots refreshes the README's).

The server is uvicorn in a subprocess on a free loopback port, polled until it
answers. The browser is launched once per session (Playwright's sync API runs
one instance per process); each test gets its own browser context.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Collection, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Response, sync_playwright

from backprop_lens.bench.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.processes import free_port, stop

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / os.environ.get("BACKPROP_LENS_SCREENSHOTS", "artifacts/screenshots")
OpenPage = Callable[..., Page]


@pytest.fixture(scope="session")
def live_server() -> Iterator[str]:
    """The app served by uvicorn on 127.0.0.1; yields its base URL."""
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "backprop_lens.app.main:create_app",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if proc.poll() is not None:
                pytest.fail(f"uvicorn exited with code {proc.returncode}")
            try:
                with urllib.request.urlopen(f"{url}/api/health", timeout=1):
                    break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.fail("the server did not answer within 15 s")
        yield url
    finally:
        stop(proc)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def shot_path(name: str) -> Path:
    """Where a screenshot called ``name`` is written."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS / name


@pytest.fixture
def problems() -> list[str]:
    """Console errors and failed responses of the test's pages; a test may remove the ones it expects."""
    return []


@pytest.fixture
def open_page(chromium: Browser, live_server: str, problems: list[str]) -> Iterator[OpenPage]:
    """A factory of watched pages on the live server: ``open_page(width=1280, height=900, expected=())``.

    ``expected`` lists HTTP statuses that are the page's normal answer (a 422 to a form mistake).
    """
    contexts = []

    def make(width: int = 1280, height: int = 900, expected: Collection[int] = ()) -> Page:
        context = chromium.new_context(base_url=live_server, viewport={"width": width, "height": height})
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()

        def on_console(msg: ConsoleMessage) -> None:
            if msg.type == "error" and not any(f"status of {code}" in msg.text for code in expected):
                problems.append(msg.text)

        def on_response(r: Response) -> None:
            if r.status >= 400 and r.status not in expected:
                problems.append(f"{r.status} {r.url}")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        page.on("response", on_response)
        return page

    yield make
    for context in contexts:
        context.close()
    assert problems == [], f"console errors (CSP violations, script errors) or failed requests: {problems}"
