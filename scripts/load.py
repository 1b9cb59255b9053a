"""Load test: hold K concurrent event streams while sending N gradient requests.

    python scripts/load.py --streams 200 --requests 10000 --connections 8 --seconds 60

Starts one server process (uvicorn, 127.0.0.1, a free port), opens K paced
trace streams (`POST /api/trace/stream?interval_ms=...`) and keeps them open
while C keep-alive connections send `POST /api/gradients` on the worked
example, until N requests are done or the time is up. A first round of the
same shape with N/5 requests warms the server; then the measured round runs.
It reports the streams held to their final event, the requests served,
errors, and the server's resident memory (VmRSS) before and after the
measured round.

``--url URL`` drives a deployment already running instead (nothing is started, and the memory is not
read): the URL the app is served at, its root path included once (``--url https://host/backprop``); every
request goes under it. ``--insecure`` accepts a self-signed certificate.

Bounded in count and time; without ``--url`` only 127.0.0.1 is contacted. The client is httpx, as in
``bench.client``: one pool of K connections for the streams, one of C keep-alive connections for the requests.

A class (``--class``): a lecture hall of simulated students, each doing what a student does on the page:

    python scripts/load.py --class --setup cluster --students 300 --concurrency 50 --json class.json

Each student loads ``/``, changes the configuration (``POST /runs`` from the form, a network of its own),
plays the run's stream to its ``done`` event (the page's ``/runs/{id}/stream?interval_ms=100``), steps
(a step fragment with ``HX-Request``), and opens two instruments (the demon, the sum over paths); one in
ten (the 1st, the 11th, ...) also trains the digits for 2 epochs and reads the training's events to
``done``. Every URL after ``/`` comes from the ``data-*`` attributes of the HTML the server sent. Students
arrive evenly over ``--ramp-seconds``; at most ``--concurrency`` are active at once (a 2-core machine
runs the servers and this client). Every request goes to the next server of the list (round-robin, no
stickiness), as a load balancer would send it.

Servers: ``--url`` (repeatable) targets running ones, on loopback or a deployment
(``--url https://host/backprop`` behind nginx: every path after the first page's comes from the HTML the
server sent, so the root path is written once); or ``--setup cluster`` starts Redis, two
web processes (``backprop-lens serve --redis``) and two training workers (``backprop-lens worker``) on
free loopback ports, and ``--setup single`` one web process without Redis; each is stopped by its PID at
the end. A trainings form answered 429 (all training slots busy, without Redis) is pressed again after a
pause, as the page tells its user to: counted as ``train_busy``, not as an error. It reports errors (the
run fails unless there are none), p50 and p99 latency per kind of request, and requests per second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from backprop_lens.bench.client import HOST, JSON, READ_TIMEOUT, answers, read_events

ROOT = Path(__file__).resolve().parent.parent
WORKED = {
    "network": {
        "sizes": [2, 2, 2],
        "weights": [[[0.15, 0.20], [0.25, 0.30]], [[0.40, 0.45], [0.50, 0.55]]],
        "biases": [[0.35, 0.35], [0.60, 0.60]],
    },
    "inputs": [[0.05, 0.10]],
    "targets": [[0.01, 0.99]],
}
STEPS = 8  # events of the worked example's trace before the final one


@dataclass
class Report:
    streams_opened: int = 0
    streams_completed: int = 0
    streams_failed: int = 0
    streams_peak_open: int = 0
    requests_ok: int = 0
    requests_failed: int = 0
    seconds: float = 0.0
    requests_per_second: float = 0.0
    latency_ms_p50: float = 0.0
    latency_ms_p99: float = 0.0
    rss_kib_warm: int = 0
    rss_kib_after: int = 0
    rss_growth_percent: float = 0.0
    errors: list[str] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def connect(base: str, connections: int, verify: bool = True) -> httpx.AsyncClient:
    """Up to ``connections`` keep-alive connections to the app at ``base`` (its root path included)."""
    return httpx.AsyncClient(
        base_url=base,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        timeout=READ_TIMEOUT,
        trust_env=False,
        verify=verify,
    )


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def hold_stream(
    client: httpx.AsyncClient, interval_ms: int, report: Report, open_now: list[int], deadline: float
) -> None:
    """One paced trace stream, read to its final event (or until the deadline)."""
    body = json.dumps({**WORKED, "eta": 0.5}).encode()
    opened = False
    try:
        async with (
            asyncio.timeout(deadline - time.monotonic()),
            client.stream("POST", f"/api/trace/stream?interval_ms={interval_ms}", content=body, headers=JSON) as r,
        ):
            if r.status_code != 200:
                report.streams_failed += 1
                report.errors.append(f"stream status: {r.status_code}")
                return
            opened = True
            report.streams_opened += 1
            open_now[0] += 1
            report.streams_peak_open = max(report.streams_peak_open, open_now[0])
            await read_events(r, "done")
        report.streams_completed += 1
    except EOFError:
        report.streams_failed += 1
        report.errors.append("stream closed before its final event")
    except (TimeoutError, httpx.HTTPError) as exc:
        report.streams_failed += 1
        report.errors.append(f"stream: {type(exc).__name__}")
    finally:
        if opened:
            open_now[0] -= 1


async def send_requests(
    client: httpx.AsyncClient, count: list[int], report: Report, latencies: list[float], deadline: float
) -> None:
    """Gradient requests one after another on one of ``client``'s keep-alive connections, while any are left."""
    body = json.dumps(WORKED).encode()
    try:
        while count[0] > 0 and time.monotonic() < deadline:
            count[0] -= 1
            start = time.perf_counter()
            r = await client.post("/api/gradients", content=body, headers=JSON)
            latencies.append(time.perf_counter() - start)
            if r.status_code == 200 and r.content.startswith(b'{"cost":'):
                report.requests_ok += 1
            else:
                report.requests_failed += 1
                if len(report.errors) < 20:
                    report.errors.append(f"gradients: {r.status_code} {r.content[:80]!r}")
    except httpx.HTTPError as exc:
        report.requests_failed += 1
        report.errors.append(f"gradients connection: {type(exc).__name__}")


async def phase(
    base: str, streams: int, requests: int, connections: int, seconds: float, report: Report, verify: bool = True
) -> list[float]:
    """K paced streams held open while N requests go out on C connections; the latencies."""
    deadline = time.monotonic() + seconds
    # Streams last about as long as the requests take; paced to cover the run.
    interval_ms = min(3000, max(50, int(seconds * 1000 / (STEPS * 4))))
    open_now = [0]
    async with connect(base, max(1, streams), verify) as streaming, connect(base, connections, verify) as sending:
        stream_tasks = [
            asyncio.create_task(hold_stream(streaming, interval_ms, report, open_now, deadline)) for _ in range(streams)
        ]
        await asyncio.sleep(0.5)  # let the streams open before the requests start
        count = [requests]
        latencies: list[float] = []
        start = time.perf_counter()
        await asyncio.gather(*(send_requests(sending, count, report, latencies, deadline) for _ in range(connections)))
        report.seconds = time.perf_counter() - start
        await asyncio.gather(*stream_tasks)
    return latencies


async def run(
    base: str, pid: int | None, streams: int, requests: int, connections: int, seconds: float, verify: bool = True
) -> Report:
    """Both rounds against the app at ``base``; the memory of the process ``pid`` (None: not ours to read)."""
    # A first, smaller round warms everything a server grows once (imports, thread pool,
    # allocator arenas, caches) so that the memory reading after it is the baseline.
    await phase(base, streams, max(1, requests // 5), connections, seconds, Report(), verify)
    report = Report()
    report.rss_kib_warm = rss_kib(pid) if pid else 0
    latencies = await phase(base, streams, requests, connections, seconds, report, verify)
    report.rss_kib_after = rss_kib(pid) if pid else 0
    served = report.requests_ok + report.requests_failed
    report.requests_per_second = served / report.seconds if report.seconds else 0.0
    if latencies:
        ordered = sorted(latencies)
        report.latency_ms_p50 = statistics.median(ordered) * 1000
        report.latency_ms_p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000
    if report.rss_kib_warm:
        report.rss_growth_percent = 100.0 * (report.rss_kib_after - report.rss_kib_warm) / report.rss_kib_warm
    return report


def start_server(port: int) -> subprocess.Popen[bytes]:
    # The load comes from one address here: the per-client gradient rate would measure itself, not the server.
    env = {**os.environ, "BACKPROP_LENS_MAX_GRADIENTS_PER_SECOND_PER_CLIENT": "1e12"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "backprop_lens.app.main:create_app",
            "--host",
            HOST,
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            with socket.create_connection((HOST, port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the server did not start within 10 s")


# --- a class: simulated students on the page ---------------------------------------------------------

KINDS = ("page", "configure", "stream_first", "stream_done", "step", "demon", "paths", "train_form", "train_done")
HTMX = {"HX-Request": "true"}
TRAIN_FORM = {"dataset": "digits", "hidden": "10", "epochs": "2", "batch": "10", "eta": "1.0"}


@dataclass
class ClassReport:
    setup: str = ""
    servers: list[str] = field(default_factory=list)
    students: int = 0
    concurrency: int = 0
    ramp_seconds: float = 0.0
    students_done: int = 0
    requests: int = 0
    errors: int = 0
    train_busy: int = 0
    seconds: float = 0.0
    requests_per_second: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    latency_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)


class StudentError(Exception):
    """A request of a student's went wrong: the student stops there and it counts as one error."""


class Hall:
    """The shared tally of a class, and the servers its requests go to in turn."""

    def __init__(self, clients: list[httpx.AsyncClient], root: str, report: ClassReport) -> None:
        self.clients = clients
        self.root = root  # the path the app is served under ("" at the server's root)
        self.report = report
        self.turn = 0
        self.latencies: dict[str, list[float]] = {kind: [] for kind in KINDS}

    def next_client(self) -> httpx.AsyncClient:
        client = self.clients[self.turn % len(self.clients)]
        self.turn += 1
        return client

    def record(self, kind: str, seconds: float) -> None:
        self.latencies[kind].append(seconds)

    def fail(self, message: str) -> StudentError:
        self.report.errors += 1
        if len(self.report.error_samples) < 20:
            self.report.error_samples.append(message)
        return StudentError(message)

    async def request(self, kind: str, method: str, url: str, **kwargs: Any) -> str:
        """One request answered 200: its text. Its latency is recorded under ``kind``."""
        start = time.perf_counter()
        self.report.requests += 1
        try:
            r = await self.next_client().request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise self.fail(f"{kind}: {type(exc).__name__}") from exc
        self.record(kind, time.perf_counter() - start)
        if r.status_code != 200:
            raise self.fail(f"{kind}: {r.status_code} {r.text[:80]!r}")
        return r.text

    async def events(self, first_kind: str | None, done_kind: str, url: str) -> dict[str, Any]:
        """Reads the event stream at ``url`` to its ``done`` event: that event's data."""
        start = time.perf_counter()
        self.report.requests += 1
        event, first = "", True
        try:
            async with self.next_client().stream("GET", url) as r:
                if r.status_code != 200:
                    raise self.fail(f"{done_kind}: {r.status_code}")
                async for line in r.aiter_lines():
                    if first and line.startswith("data:") and first_kind:
                        self.record(first_kind, time.perf_counter() - start)
                        first = False
                    if line.startswith("event:"):
                        event = line.removeprefix("event:").strip()
                    elif line.startswith("data:") and event == "done":
                        self.record(done_kind, time.perf_counter() - start)
                        data: dict[str, Any] = json.loads(line.removeprefix("data:"))
                        return data
        except httpx.HTTPError as exc:
            raise self.fail(f"{done_kind}: {type(exc).__name__}") from exc
        raise self.fail(f"{done_kind}: the stream ended before its done event")


def attribute(html: str, name: str) -> str:
    found = re.search(rf'{name}="([^"]+)"', html)
    if found is None:
        raise ValueError(f"no {name} in the answer")
    return found.group(1)


async def student(hall: Hall, n: int) -> None:
    """One student's visit (``n`` numbers the student: its network's seed, and whether it trains)."""
    page = await hall.request("page", "GET", f"{hall.root}/")
    form = {
        "sizes": f"2, {2 + n % 3}, 2", "activation": "sigmoid", "cost": "quadratic", "init": "standard",
        "x": "0.05, 0.10", "y": "0.01, 0.99", "eta": "0.5", "seed": str(n), "weights": "", "biases": "",
        "previous_sizes": "2, 2, 2",
    }  # fmt: skip
    try:
        region = await hall.request("configure", "POST", attribute(page, 'id="config" action'), data=form, headers=HTMX)
        run_id = attribute(region, "data-run-id")
        stream_url, step_url = attribute(region, "data-stream-url"), attribute(region, "data-step-url")
        steps = int(attribute(region, "data-steps"))
    except ValueError as exc:
        raise hall.fail(f"configure: {exc}") from exc
    done = await hall.events("stream_first", "stream_done", f"{stream_url}?interval_ms=100")
    if done.get("reason") != "end" or done.get("step") != steps - 1:
        raise hall.fail(f"stream_done: ended {done}")
    await hall.request("step", "GET", f"{step_url}{steps // 2}", headers=HTMX)
    root = stream_url.removesuffix(f"/runs/{run_id}/stream")
    await hall.request("demon", "GET", f"{root}/instruments/{run_id}/demon", headers=HTMX)
    await hall.request("paths", "GET", f"{root}/instruments/{run_id}/paths", headers=HTMX)
    if n % 10 == 0:
        await train(hall, root)


async def train(hall: Hall, root: str) -> None:
    for _ in range(600):  # a 429: every training slot is busy; the page says to press Train again
        start = time.perf_counter()
        hall.report.requests += 1
        try:
            r = await hall.next_client().post(f"{root}/train/runs", data=TRAIN_FORM, headers=HTMX)
        except httpx.HTTPError as exc:
            raise hall.fail(f"train_form: {type(exc).__name__}") from exc
        hall.record("train_form", time.perf_counter() - start)
        if r.status_code != 429:
            break
        hall.report.train_busy += 1
        await asyncio.sleep(0.5)
    if r.status_code != 200:
        raise hall.fail(f"train_form: {r.status_code} {r.text[:80]!r}")
    try:
        events_url = attribute(r.text, "data-stream")
    except ValueError as exc:
        raise hall.fail(f"train_form: {exc}") from exc
    done = await hall.events(None, "train_done", events_url)
    if done.get("state") != "finished":
        raise hall.fail(f"train_done: {done.get('state')} {done.get('message')}")


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


async def run_class(
    urls: list[str],
    students: int,
    concurrency: int,
    ramp: float,
    seconds: float,
    report: ClassReport,
    verify: bool = True,
) -> None:
    # Each client holds a server's origin: every path after the first page's comes from the HTML it sent,
    # the root path (a sub-path behind a proxy) included.
    origins = [str(httpx.URL(u).copy_with(path="/")).rstrip("/") for u in urls]
    roots = {httpx.URL(u).path.rstrip("/") for u in urls}
    if len(roots) != 1:
        raise ValueError(f"the servers are under different paths: {sorted(roots)}")
    limits = httpx.Limits(max_connections=2 * concurrency, max_keepalive_connections=concurrency)
    clients = [
        httpx.AsyncClient(base_url=o, limits=limits, timeout=READ_TIMEOUT, trust_env=False, verify=verify)
        for o in origins
    ]
    hall = Hall(clients, roots.pop(), report)
    seats = asyncio.Semaphore(concurrency)
    start = time.perf_counter()

    async def visit(n: int) -> None:
        await asyncio.sleep(ramp * n / students)  # students arrive evenly over the ramp
        async with seats:
            try:
                await student(hall, n)
                report.students_done += 1
            except StudentError:
                pass

    try:
        tasks = [asyncio.create_task(visit(n)) for n in range(students)]
        try:
            async with asyncio.timeout(seconds):
                await asyncio.gather(*tasks)
        except TimeoutError:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            hall.fail(f"time: {students - report.students_done} students had not finished after {seconds:g} s")
    finally:
        for c in clients:
            await c.aclose()
    report.seconds = time.perf_counter() - start
    report.requests_per_second = report.requests / report.seconds if report.seconds else 0.0
    for kind, values in hall.latencies.items():
        ordered = sorted(values)
        report.counts[kind] = len(ordered)
        report.latency_ms[kind] = {
            "p50": round(percentile(ordered, 0.5) * 1000, 1), "p99": round(percentile(ordered, 0.99) * 1000, 1)
        }  # fmt: skip


class Setup:
    """The processes a class runs against, started here on free loopback ports and stopped by their PIDs."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.env = env or {}  # settings for every process started (BACKPROP_LENS_…)

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        # Without this environment's own Redis URL: the setup says where the state lives.
        env = {name: value for name, value in os.environ.items() if name != "BACKPROP_LENS_REDIS_URL"} | self.env
        proc = subprocess.Popen(
            list(args), cwd=ROOT, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.procs.append(proc)
        return proc

    def web(self, port: int, redis_url: str | None) -> str:
        args = [sys.executable, "-m", "backprop_lens.app.cli", "serve", "--host", HOST, "--port", str(port)]
        self.start(*args, *(["--redis", redis_url] if redis_url else []))
        return f"http://{HOST}:{port}"

    def redis(self) -> str:
        port = free_port()
        self.start("redis-server", "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no")
        wait_for(port, self.procs[-1])
        return f"redis://{HOST}:{port}/0"

    def stop(self) -> None:
        for proc in reversed(self.procs):  # workers and web processes first, Redis last
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()


def wait_for(port: int, proc: subprocess.Popen[bytes], path: str | None = None) -> None:
    """Until ``port`` accepts connections (and answers 200 at ``path``); at most 20 s."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        if path is None:
            try:
                with socket.create_connection((HOST, port), timeout=0.2):
                    return
            except OSError:
                pass
        elif answers(port, path) == 200:
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing answered on port {port} within 20 s")


def start_setup(setup: Setup, kind: str) -> list[str]:
    """Starts ``kind`` (cluster: Redis, two web processes, two workers; single: one web process): the URLs."""
    redis_url = setup.redis() if kind == "cluster" else None
    ports = [free_port() for _ in range(2 if kind == "cluster" else 1)]
    urls = [setup.web(port, redis_url) for port in ports]
    for port, proc in zip(ports, setup.procs[-len(ports) :], strict=True):
        wait_for(port, proc, "/api/health")
    if redis_url:
        for _ in range(2):
            setup.start(sys.executable, "-m", "backprop_lens.app.cli", "worker", "--redis", redis_url)
    return urls


def deployment(url: str) -> str:
    """A running app's URL, its root path included (``https://host/backprop``), without a trailing slash."""
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host or parsed.query or parsed.fragment:
        raise argparse.ArgumentTypeError(
            f"an http:// or https:// URL of the app, such as https://host/backprop, got {url}"
        )
    return url.rstrip("/")


def class_main(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if not (
        1 <= args.students <= 2000
        and 1 <= args.concurrency <= 200
        and 0 <= args.ramp_seconds <= 600
        and 0 < args.seconds <= 1800
    ):
        parser.error("bounds: students 1..2000, concurrency 1..200, ramp-seconds 0..600, seconds (0, 1800]")
    if bool(args.url) == bool(args.setup):
        parser.error("--class needs either --url (running servers) or --setup cluster|single")
    report = ClassReport(
        setup=args.setup or "given", students=args.students,
        concurrency=min(args.concurrency, args.students), ramp_seconds=args.ramp_seconds,
    )  # fmt: skip
    setup = Setup()
    try:
        report.servers = args.url or start_setup(setup, args.setup)
        asyncio.run(run_class(report.servers, args.students, report.concurrency, args.ramp_seconds, args.seconds,
                              report, not args.insecure))  # fmt: skip
    finally:
        setup.stop()
    print(f"setup {report.setup}: {len(report.servers)} server URL(s): {', '.join(report.servers)}")
    print(f"students {report.students} (at most {report.concurrency} at once, arriving over "
          f"{report.ramp_seconds:g} s), finished {report.students_done}")  # fmt: skip
    print(f"requests {report.requests} in {report.seconds:.1f} s: {report.requests_per_second:.1f} per second; "
          f"errors {report.errors}; trainings told to wait (429) {report.train_busy}")  # fmt: skip
    print(f"{'kind':<13} {'count':>6} {'p50 ms':>9} {'p99 ms':>9}")
    for kind in KINDS:
        lat = report.latency_ms[kind]
        print(f"{kind:<13} {report.counts[kind]:>6} {lat['p50']:>9.1f} {lat['p99']:>9.1f}")
    for err in report.error_samples:
        print(f"error: {err}")
    if args.json:
        args.json.write_text(json.dumps(asdict(report), indent=2))
    return 0 if report.errors == 0 and report.students_done == report.students else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=200, help="concurrent streams to hold (K)")
    parser.add_argument("--requests", type=int, default=10_000, help="gradient requests to send (N)")
    parser.add_argument("--connections", type=int, default=8, help="keep-alive connections sending requests")
    parser.add_argument("--seconds", type=float, help="upper bound on the run's time (T; 60, or 600 for a class)")
    parser.add_argument("--json", type=Path, help="also write the report here")
    group = parser.add_argument_group("a class (--class)")
    group.add_argument("--class", dest="klass", action="store_true", help="simulate a class of students instead")
    group.add_argument("--students", type=int, default=300, help="students in all (default 300)")
    group.add_argument("--concurrency", type=int, default=50, help="students active at once (default 50)")
    group.add_argument("--ramp-seconds", type=float, default=10.0, help="students arrive over this long (10)")
    parser.add_argument(
        "--url", type=deployment, action="append",
        help="a running app, its root path included (https://host/backprop); with --class, repeat: round-robin",
    )  # fmt: skip
    parser.add_argument("--insecure", action="store_true", help="accept the --url's certificate unchecked")
    group.add_argument("--setup", choices=("cluster", "single"), help="start the servers here (see above)")
    args = parser.parse_args(argv)
    if args.klass:
        args.seconds = 600.0 if args.seconds is None else args.seconds
        return class_main(args, parser)
    args.seconds = 60.0 if args.seconds is None else args.seconds
    if not (
        0 <= args.streams <= 1000
        and 1 <= args.requests <= 100_000
        and 1 <= args.connections <= 64
        and 0 < args.seconds <= 600
    ):
        parser.error("bounds: streams 0..1000, requests 1..100000, connections 1..64, seconds (0, 600]")

    if args.url:
        if len(args.url) > 1:
            parser.error("one --url without --class")
        shape = (args.streams, args.requests, args.connections, args.seconds)
        report = asyncio.run(run(args.url[0], None, *shape, verify=not args.insecure))
    else:
        port = free_port()
        server = start_server(port)
        try:
            shape = (args.streams, args.requests, args.connections, args.seconds)
            report = asyncio.run(run(f"http://{HOST}:{port}", server.pid, *shape))
        finally:
            server.terminate()
            server.wait(timeout=10)
    data = asdict(report)
    data["errors"] = report.errors[:20]
    width = max(len(k) for k in data)
    for key, value in data.items():
        if key != "errors":
            shown = f"{value:.1f}" if isinstance(value, float) else value
            print(f"{key:<{width}}  {shown}")
    for err in data["errors"]:
        print(f"error: {err}")
    if args.json:
        args.json.write_text(json.dumps(data, indent=2))
    ok = report.requests_failed == 0 and report.streams_failed == 0
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
