"""The app under a sub-path, as a department's server runs it: nginx serves it at /backprop/ with the documented
configuration (docs/nginx/backprop.conf on free ports, HTTPS with a self-signed certificate: ``tests.cluster.nginx``)
and strips the prefix before uvicorn, which runs with
``--root-path /backprop``. Through the proxy, Chromium loads the page, plays the worked example to its end (the
stream passes unbuffered), steps back, opens an instrument, reads the API documentation and trains XOR to its
end: no console error, no failed response, and no request outside /backprop/.

A screenshot at 1024×768 (a projector) is written to artifacts/screenshots/subpath.png.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Response, expect

from backprop_lens.app.cli import REDIS_URL_VARIABLE
from tests.browser.conftest import ROOT, shot_path
from tests.cluster.nginx import PREFIX, START_WITHIN, Nginx, main_config, unverified
from tests.processes import free_port, stop

pytestmark = pytest.mark.browser

STEPS = 8  # of the worked example
NGINX = "/usr/sbin/nginx"  # Debian's nginx-light
__all__ = ["NGINX", "main_config", "wait_until_served"]  # tests/browser/test_cluster_browser.py runs nginx too


def wait_until_served(url: str, procs: dict[str, subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + START_WITHIN
    while True:
        for name, proc in procs.items():
            assert proc.poll() is None, f"{name} exited with code {proc.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            assert time.monotonic() < deadline, f"{url} did not answer within {START_WITHIN} s"
            time.sleep(0.05)


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """uvicorn with --root-path behind nginx with the documented configuration; yields nginx's base URL (HTTPS,
    a self-signed certificate)."""
    app_port = free_port()
    proxy = Nginx(tmp_path_factory.mktemp("nginx"), [app_port])
    env = {name: value for name, value in os.environ.items() if name != REDIS_URL_VARIABLE}
    with ExitStack() as stack:
        app = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "backprop_lens.app.main:create_app",
             "--host", "127.0.0.1", "--port", str(app_port), "--root-path", PREFIX,
             "--forwarded-allow-ips", "127.0.0.1", "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        stack.callback(stop, app)
        proxy.start()
        stack.callback(proxy.stop)
        proxy.wait_until_served("/api/health")
        assert app.poll() is None, f"uvicorn exited with code {app.returncode}"
        yield proxy.base


def test_the_bare_prefix_redirects_to_the_page(proxied: str) -> None:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPSHandler(context=unverified()))
    with pytest.raises(urllib.error.HTTPError) as answer:
        opener.open(f"{proxied}{PREFIX}", timeout=10)
    answer.value.close()
    assert answer.value.code == 301
    assert re.fullmatch(rf"(https://127\.0\.0\.1:\d+)?{PREFIX}/", answer.value.headers["location"])


def test_play_step_instruments_docs_and_training_under_the_prefix(chromium: Browser, proxied: str) -> None:
    context = chromium.new_context(base_url=proxied, viewport={"width": 1024, "height": 768}, ignore_https_errors=True)
    context.set_default_timeout(20_000)
    page = context.new_page()
    problems: list[str] = []
    outside: list[str] = []

    def on_request(r: Request) -> None:
        if not r.url.startswith(("data:", "blob:", f"{proxied}{PREFIX}/")):
            outside.append(r.url)

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error":
            problems.append(msg.text)

    def on_response(r: Response) -> None:
        if r.status >= 400:
            problems.append(f"{r.status} {r.url}")

    page.on("request", on_request)
    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("response", on_response)
    try:
        play_step_and_instrument(page)
        read_the_api_documentation(page)
        train_xor(page)
    finally:
        context.close()
    assert outside == [], f"requests outside {PREFIX}/: {outside}"
    assert problems == [], f"console errors or failed responses: {problems}"


def play_step_and_instrument(page: Page) -> None:
    page.goto(f"{PREFIX}/")
    # The style sheet and the scripts came through the prefix: the page is laid out and htmx runs.
    assert page.evaluate("() => typeof htmx") == "object"
    assert page.eval_on_selector(".top", "el => getComputedStyle(el).display") != "inline"
    page.eval_on_selector(
        "#speed", "el => { el.value = '100'; el.dispatchEvent(new Event('input', {bubbles: true})); }"
    )
    page.click("#btn-play")
    expect(page.locator("#run")).to_have_attribute("data-step", str(STEPS - 1))
    expect(page.locator("#btn-play")).to_have_attribute("aria-pressed", "false")  # the stream ended with done
    expect(page.locator("#stream-status")).to_be_hidden()
    page.click("#btn-back")
    expect(page.locator("#run")).to_have_attribute("data-step", str(STEPS - 2))
    expect(page.locator("#step-meta")).to_have_attribute("data-step", str(STEPS - 2))
    # caret="initial": hiding the caret leaves a style attribute that the CSP (no inline style) reports.
    page.screenshot(path=str(shot_path("subpath.png")), caret="initial")
    page.click("#mark-0")  # a step's link, fetched by htmx from its hx-get
    expect(page.locator("#step-meta")).to_have_attribute("data-step", "0")
    tabs = page.locator(".instrument-tab")
    expect(tabs.first).to_be_visible()
    name = tabs.nth(1).get_attribute("data-instrument")
    assert name
    tabs.nth(1).click()
    expect(page.locator(f"#instrument-{name}")).to_be_visible()
    expect(page.locator(f"#out-{name} .result")).to_be_visible()
    permalink = page.get_attribute("#permalink", "href") or ""
    assert permalink.startswith(f"{PREFIX}/?")


def read_the_api_documentation(page: Page) -> None:
    page.click("a[href$='/docs']")
    expect(page).to_have_url(re.compile(rf"{PREFIX}/docs$"))
    expect(page.locator("#swagger-ui .info .title")).to_contain_text("backprop-lens")  # the schema was fetched


def train_xor(page: Page) -> None:
    page.goto(f"{PREFIX}/train")
    page.select_option("#f-dataset", "xor")
    page.select_option("#f-delay", "0")
    page.fill("#f-epochs", "60")
    page.click("#train-start")
    expect(page.locator("#train-state")).to_have_text("finished", timeout=60_000)
    page.wait_for_function("() => document.getElementById('train-cost-line').getAttribute('points').length > 0")
    page.click("#train-inspect-go")
    link = page.locator("#train-step-through")
    expect(link).to_be_visible()
    assert (link.get_attribute("href") or "").startswith(f"{PREFIX}/?")
