"""The server and the page, measured over loopback against a uvicorn started for the purpose.

``running_server`` starts uvicorn (uvloop, httptools) on 127.0.0.1 and a free
port in a subprocess, serving ``bench_app``: the product's app plus the floor
routes, and stops it afterwards. The request rates (a fixed number of keep-alive
connections for a fixed time: requests per second, p50 and p99 latency) come from
wrk where it is installed (``bench.wrk``), from ``bench.client`` (httpx) otherwise;
the result names the one used. ``bench.client`` also measures the time to the first
event of a trace stream, events per second of back-to-back streams, and the script
and style bytes the page at ``/`` loads.

Left out: any address but loopback, TLS, HTTP/2.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gzip
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.routing import APIRoute

from backprop_lens.app.core.settings import PACKAGE
from backprop_lens.bench import wrk
from backprop_lens.bench.client import CLOSE, HOST, JSON, answers, pool, read_events
from backprop_lens.bench.timing import median, percentile

START_TIMEOUT = 60.0
FLOOR_PATH = "/bench/floor"
BARE_FLOOR_PATH = "/bench/floor-bare"


def bench_app() -> FastAPI:
    """The product's app (same settings, routes and middlewares) plus ``POST /bench/floor``, the gradient's floor.

    The floor reads the request's body and answers with a reply built once: the bytes ``POST /api/gradients``
    answers to the worked example. What the gradient route costs beyond it is the route's own work (validation,
    the engine, encoding), not the server's or the middlewares'. The route exists in the bench's instance only.

    ``POST /bench/floor-bare`` does the same without FastAPI's request handler (dependency solving), as the
    gradient route's fast lane (``app.api.fastlane.GradientRoute``) answers: the floor of that lane.
    """
    from backprop_lens.app.api.routes import _small_reply
    from backprop_lens.app.core.schemas import WORKED_EXAMPLE, GradientRequest
    from backprop_lens.app.core.settings import get_settings
    from backprop_lens.app.main import create_app

    # The server's settings, but one client's throughput is what the bench measures: no per-client rate limit.
    app = create_app(get_settings().model_copy(update={"max_gradients_per_second_per_client": 1e12}))
    reply = _small_reply(GradientRequest.model_validate(WORKED_EXAMPLE))

    async def floor(request: Request) -> Response:
        await request.body()
        return Response(reply, media_type="application/json")

    class BareRoute(APIRoute):
        def get_route_handler(self) -> Any:
            return floor

    app.add_api_route(FLOOR_PATH, floor, methods=["POST"], include_in_schema=False)
    app.router.add_api_route(
        BARE_FLOOR_PATH, floor, methods=["POST"], include_in_schema=False, route_class_override=BareRoute
    )
    return app


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_server() -> Iterator[int]:
    """uvicorn serving the app on loopback; yields its port and stops it on exit."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-P",  # the installed backprop_lens, whatever the working directory holds
            "-m",
            "uvicorn",
            "--factory",
            "backprop_lens.bench.server:bench_app",
            "--app-dir",  # uvicorn puts it first on the path (default: the working directory)
            str(PACKAGE.parent),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--host",
            HOST,
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise RuntimeError(f"uvicorn exited with {proc.returncode}: {err[-2000:]}")
            if answers(port, "/api/health") == 200:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not answer on port {port} within {START_TIMEOUT:.0f} s")
            time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()


# --- load ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    requests: int
    errors: int
    seconds: float
    p50_seconds: float
    p99_seconds: float
    latencies: tuple[float, ...] = ()  # every request's, where the client timed each (httpx; not wrk)
    server_cpu_seconds: float | None = None  # the server process's user + system time over the round

    @classmethod
    def timed(cls, errors: int, seconds: float, latencies: list[float]) -> Load:
        return cls(
            len(latencies), errors, seconds, percentile(latencies, 50), percentile(latencies, 99), tuple(latencies)
        )

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "requests_per_second": self.per_second,
            "p50_seconds": self.p50_seconds,
            "p99_seconds": self.p99_seconds,
        }

    def with_cpu(self, seconds: float) -> Load:
        return dataclasses.replace(self, server_cpu_seconds=seconds)


def wrk_load(port: int, connections: int, method: str, path: str, body: bytes | None, seconds: int) -> Load:
    r = wrk.run(f"http://{HOST}:{port}{path}", connections, method, body, seconds)
    return Load(r.requests, r.errors, r.seconds, r.p50_seconds, r.p99_seconds)


async def load(
    client: httpx.AsyncClient, connections: int, method: str, path: str, body: bytes | None, seconds: float
) -> Load:
    """``connections`` senders on ``client``'s keep-alive connections, each sending one request after another
    for ``seconds``."""
    headers = JSON if body is not None else None
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def sender() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            answer = await client.request(method, path, content=body, headers=headers)
            latencies.append(time.perf_counter() - start)
            errors += answer.status_code != 200

    start = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(connections)))
    return Load.timed(errors, time.perf_counter() - start, latencies)


async def stream_opened(answer: httpx.Response) -> None:
    """Raises unless ``POST /api/trace/stream`` answered 200 (and so sends events)."""
    if answer.status_code != 200:
        text = await answer.aread()
        raise RuntimeError(f"POST /api/trace/stream answered {answer.status_code}: {text[:300]!r}")


async def first_event_seconds(client: httpx.AsyncClient, body: bytes) -> float:
    """From sending POST /api/trace/stream on a new connection to the first ``event: step`` line."""
    start = time.perf_counter()
    async with client.stream("POST", "/api/trace/stream", content=body, headers={**JSON, **CLOSE}) as answer:
        await stream_opened(answer)
        await read_events(answer, "step")
    return time.perf_counter() - start


async def stream_events(client: httpx.AsyncClient, body: bytes, seconds: float) -> tuple[int, int, float]:
    """Whole streams back to back for about ``seconds``: (streams, events, elapsed seconds)."""
    streams = events = 0
    start = time.perf_counter()
    while streams == 0 or time.perf_counter() - start < seconds:
        async with client.stream("POST", "/api/trace/stream", content=body, headers=JSON) as answer:
            await stream_opened(answer)
            events += await read_events(answer, "done")
        streams += 1
    return streams, events, time.perf_counter() - start


def long_stream_body() -> tuple[bytes, list[int]]:
    """The longest trace the limits allow: as many layers as ``max_layers``, eight neurons wide."""
    from backprop_lens.app.core.settings import get_settings

    layers = get_settings().max_layers
    sizes = [2] + [8] * (layers - 2) + [2]
    body = {"network": {"sizes": sizes, "seed": 1}, "inputs": [[0.05, 0.1]], "targets": [[0.01, 0.99]], "eta": 0.5}
    return json.dumps(body).encode(), sizes


def measure_server(quick: bool) -> dict[str, Any]:
    """Every server figure, against one uvicorn process."""
    from backprop_lens.app.core.schemas import WORKED_EXAMPLE

    connections = 8
    seconds = 0.5 if quick else 1.5
    rounds = 1 if quick else 6
    use_wrk = wrk.executable() is not None
    if use_wrk:
        seconds = 1 if quick else 2  # wrk takes whole seconds
        generator = f"{wrk.version()}, 1 thread"
    else:
        generator = "the httpx client (bench.client; wrk is not installed: apt install wrk)"
    gradients_body = json.dumps(WORKED_EXAMPLE).encode()
    trace_body = json.dumps({**WORKED_EXAMPLE, "eta": 0.5}).encode()
    stream_body, stream_sizes = long_stream_body()
    from backprop_lens.bench.page_stream import cpu_seconds, server_pid

    with running_server() as port:
        pid = server_pid(port)

        async def everything() -> dict[str, Any]:
            async with pool(port, connections) as many, pool(port, 1) as one:

                async def rate(method: str, path: str, body: bytes | None, duration: float) -> Load:
                    before = cpu_seconds(pid)
                    if use_wrk:
                        whole = max(1, round(duration))
                        done = await asyncio.to_thread(wrk_load, port, connections, method, path, body, whole)
                    else:
                        done = await load(many, connections, method, path, body, duration)
                    return done.with_cpu(cpu_seconds(pid) - before)

                # warm the routes up (imports, first allocations, connections) outside the timing
                for method, path, body in (
                    ("GET", "/api/health", None),
                    ("POST", "/api/gradients", gradients_body),
                    ("POST", FLOOR_PATH, gradients_body),
                    ("POST", BARE_FLOOR_PATH, gradients_body),
                ):
                    await rate(method, path, body, 0.2)
                health: list[Load] = []
                grads: list[Load] = []
                floor: list[Load] = []
                bare: list[Load] = []
                # alternated rounds: a busy spell of the machine slows them alike
                for _ in range(rounds):
                    health.append(await rate("GET", "/api/health", None, seconds))
                    floor.append(await rate("POST", FLOOR_PATH, gradients_body, seconds))
                    bare.append(await rate("POST", BARE_FLOOR_PATH, gradients_body, seconds))
                    grads.append(await rate("POST", "/api/gradients", gradients_body, seconds))
                firsts = [await first_event_seconds(one, trace_body) for _ in range(5 if quick else 30)]
                streams, events, elapsed = await stream_events(one, stream_body, seconds)
                page = await page_weight(one)
            return {
                "load_generator": generator,
                "connections": connections,
                "seconds_per_round": seconds,
                "rounds": rounds,
                "health": pooled(health),
                "gradients": pooled(grads),
                "floor": pooled(floor),
                "bare_floor": pooled(bare),
                "gradients_per_round": [g.per_second for g in grads],
                "floor_per_round": [f.per_second for f in floor],
                "bare_floor_per_round": [b.per_second for b in bare],
                "health_per_round": [h.per_second for h in health],
                "server_cpu_per_request_per_round": {
                    name: [x.server_cpu_seconds / x.requests for x in loads if x.server_cpu_seconds is not None]
                    for name, loads in (
                        ("health", health),
                        ("floor", floor),
                        ("bare_floor", bare),
                        ("gradients", grads),
                    )
                },
                "first_event": {
                    "tries": len(firsts),
                    "p50_seconds": median(firsts),
                    "p99_seconds": percentile(firsts, 99),
                    "network": WORKED_EXAMPLE["network"]["sizes"],
                },
                "stream": {
                    "sizes": stream_sizes,
                    "streams": streams,
                    "events": events,
                    "events_per_second": events / elapsed,
                },
                "page": page,
            }

        return asyncio.run(everything())


def pooled(loads: list[Load]) -> dict[str, Any]:
    """The median round's requests per second; latencies pooled over the rounds where each request was timed,
    else the median round's percentiles (wrk reports percentiles, not every latency)."""
    latencies = [t for load_ in loads for t in load_.latencies]
    each = all(x.latencies for x in loads)
    cpu = [x.server_cpu_seconds / x.requests for x in loads if x.server_cpu_seconds is not None and x.requests]
    return {
        "server_cpu_seconds_per_request": median(cpu) if cpu else None,
        "requests": sum(x.requests for x in loads),
        "errors": sum(x.errors for x in loads),
        "requests_per_second": median([x.per_second for x in loads]),
        "p50_seconds": percentile(latencies, 50) if each else median([x.p50_seconds for x in loads]),
        "p99_seconds": percentile(latencies, 99) if each else median([x.p99_seconds for x in loads]),
    }


# --- the page -----------------------------------------------------------------------


class Assets(HTMLParser):
    """The script and stylesheet URLs of one HTML document."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "script" and a.get("src"):
            self.urls.append(a["src"])
        elif tag == "link" and "stylesheet" in a.get("rel", "").lower().split() and a.get("href"):
            self.urls.append(a["href"])


def sizes_of(files: dict[str, bytes]) -> dict[str, Any]:
    raw = sum(len(b) for b in files.values())
    gz = sum(len(gzip.compress(b, compresslevel=6, mtime=0)) for b in files.values())
    return {"files": sorted(files), "raw_bytes": raw, "gzip_bytes": gz}


async def page_weight(client: httpx.AsyncClient) -> dict[str, Any]:
    """Script and style bytes of the page at ``/``; all of static/ when there is no page yet."""
    page = await client.get("/")
    status = page.status_code
    if status == 200 and page.headers.get("content-type", "").startswith("text/html"):
        parser = Assets()
        parser.feed(page.text)
        files: dict[str, bytes] = {}
        for url in dict.fromkeys(parser.urls):
            if url.startswith(("http:", "https:", "//")):
                files[url] = b""  # would break the CSP anyway; counted as a file, weighed as nothing
                continue
            asset = await client.get(url)
            if asset.status_code != 200:
                raise RuntimeError(f"the page loads {url}, which answered {asset.status_code}")
            files[url] = asset.content
        return {"source": "GET / and the files it references", **sizes_of(files)}
    static = PACKAGE / "static"
    files = {
        str(p.relative_to(PACKAGE)): p.read_bytes() for p in sorted(static.rglob("*")) if p.suffix in (".js", ".css")
    }
    return {"source": f"GET / answered {status}: every .js and .css under static/ instead", **sizes_of(files)}
