"""The server and the page, measured over loopback against a uvicorn started for the purpose.

``running_server`` starts uvicorn (uvloop, httptools) on 127.0.0.1 and a free
port in a subprocess, serving ``bench_app``: the product's app plus the floor
route, and stops it afterwards. ``bench.client`` (httpx) drives
it: a fixed number of keep-alive connections for a fixed time (requests per
second, p50 and p99 latency), the time to the first event of a trace stream,
events per second of back-to-back streams, and the script and style bytes the
page at ``/`` loads.

Left out: any address but loopback, TLS, HTTP/2.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response

from bench.client import CLOSE, HOST, JSON, answers, pool, read_events
from bench.timing import median, percentile

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 60.0
FLOOR_PATH = "/bench/floor"


def bench_app() -> FastAPI:
    """The product's app (same settings, routes and middlewares) plus ``POST /bench/floor``, the gradient's floor.

    The floor reads the request's body and answers with a reply built once: the bytes ``POST /api/gradients``
    answers to the worked example. What the gradient route costs beyond it is the route's own work (validation,
    the engine, encoding), not the server's or the middlewares'. The route exists in the bench's instance only.
    """
    from app.api.routes import _small_reply
    from app.core.schemas import WORKED_EXAMPLE, GradientRequest
    from app.main import create_app

    app = create_app()
    reply = _small_reply(GradientRequest.model_validate(WORKED_EXAMPLE))

    async def floor(request: Request) -> Response:
        await request.body()
        return Response(reply, media_type="application/json")

    app.add_api_route(FLOOR_PATH, floor, methods=["POST"], include_in_schema=False)
    return app


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_server() -> Iterator[int]:
    """uvicorn serving the app on loopback; yields its port and stops it on exit."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "bench.server:bench_app",
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
        cwd=ROOT,
        env=env,
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
    latencies: list[float]

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "requests_per_second": self.per_second,
            "p50_seconds": percentile(self.latencies, 50),
            "p99_seconds": percentile(self.latencies, 99),
        }


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
    return Load(len(latencies), errors, time.perf_counter() - start, latencies)


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
    from app.core.settings import get_settings

    layers = get_settings().max_layers
    sizes = [2] + [8] * (layers - 2) + [2]
    body = {"network": {"sizes": sizes, "seed": 1}, "inputs": [[0.05, 0.1]], "targets": [[0.01, 0.99]], "eta": 0.5}
    return json.dumps(body).encode(), sizes


def measure_server(quick: bool) -> dict[str, Any]:
    """Every server figure, against one uvicorn process."""
    from app.core.schemas import WORKED_EXAMPLE

    connections = 8
    seconds = 0.5 if quick else 1.5
    rounds = 1 if quick else 6
    gradients_body = json.dumps(WORKED_EXAMPLE).encode()
    trace_body = json.dumps({**WORKED_EXAMPLE, "eta": 0.5}).encode()
    stream_body, stream_sizes = long_stream_body()
    with running_server() as port:

        async def everything() -> dict[str, Any]:
            async with pool(port, connections) as many, pool(port, 1) as one:
                # warm both routes up (imports, first allocations, connections) outside the timing
                await load(many, connections, "GET", "/api/health", None, 0.2)
                await load(many, connections, "POST", "/api/gradients", gradients_body, 0.2)
                await load(many, connections, "POST", FLOOR_PATH, gradients_body, 0.2)
                health: list[Load] = []
                grads: list[Load] = []
                floor: list[Load] = []
                # alternated rounds: a busy spell of the machine slows the three alike
                for _ in range(rounds):
                    health.append(await load(many, connections, "GET", "/api/health", None, seconds))
                    floor.append(await load(many, connections, "POST", FLOOR_PATH, gradients_body, seconds))
                    grads.append(await load(many, connections, "POST", "/api/gradients", gradients_body, seconds))
                firsts = [await first_event_seconds(one, trace_body) for _ in range(5 if quick else 30)]
                streams, events, elapsed = await stream_events(one, stream_body, seconds)
                page = await page_weight(one)
            return {
                "connections": connections,
                "seconds_per_round": seconds,
                "rounds": rounds,
                "health": pooled(health),
                "gradients": pooled(grads),
                "floor": pooled(floor),
                "gradients_per_round": [g.per_second for g in grads],
                "floor_per_round": [f.per_second for f in floor],
                "health_per_round": [h.per_second for h in health],
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
    """The median round's requests per second, latencies pooled over the rounds."""
    latencies = [t for load_ in loads for t in load_.latencies]
    return {
        "requests": sum(x.requests for x in loads),
        "errors": sum(x.errors for x in loads),
        "requests_per_second": median([x.per_second for x in loads]),
        "p50_seconds": percentile(latencies, 50),
        "p99_seconds": percentile(latencies, 99),
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
    static = ROOT / "static"
    files = {str(p.relative_to(ROOT)): p.read_bytes() for p in sorted(static.rglob("*")) if p.suffix in (".js", ".css")}
    return {"source": f"GET / answered {status}: every .js and .css under static/ instead", **sizes_of(files)}
