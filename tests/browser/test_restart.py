"""A server restart while the page plays: the stream ends with done {"reason": "restarting"}, and the page
opens it again on the next server to answer, from the step it shows: every step is shown once, in order.

The worked example's run has the same id in every process, so a second server, started on the same port
after the first has exited, can go on with it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, expect

from backprop_lens.app.cli import REDIS_URL_VARIABLE
from tests.browser.conftest import ROOT
from tests.processes import free_port

pytestmark = pytest.mark.browser

STEPS = 8  # of the worked example
WAIT_MS = 60_000  # a bound only: the second server's start, a few retries and the steps left at 1 s each


@contextmanager
def serving(port: int) -> Iterator[subprocess.Popen[bytes]]:
    """``backprop-lens serve`` on ``port`` (state in memory) until it exits or the block ends."""
    env = {name: value for name, value in os.environ.items() if name != REDIS_URL_VARIABLE}
    proc = subprocess.Popen(
        [sys.executable, "-m", "backprop_lens.app.cli", "serve", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"the server exited with code {proc.returncode}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=5):
                    break
            except OSError:
                assert time.monotonic() < deadline, "the server did not answer within 60 s"
                time.sleep(0.05)
        yield proc
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)


def test_the_page_resumes_where_it_was_when_the_server_restarts(chromium: Browser) -> None:
    port = free_port()
    context = chromium.new_context(base_url=f"http://127.0.0.1:{port}", viewport={"width": 1280, "height": 800})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    streams: list[str] = []
    page.on("request", lambda r: streams.append(r.url) if "/stream" in r.url else None)
    try:
        with serving(port) as first:
            page.goto("/")
            page.evaluate(
                "() => { window.shown = []; document.addEventListener('lens:step', (e) => shown.push(e.detail.step)); }"
            )
            page.eval_on_selector(
                "#speed", "el => { el.value = '1000'; el.dispatchEvent(new Event('input', {bubbles: true})); }"
            )
            page.click("#btn-play")
            expect(page.locator("#run")).to_have_attribute("data-step", "2", timeout=WAIT_MS)
            os.kill(first.pid, signal.SIGTERM)
            first.wait(30)
            at_restart = int(page.get_attribute("#run", "data-step") or -1)
        assert 2 <= at_restart < STEPS - 1
        with serving(port):
            expect(page.locator("#run")).to_have_attribute("data-step", str(STEPS - 1), timeout=WAIT_MS)
            expect(page.locator("#stream-status")).to_be_hidden()  # no "interrupted" notice
            shown = page.evaluate("() => window.shown")
    finally:
        context.close()
    assert shown == list(range(1, STEPS))  # every step once, in order: none lost, none replayed
    starts = [int(parse_qs(urlsplit(url).query)["from"][0]) for url in streams]
    assert starts[0] == 1 and starts[-1] == at_restart + 1 and len(starts) >= 2  # resumed after the step shown
    assert errors == []
