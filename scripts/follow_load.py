"""Load test of "Follow the lecturer": F students follow one class session while the lecturer steps.

    python scripts/follow_load.py --followers 300 --changes 40
    python scripts/follow_load.py --followers 300 --changes 40 --redis   # two web processes sharing Redis
    python scripts/follow_load.py --followers 300 --url https://your.server/backprop   # a running deployment

Starts the servers on free loopback ports (one ``backprop-lens serve``; with ``--redis`` a throwaway
``redis-server`` and two web processes, the followers split between them and the lecturer on the first),
shares the worked example (``POST /sessions``), opens F follow streams (``GET /sessions/{code}/events``,
httpx, one connection each, as F browsers would) and waits until each has the session's current state.
Then the lecturer changes the step C times, ``--interval`` seconds apart (``POST /sessions/{code}/state``
with the lecturer's token, as follow.js does on each step). For each change it measures the time from the
moment the lecturer's request is sent to the moment the last follower has read the change's event, and
reports its p50, p99 and maximum over the changes, with the p50 and p99 of every follower's own delay.
Every follower must see every change's event or a newer one (a slow reader skips to the newest state by
design); the run fails on any error or any change not delivered.

``--url URL`` (repeatable: the followers split between them, the lecturer on the first) drives a deployment
already running instead, nothing started: the URL the app is served at, its root path included once
(``https://host/backprop``); the session's URLs come from the server, which writes the root path itself.
``--insecure`` accepts a self-signed certificate. Behind nginx with the documented configuration, the
followers of one client address are bounded by its ``limit_conn`` (600 streams), and by the app's
``BACKPROP_LENS_MAX_FOLLOW_STREAMS_PER_CLIENT`` (every follower here is one address): raise it there for a load
test. The servers started here get it, and ``BACKPROP_LENS_MAX_FOLLOWERS``, raised to F.

``--lecturer-key-file PATH`` shares with the lecturer key in that file (its first line; a file keeps it out of
``ps``), as a deployment with ``BACKPROP_LENS_LECTURER_KEY`` set requires; the servers started here are then
started with that key, so sharing without it would be a 401.

Bounded in count and time; without ``--url`` only 127.0.0.1 is contacted; every process started is stopped
by its PID.
The client shares the machine with the servers: on a small machine its own reading adds to the delays.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from load import Setup, deployment, free_port, wait_for  # scripts/load.py: the same processes, started alike

STEPS = 8  # the worked example's steps


def start_servers(setup: Setup, redis: bool) -> list[str]:
    """One web process, or Redis and two web processes sharing it (no workers: no training here): their URLs."""
    redis_url = setup.redis() if redis else None
    ports = [free_port() for _ in range(2 if redis else 1)]
    urls = [setup.web(port, redis_url) for port in ports]
    for port, proc in zip(ports, setup.procs[-len(ports) :], strict=True):
        wait_for(port, proc, "/api/health")
    return urls


@dataclass
class Report:
    servers: list[str] = field(default_factory=list)
    followers: int = 0
    changes: int = 0
    interval_s: float = 0.0
    timed_from: str = ""
    connect_s: float = 0.0
    errors: list[str] = field(default_factory=list)
    undelivered: int = 0
    last_follower_ms: dict[str, float] = field(default_factory=dict)
    every_follower_ms: dict[str, float] = field(default_factory=dict)


class Follower:
    """One student's stream: when each change's event (by its seq) was read."""

    def __init__(self) -> None:
        self.seen: dict[int, float] = {}
        self.newest = 0
        self.changed = asyncio.Event()

    def saw(self, seq: int, at: float) -> None:
        self.seen.setdefault(seq, at)
        self.newest = max(self.newest, seq)
        self.changed.set()

    def when(self, seq: int) -> float | None:
        """When the follower first had ``seq`` or a newer state (a newer one covers a skipped change)."""
        times = [t for s, t in self.seen.items() if s >= seq]
        return min(times) if times else None


async def follow(client: httpx.AsyncClient, url: str, follower: Follower, errors: list[str]) -> None:
    try:
        async with client.stream("GET", url, headers={"Accept": "text/event-stream"}) as r:
            if r.status_code != 200:
                errors.append(f"{url}: {r.status_code} {(await r.aread())[:200]!r}")
                return
            name = ""
            async for line in r.aiter_lines():
                if line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:") and name == "state":
                    follower.saw(int(json.loads(line[5:])["seq"]), time.perf_counter())
                elif line == "":
                    name = ""
    except httpx.HTTPError as e:
        errors.append(f"{url}: {type(e).__name__}")


def origin(url: str) -> str:
    """``url`` without its path: where the server's own URLs (which carry the root path) are resolved."""
    return str(httpx.URL(url).copy_with(path="/")).rstrip("/")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


class HttpLecturer:
    """The lecturer as follow.js acts: ``POST …/state`` with the token; a change is timed from the request."""

    def __init__(self, client: httpx.AsyncClient, url: str, key: str | None = None) -> None:
        self.client, self.url, self.key = client, url, key
        self.session: dict[str, str] = {}
        self.run_id = ""

    async def share(self) -> str:
        found = re.search(r'data-run-id="([^"]+)"', (await self.client.get(f"{self.url}/")).text)
        if not found:
            raise RuntimeError("the page has no run")
        self.run_id = found.group(1)
        headers = {"X-Lecturer-Key": self.key} if self.key else {}
        r = await self.client.post(f"{self.url}/sessions", data={"run_id": self.run_id, "step": "0"}, headers=headers)
        if r.status_code != 201:
            raise RuntimeError(f"share: {r.status_code} {r.text[:200]}")
        self.session = r.json()
        return self.session["code"]

    async def change(self, n: int) -> tuple[float, int]:
        """Step n: when it was asked for, and the seq of its event."""
        body = {"run_id": self.run_id, "step": (n + 1) % STEPS}
        sent = time.perf_counter()
        headers = {"X-Lecturer-Token": self.session["token"]}
        r = await self.client.post(f"{origin(self.url)}{self.session['state_url']}", json=body, headers=headers)
        if r.status_code != 200:
            raise RuntimeError(f"state: {r.status_code} {r.text[:200]}")
        return sent, int(r.json()["seq"])

    async def stop(self) -> None:
        headers = {"X-Lecturer-Token": self.session["token"]}
        await self.client.delete(f"{self.url}/sessions/{self.session['code']}", headers=headers)

    async def close(self) -> None:
        pass


class BrowserLecturer:
    """The lecturer in Chromium: a key press on the step-through page; a change is timed from the key press.

    Between the key press and the follower's event: the lecturer's own step request and swap, lens.js's
    "lens:step", follow.js's POST, and the fan-out.
    """

    CHROMIUM = "/usr/bin/chromium"

    KEY_ITEM = "backprop-lens:lecturer-key"  # follow.js keeps the key the page asked for here

    def __init__(self, url: str, verify: bool = True, key: str | None = None) -> None:
        self.url = url
        self.verify = verify
        self.key = key
        self.seq = 1
        self._playwright: Any = None
        self._browser: Any = None
        self.page: Any = None

    async def share(self) -> str:
        from playwright.async_api import async_playwright  # only this mode needs Playwright

        self._playwright = await async_playwright().start()
        self._browser = await self._playwright.chromium.launch(
            executable_path=self.CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        self.page = await self._browser.new_page(
            viewport={"width": 1024, "height": 768}, ignore_https_errors=not self.verify
        )
        if self.key:  # as if typed into the page's key form once: in the tab's sessionStorage
            await self.page.add_init_script(
                f"sessionStorage.setItem({json.dumps(self.KEY_ITEM)}, {json.dumps(self.key)})"
            )
        await self.page.goto(f"{self.url}/")
        await self.page.click("#btn-share")
        await self.page.wait_for_selector("#share-card[data-code]")
        return str(await self.page.get_attribute("#share-card", "data-code"))

    async def change(self, n: int) -> tuple[float, int]:
        key = "Home" if (n + 1) % STEPS == 0 else "ArrowRight"
        sent = time.perf_counter()
        await self.page.keyboard.press(key)
        self.seq += 1
        return sent, self.seq

    async def stop(self) -> None:
        await self.page.click("#btn-stop-share")

    async def close(self) -> None:
        if self._browser is not None:
            await self._browser.close()
        if self._playwright is not None:
            await self._playwright.stop()


async def run(
    urls: list[str],
    followers: int,
    changes: int,
    interval: float,
    browser: bool = False,
    verify: bool = True,
    key: str | None = None,
) -> Report:
    report = Report(servers=urls, followers=followers, changes=changes, interval_s=interval,
                    timed_from="the lecturer's key press" if browser else "the lecturer's POST …/state")  # fmt: skip
    last: list[float] = []
    every: list[float] = []
    limits = httpx.Limits(max_connections=followers + 10, max_keepalive_connections=followers + 10)
    timeout = httpx.Timeout(30.0, read=None)
    async with httpx.AsyncClient(limits=limits, timeout=timeout, trust_env=False, verify=verify) as client:
        lecturer: HttpLecturer | BrowserLecturer = (
            BrowserLecturer(urls[0], verify, key) if browser else HttpLecturer(client, urls[0], key)
        )
        try:
            try:
                code = await lecturer.share()
            except RuntimeError as e:
                report.errors.append(str(e))
                return report
            flock = [Follower() for _ in range(followers)]
            started = time.perf_counter()
            tasks = [
                asyncio.create_task(follow(client, f"{urls[i % len(urls)]}/sessions/{code}/events", f, report.errors))
                for i, f in enumerate(flock)
            ]
            while any(f.newest < 1 for f in flock) and not report.errors:
                await asyncio.sleep(0.05)
                if time.perf_counter() - started > 60:
                    report.errors.append("not every follower had the first state within 60 s")
            report.connect_s = round(time.perf_counter() - started, 3)
            for n in range(changes):
                if report.errors:
                    break
                await asyncio.sleep(interval)
                try:
                    sent, seq = await lecturer.change(n)
                except RuntimeError as e:
                    report.errors.append(str(e))
                    break
                deadline = sent + 10
                while any(f.newest < seq for f in flock) and time.perf_counter() < deadline:
                    await asyncio.sleep(0.002)
                delays = [at - sent for f in flock if (at := f.when(seq)) is not None]
                report.undelivered += followers - len(delays)
                if delays:
                    last.append(max(delays))
                    every.extend(delays)
            await lecturer.stop()
            await asyncio.wait(tasks, timeout=10)
            for task in tasks:
                task.cancel()
        finally:
            await lecturer.close()
    if last:
        report.last_follower_ms = {k: round(v * 1000, 1) for k, v in
                                   (("p50", statistics.median(last)), ("p99", percentile(last, 0.99)),
                                    ("max", max(last)))}  # fmt: skip
        report.every_follower_ms = {k: round(v * 1000, 1) for k, v in
                                    (("p50", statistics.median(every)), ("p99", percentile(every, 0.99)))}  # fmt: skip
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--followers", type=int, default=300, help="students following the session (300)")
    parser.add_argument("--changes", type=int, default=40, help="the lecturer's steps (40)")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between the lecturer's steps (0.5)")
    parser.add_argument("--redis", action="store_true", help="Redis and two web processes instead of one process")
    parser.add_argument(
        "--url", type=deployment, action="append",
        help="a running app, its root path included (https://host/backprop); repeat: followers split between them",
    )  # fmt: skip
    parser.add_argument("--insecure", action="store_true", help="accept the --url's certificate unchecked")
    parser.add_argument(
        "--browser",
        action="store_true",
        help="the lecturer in Chromium, timed from the key press (needs /usr/bin/chromium)",
    )
    parser.add_argument("--lecturer-key-file", type=Path, help="share with the lecturer key in this file")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    if not (1 <= args.followers <= 2000 and 1 <= args.changes <= 1000 and 0 <= args.interval <= 10):
        parser.error("bounds: followers 1..2000, changes 1..1000, interval 0..10")
    if args.url and args.redis:
        parser.error("--url drives running servers; --redis starts its own")
    key = None
    if args.lecturer_key_file:
        try:
            key = args.lecturer_key_file.read_text(encoding="utf-8").splitlines()[0].strip()
        except (OSError, IndexError) as e:
            parser.error(f"--lecturer-key-file: cannot read a key from {args.lecturer_key_file}: {e}")
    many = str(max(args.followers, 1))
    env = {"BACKPROP_LENS_MAX_FOLLOW_STREAMS_PER_CLIENT": many, "BACKPROP_LENS_MAX_FOLLOWERS": many}
    setup = Setup(env | ({"BACKPROP_LENS_LECTURER_KEY": key} if key else {}))
    try:
        urls = args.url or start_servers(setup, args.redis)
        shape = (args.followers, args.changes, args.interval, args.browser)
        report = asyncio.run(run(urls, *shape, verify=not args.insecure, key=key))
    finally:
        setup.stop()
    text = json.dumps(asdict(report), indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 1 if report.errors or report.undelivered else 0


if __name__ == "__main__":
    sys.exit(main())
