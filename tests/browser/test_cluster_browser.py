"""The training page in Chromium while the web process relaying its training is shut down (SIGTERM).

Redis, two web processes and two workers; nginx in front, with the second web process as its backup, so
that the page's stream is surely on the first one. The page trains XOR, is paused, and the first web process
is sent SIGTERM: its relay ends without a final event while the worker keeps the training. train.js opens
the stream again through nginx, which now reaches the second process, from the last event it saw; Resume
(on the second process too) lets the training finish. The page shows every epoch, and no "connection lost".
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.test_subpath import NGINX, main_config, wait_until_served
from tests.processes import RedisServer, environment, free_port, serving, start_worker, stop, stop_group

pytestmark = [pytest.mark.browser, pytest.mark.cluster]

EPOCHS = 80
WAIT_MS = 60_000  # a bound only


def site(listen: int, first: int, backup: int) -> str:
    return f"""
upstream lens {{
    server 127.0.0.1:{first};
    server 127.0.0.1:{backup} backup;
}}
server {{
    listen 127.0.0.1:{listen};
    location / {{
        proxy_pass http://lens;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $http_host;
        proxy_buffering off;
        proxy_read_timeout 60s;
    }}
}}
"""


def paused_training(page: Page, epochs: int) -> None:
    """XOR trained for ``epochs`` at 20 ms an epoch from the training page, paused once it has made progress."""
    page.goto("/train")
    page.select_option("#f-dataset", "xor")
    page.select_option("#f-delay", "20")
    page.fill("#f-epochs", str(epochs))
    page.click("#train-start")
    page.wait_for_function("() => document.getElementById('train-progress')?.value > 0")
    page.click("#train-pause")
    expect(page.locator("#train-state")).to_have_text("paused")


def finished_with_every_epoch(page: Page, epochs: int) -> None:
    """The training ends finished, its cost chart has every epoch once, in order, and no connection was given up."""
    expect(page.locator("#train-state")).to_have_text("finished")
    drawn = page.get_attribute("#train-cost-line", "data-epochs") or ""
    assert [int(e) for e in drawn.split()] == list(range(1, epochs + 1))
    assert "connection to the server was lost" not in page.inner_text("#train-run-panel")


class Proxied:
    def __init__(self, url: str, first: subprocess.Popen[bytes]) -> None:
        self.url, self.first = url, first


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[Proxied]:
    server = RedisServer()
    server.start()
    workers: list[subprocess.Popen[bytes]] = []
    try:
        with ExitStack() as stack:
            first, first_url, _ = stack.enter_context(serving("--redis", server.url, env=environment()))
            _, backup_url, _ = stack.enter_context(serving("--redis", server.url, env=environment()))
            workers += [start_worker(server.url, tmp_path / "workers.log") for _ in range(2)]
            listen = free_port()
            (tmp_path / "site.conf").write_text(
                site(listen, int(first_url.rsplit(":", 1)[1]), int(backup_url.rsplit(":", 1)[1])), encoding="utf-8"
            )
            conf = tmp_path / "nginx.conf"
            conf.write_text(main_config(tmp_path, tmp_path / "site.conf"), encoding="utf-8")
            proxy = subprocess.Popen(
                [NGINX, "-c", str(conf), "-p", str(tmp_path)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
            stack.callback(stop_group, proxy)  # nginx and its worker process
            url = f"http://127.0.0.1:{listen}"
            wait_until_served(f"{url}/api/health", {"nginx": proxy})
            yield Proxied(url, first)
    finally:
        for w in workers:
            stop(w)
        server.stop()


def test_the_page_follows_its_training_to_the_other_process_after_sigterm(
    chromium: Browser,
    proxied: Proxied,
) -> None:
    context = chromium.new_context(base_url=proxied.url, viewport={"width": 1024, "height": 768})
    context.set_default_timeout(WAIT_MS)
    try:
        page = context.new_page()
        paused_training(page, EPOCHS)  # it cannot finish before the cut

        os.kill(proxied.first.pid, signal.SIGTERM)
        proxied.first.wait(WAIT_MS / 1000)
        page.wait_for_function("() => document.getElementById('train-run-panel').dataset.resumes !== undefined")

        page.click("#train-resume")  # through nginx to the second process: the worker gets it from Redis
        finished_with_every_epoch(page, EPOCHS)
    finally:
        context.close()
