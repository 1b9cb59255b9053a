"""Restarting each web process in turn behind nginx with the documented configuration: a following class sees no 502.

Redis, two ``backprop-lens serve`` processes (``--redis``, ``--root-path /backprop``) and nginx with
docs/nginx/backprop.conf (its ports and certificate swapped, ``tests.cluster.nginx``) run for real. A lecturer
shares and steps through nginx while 30 followers hold their follow streams through it and, like follow.js,
open them again at once when one ends. Each web process in turn gets SIGTERM, exits and is started again on
its port. Every answer through nginx is counted by status: none is a 5xx, every follower has the lecturer's
last step at the end, and both restarted processes hold followers again (``max_fails=0``: a restarted
process is back in the rotation at once; nginx's default kept it out while its probe stream lasted).

Also: nginx's own error answers carry the app's security headers, HSTS and no nginx version, and plain HTTP
is redirected to HTTPS.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.cluster.nginx import PREFIX, Nginx
from tests.processes import RedisServer, free_port, serving

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

FOLLOWERS = 30
WITHIN = 60.0  # a bound only: what a broken setup reaches
SERVE = ("--root-path", PREFIX, "--forwarded-allow-ips", "127.0.0.1", "--graceful-timeout", "2")
# The app's security headers (app/core/middleware.py SECURITY_HEADERS) that nginx's own answers must carry too.
SECURITY = ("content-security-policy", "x-content-type-options", "referrer-policy", "x-frame-options")


class Tally:
    """Statuses of every answer through nginx, and the newest state each follower has read."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statuses: Counter[int] = Counter()
        self.errors: list[str] = []
        self.newest = [0] * FOLLOWERS
        self.streams_opened = 0

    def count(self, status: int) -> None:
        with self.lock:
            self.statuses[status] += 1

    def error(self, text: str) -> None:
        with self.lock:
            self.errors.append(text)


def follow(client: httpx.Client, url: str, n: int, tally: Tally, stop: threading.Event) -> None:
    """One student's follow stream, opened again at once each time it ends, as follow.js does."""
    last_id: str | None = None
    while not stop.is_set():
        headers = {"Accept": "text/event-stream", **({"Last-Event-ID": last_id} if last_id else {})}
        try:
            with client.stream("GET", url, headers=headers) as r:
                tally.count(r.status_code)
                if r.status_code != 200:
                    tally.error(f"follower {n}: {r.status_code} {r.read()[:200]!r}")
                    time.sleep(0.1)
                    continue
                with tally.lock:
                    tally.streams_opened += 1
                name = ""
                for line in r.iter_lines():
                    if line.startswith("event:"):
                        name = line[6:].strip()
                    elif line.startswith("id:"):
                        last_id = line[3:].strip()
                    elif line.startswith("data:") and name == "state":
                        tally.newest[n] = max(tally.newest[n], int(json.loads(line[5:])["seq"]))
                    if stop.is_set():
                        return
        except httpx.HTTPError as exc:
            # A stream cut by the restarting process (not a status from nginx): follow.js opens it again too.
            if not isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
                tally.error(f"follower {n}: {exc!r}")
            time.sleep(0.1)


def answered(port: int) -> float:
    """2xx answers the process on ``port`` has sent, read from its own /metrics (not through nginx)."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith('backprop_lens_responses_total{status_class="2xx"}'))  # fmt: skip


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()


def test_restarting_each_web_process_under_a_following_class_gives_no_502(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    ports = [free_port(), free_port()]
    options = ("--redis", redis_server.url, *SERVE)
    with ExitStack() as stack:
        procs = [stack.enter_context(serving(*options, port=port))[0] for port in ports]
        proxy = Nginx(tmp_path, ports)
        proxy.start()
        stack.callback(proxy.stop)
        proxy.wait_until_served("/api/health")
        base = f"{proxy.base}{PREFIX}"
        client = stack.enter_context(
            httpx.Client(verify=False, timeout=httpx.Timeout(10.0, read=30.0), trust_env=False,
                         limits=httpx.Limits(max_connections=FOLLOWERS + 8))
        )  # fmt: skip
        page = client.get(f"{base}/")
        assert page.status_code == 200
        run_id = page.text.split('data-run-id="', 1)[1].split('"', 1)[0]
        shared = client.post(f"{base}/sessions", data={"run_id": run_id, "step": "0"})
        assert shared.status_code == 201, shared.text
        session = shared.json()
        origin = proxy.base
        assert session["events_url"].startswith(f"{PREFIX}/sessions/")

        tally, stop = Tally(), threading.Event()
        followers = [threading.Thread(target=follow, args=(client, origin + session["events_url"], n, tally, stop),
                                      daemon=True) for n in range(FOLLOWERS)]  # fmt: skip
        for thread in followers:
            thread.start()
        stack.callback(stop.set)
        seq, steps = [1], [0]

        def step() -> None:
            steps[0] += 1
            r = client.post(origin + session["state_url"], json={"run_id": run_id, "step": steps[0] % 8},
                            headers={"X-Lecturer-Token": session["token"]})  # fmt: skip
            tally.count(r.status_code)
            if r.status_code != 200:
                tally.error(f"lecturer: {r.status_code} {r.text[:200]}")
            if r.status_code == 200:
                seq[0] = max(seq[0], int(r.json()["seq"]))

        def wait_until(test: Callable[[], bool], what: str) -> None:
            deadline = time.monotonic() + WITHIN
            while not test():
                assert time.monotonic() < deadline, f"not {what} within {WITHIN} s: {tally.statuses} {tally.errors[:5]}"
                step()  # the lecturer keeps stepping meanwhile
                time.sleep(0.1)

        wait_until(lambda: min(tally.newest) >= 1, "every follower has the session")
        for i, port in enumerate(ports):
            proc, opened = procs[i], tally.streams_opened
            proc.send_signal(signal.SIGTERM)

            # The process's followers come back through nginx, to the other process, while this one is down.
            def back(proc: subprocess.Popen[bytes] = proc, opened: int = opened) -> bool:
                return proc.poll() is not None and tally.streams_opened > opened

            wait_until(back, "reconnected")
            assert proc.returncode in (0, -signal.SIGTERM), proc.returncode  # uvicorn re-raises SIGTERM
            procs[i] = stack.enter_context(serving(*options, port=port))[0]
        # Both restarted processes are in the rotation: ten requests through nginx reach each (its /metrics read
        # counts one more).
        before = [answered(port) for port in ports]
        for _ in range(10):
            assert client.get(f"{base}/api/health").status_code == 200
        assert all(answered(port) - b >= 4 for port, b in zip(ports, before, strict=True))
        step()
        last = seq[0]
        wait_until(lambda: min(tally.newest) >= last, "every follower has the last step")
        stop.set()
        for thread in followers:
            thread.join(WITHIN)

        assert tally.errors == []
        assert not [s for s in tally.statuses if s >= 500], tally.statuses
        assert set(tally.statuses) == {200}, tally.statuses
        assert tally.streams_opened > FOLLOWERS  # the restarts' followers opened their streams again

        # nginx's own answers: with the app's security headers, HSTS, and no version.
        for proc in procs:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(WITHIN)
        down = client.get(f"{base}/")
        assert down.status_code == 502, down.status_code
        assert "restarting" in down.text and down.headers["retry-after"] == "5"
        assert all(name in down.headers for name in SECURITY), down.headers
        assert down.headers["strict-transport-security"] == "max-age=31536000"
        assert down.headers["server"] == "nginx"
        plain = client.get(f"http://127.0.0.1:{proxy.http}{PREFIX}/", follow_redirects=False)
        assert plain.status_code == 301 and plain.headers["location"].startswith("https://127.0.0.1/backprop/")
