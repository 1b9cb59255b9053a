"""The training page in Chromium through a Redis outage: Redis stopped, then started again with what it held.

One web process, one worker, Redis with an append-only file (a restart keeps its data, as `appendonly yes` in
docs/deploy.md). While Redis is down a page that needs it is a 503 page in words, the training page keeps trying
(``data-resumes``), and the worker lets its training go. Once Redis is back, the page's stream opens again from
the last event it saw, the relay finds the worker's lease expired and hands the training over (the worker takes
it back from its checkpoint), and it finishes with every epoch drawn once, and no "connection lost".
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.test_cluster_browser import finished_with_every_epoch, paused_training
from tests.processes import RedisServer, environment, serving, start_worker, stop

pytestmark = [pytest.mark.browser, pytest.mark.cluster]

EPOCHS = 60
LEASE = "2"  # seconds: a worker that lost Redis is taken for gone soon after it is back
WAIT_MS = 60_000  # a bound only


@dataclass
class Deployment:
    redis: RedisServer
    url: str


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    server = RedisServer(persist=tmp_path)
    server.start()
    env = environment(BACKPROP_LENS_TRAINING_LEASE_SECONDS=LEASE)
    worker: subprocess.Popen[bytes] | None = None
    try:
        with serving("--redis", server.url, env=env) as (_, url, _):
            worker = start_worker(server.url, tmp_path / "worker.log", env)
            yield Deployment(server, url)
    finally:
        if worker is not None:
            stop(worker)
        server.stop()


def test_the_training_page_rides_out_a_redis_outage(chromium: Browser, deployment: Deployment) -> None:
    context = chromium.new_context(base_url=deployment.url, viewport={"width": 1024, "height": 768})
    context.set_default_timeout(WAIT_MS)
    try:
        page = context.new_page()
        paused_training(page, EPOCHS)  # it cannot finish during the outage

        deployment.redis.stop()
        page.wait_for_function("() => document.getElementById('train-run-panel').dataset.resumes !== undefined")
        other = context.new_page()
        response = other.goto("/runs/a-run-kept-in-redis-only")
        assert response is not None and response.status == 503
        assert "Redis is unavailable" in other.inner_text("body")
        expect(other.locator("#unavailable")).to_be_visible()
        other.close()
        time.sleep(float(LEASE))  # an outage longer than the worker's lease: the training must be handed over

        deployment.redis.start()
        page.click("#train-resume")  # the stream opens again from its last event; the worker resumes it
        finished_with_every_epoch(page, EPOCHS)
    finally:
        context.close()
