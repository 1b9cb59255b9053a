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

``--answers`` adds a question after the steps (the HTTP lecturer only): the lecturer steps to BP2 and asks for δ²₁
(``POST …/questions``); every student answers once within ``--answer-seconds`` (10), each on its own process in
turn, at evenly spread moments, as people type numbers (a decimal comma, U+2212, ×10⁻ⁿ); a tenth of them first send
a wrong number and change it later, through the other process. Meanwhile the lecturer reads the count as its page
does (``GET …/glance?question=n`` every 0.5 s, on the first process). It reports each answer's latency, how far the
lecturer's count was behind each answer (from the answer's acceptance to the first count that includes it: its p50,
p99 and maximum), and when every follower had heard the question. Then the lecturer reveals, and the results (``GET
…/questions/n/results``) must count every student exactly once: the answers, the right ones and each usual
mistake's bin equal what the students last sent, worked out here by hand (δ²₁ of the worked example).

Bounded in count and time; without ``--url`` only 127.0.0.1 is contacted; every process started is stopped
by its PID.
The client shares the machine with the servers: on a small machine its own reading adds to the delays.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
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
    answering: dict[str, Any] = field(default_factory=dict)


class Follower:
    """One student's stream: when each change's event (by its seq) was read."""

    def __init__(self) -> None:
        self.seen: dict[int, float] = {}
        self.newest = 0
        self.changed = asyncio.Event()
        self.questions: dict[int, float] = {}  # question n → when this follower first heard it asked

    def saw(self, seq: int, at: float, question: dict[str, Any] | None = None) -> None:
        self.seen.setdefault(seq, at)
        self.newest = max(self.newest, seq)
        self.changed.set()
        if question:
            self.questions.setdefault(int(question["n"]), at)

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
                    state = json.loads(line[5:])
                    follower.saw(int(state["seq"]), time.perf_counter(), state.get("question"))
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

    async def goto(self, step: int) -> None:
        body = {"run_id": self.run_id, "step": step}
        headers = {"X-Lecturer-Token": self.session["token"]}
        r = await self.client.post(f"{origin(self.url)}{self.session['state_url']}", json=body, headers=headers)
        if r.status_code != 200:
            raise RuntimeError(f"state: {r.status_code} {r.text[:200]}")

    async def lecturer(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A lecturer's request on a path of the session's (``/questions``, ``/glance`` …)."""
        headers = {"X-Lecturer-Token": self.session["token"]}
        return await self.client.request(method, f"{self.url}/sessions/{self.session['code']}{path}",
                                         headers=headers, **kwargs)  # fmt: skip

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


QUESTION_STEP, QUESTION_KEY = 4, "delta-2-1"  # the worked example's BP2 at layer 2: δ²₁
COUNT_EVERY_S = 0.5  # static/js/ask.js's COUNT_MS: how often the lecturer's page reads the count


def by_hand() -> dict[str, float]:
    """δ²₁ of the worked example (Mazur's 2-2-2, sigmoid, quadratic) and two usual mistakes on it, worked out here
    from its weights, x and y alone: what the students send, and what the results must count."""
    w2, b2, w3, b3 = [[0.15, 0.2], [0.25, 0.3]], [0.35, 0.35], [[0.4, 0.45], [0.5, 0.55]], [0.6, 0.6]
    x, y = [0.05, 0.1], [0.01, 0.99]

    def s(z: float) -> float:
        return 1 / (1 + math.exp(-z))

    a2 = [s(sum(w2[j][k] * x[k] for k in range(2)) + b2[j]) for j in range(2)]
    a3 = [s(sum(w3[j][k] * a2[k] for k in range(2)) + b3[j]) for j in range(2)]
    d3 = [(a3[j] - y[j]) * a3[j] * (1 - a3[j]) for j in range(2)]
    sp = a2[0] * (1 - a2[0])
    back = w3[0][0] * d3[0] + w3[1][0] * d3[1]
    return {
        "right": back * sp,
        "σ′(z²₁) left out": back,
        "w³ not transposed": (w3[0][0] * d3[0] + w3[0][1] * d3[1]) * sp,
    }


def typed(v: float, i: int) -> str:
    """``v`` as the i-th student types it: a decimal point, a decimal comma with U+2212, or ×10⁻ⁿ."""
    if i % 3 == 1:
        return f"{v:.5g}".replace(".", ",").replace("-", "\u2212")
    if i % 3 == 2:
        mantissa, exponent = f"{v:.4e}".split("e")
        return mantissa + "×10" + str(int(exponent)).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))
    return f"{v:.5g}"


def plan(students: int) -> list[tuple[str, str | None]]:
    """What each student sends last (a bin: "right", a mistake's, "other") and, for a tenth, what they send first."""
    out: list[tuple[str, str | None]] = []
    for i in range(students):
        last = ("right",) * 6 + ("σ′(z²₁) left out",) * 2 + ("w³ not transposed", "other")
        out.append((last[i % 10], "other" if i % 10 == 3 else None))
    return out


async def answering(
    client: httpx.AsyncClient, urls: list[str], lecturer: HttpLecturer, flock: list[Follower], seconds: float
) -> dict[str, Any]:
    """The question, the students' answers within ``seconds``, the lecturer's count read as its page reads it, the
    reveal and the results checked against what was sent; the figures, and ``errors`` (empty when all is well)."""
    errors: list[str] = []
    hand = by_hand()
    await lecturer.goto(QUESTION_STEP)
    body = {"run_id": lecturer.run_id, "step": QUESTION_STEP, "key": QUESTION_KEY}
    asked_at = time.perf_counter()
    r = await lecturer.lecturer("POST", "/questions", json=body)
    if r.status_code != 201:
        return {"errors": [f"ask: {r.status_code} {r.text[:200]}"]}
    n = int(r.json()["n"])
    code = lecturer.session["code"]
    students = len(flock)
    wanted = plan(students)
    value_of = {"other": 0.5, **hand}
    accepted: list[float] = []  # when each student's first answer was accepted
    latency: list[float] = []
    counts: list[tuple[float, int]] = []  # (when the lecturer's page had the count, the count)
    done = asyncio.Event()

    async def send(i: int, bin_: str, at: float, process: int) -> None:
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        url = f"{urls[process % len(urls)]}/sessions/{code}/questions/{n}/answers"
        headers = {"X-Student": f"load-student-{i:05d}"}
        sent = time.perf_counter()
        try:
            reply = await client.post(url, json={"answer": typed(value_of[bin_], i)}, headers=headers)
        except httpx.HTTPError as e:
            errors.append(f"answer {i}: {type(e).__name__}")
            return
        now = time.perf_counter()
        if reply.status_code != 200:
            errors.append(f"answer {i}: {reply.status_code} {reply.text[:200]}")
            return
        latency.append(now - sent)

    async def student(i: int, start: float) -> None:
        last, first = wanted[i]
        at = start + seconds * i / students
        if first is None:
            await send(i, last, at, i)
            accepted.append(time.perf_counter())
            return
        await send(i, first, at, i)
        accepted.append(time.perf_counter())
        # the change goes to the other process: it must replace the first answer there too, not add one
        await send(i, last, min(start + seconds, at + 0.3 * seconds), i + 1)

    async def count() -> None:
        while not done.is_set():
            reply = await lecturer.lecturer("GET", "/glance", params={"question": n})
            if reply.status_code == 200:
                counts.append((time.perf_counter(), int(reply.json()["answers"])))
            else:
                errors.append(f"glance: {reply.status_code} {reply.text[:200]}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), COUNT_EVERY_S)

    start = time.perf_counter() + 0.2
    counter = asyncio.create_task(count())
    await asyncio.gather(*(student(i, start) for i in range(students)))
    sending_s = time.perf_counter() - start
    deadline = time.perf_counter() + 5
    while (not counts or counts[-1][1] < students) and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    done.set()
    await counter
    behind: list[float] = []
    for i, at in enumerate(sorted(accepted), start=1):
        seen = next((t for t, c in counts if c >= i and t >= at), None)
        if seen is None:
            errors.append(f"the lecturer's count never reached {i}")
            break
        behind.append(seen - at)
    heard = [f.questions[n] - asked_at for f in flock if n in f.questions]
    if len(heard) < students:
        errors.append(f"{students - len(heard)} followers never heard question {n} asked")

    r = await lecturer.lecturer("POST", f"/questions/{n}/reveal")
    if r.status_code != 200:
        errors.append(f"reveal: {r.status_code} {r.text[:200]}")
    results = (await lecturer.lecturer("GET", f"/questions/{n}/results")).json()
    expected = {b: sum(1 for last, _ in wanted if last == b) for b in value_of}
    bins = {m["mistake"]: m["answers"] for m in results.get("mistakes", [])}
    got = {
        "right": results.get("right"),
        "σ′(z²₁) left out": next((c for name, c in bins.items() if name.startswith("σ′(z²₁) left out")), 0),
        "w³ not transposed": next((c for name, c in bins.items() if name.startswith("w³ not transposed")), 0),
        "other": results.get("other"),
    }
    if results.get("answers") != students or got != expected:
        errors.append(f"counted {results.get('answers')} answers, {got}; sent {students} students' answers, {expected}")

    def ms(v: float) -> float:
        return round(v * 1000, 1)

    return {
        "question": f"{n}: {QUESTION_KEY} at step {QUESTION_STEP + 1}",
        "students": students,
        "changed": sum(1 for _, first in wanted if first),
        "answers_sent": students + sum(1 for _, first in wanted if first),
        "answers_accepted": len(latency),
        "sent_within_s": round(sending_s, 2),
        "counted": results.get("answers"),
        "results": got,
        "expected": expected,
        "answer_ms": {"p50": ms(statistics.median(latency)), "p99": ms(percentile(latency, 0.99))} if latency else {},
        "count_behind_ms": (
            {"p50": ms(statistics.median(behind)), "p99": ms(percentile(behind, 0.99)), "max": ms(max(behind))}
            if behind
            else {}
        ),
        "question_heard_ms": (
            {"p50": ms(statistics.median(heard)), "p99": ms(percentile(heard, 0.99)), "max": ms(max(heard))}
            if heard
            else {}
        ),
        "count_read_every_s": COUNT_EVERY_S,
        "errors": errors,
    }


async def run(
    urls: list[str],
    followers: int,
    changes: int,
    interval: float,
    browser: bool = False,
    verify: bool = True,
    key: str | None = None,
    answer_seconds: float | None = None,
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
            if answer_seconds is not None and not report.errors and isinstance(lecturer, HttpLecturer):
                try:
                    report.answering = await answering(client, urls, lecturer, flock, answer_seconds)
                except (RuntimeError, httpx.HTTPError, ValueError) as e:
                    report.answering = {"errors": [f"{type(e).__name__}: {e}"]}
                report.errors += [f"answering: {e}" for e in report.answering.get("errors", [])]
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
    parser.add_argument("--answers", action="store_true", help="then ask a question every student answers")
    parser.add_argument("--answer-seconds", type=float, default=10.0, help="the window the answers arrive in (10)")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    if not (1 <= args.followers <= 2000 and 1 <= args.changes <= 1000 and 0 <= args.interval <= 10):
        parser.error("bounds: followers 1..2000, changes 1..1000, interval 0..10")
    if not 0 < args.answer_seconds <= 120:
        parser.error("bounds: answer-seconds 0..120")
    if args.answers and args.browser:
        parser.error("--answers asks with the HTTP lecturer; leave out --browser")
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
        answer_seconds = args.answer_seconds if args.answers else None
        report = asyncio.run(run(urls, *shape, verify=not args.insecure, key=key, answer_seconds=answer_seconds))
    finally:
        setup.stop()
    text = json.dumps(asdict(report), indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 1 if report.errors or report.undelivered else 0


if __name__ == "__main__":
    sys.exit(main())
