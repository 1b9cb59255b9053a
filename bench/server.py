"""The server and the page, measured over loopback against a uvicorn started for the purpose.

``Server`` starts ``uvicorn app.main:app`` on 127.0.0.1 and a free port in a
subprocess and stops it afterwards. A small HTTP/1.1 client on raw asyncio
streams drives it: a fixed number of keep-alive connections for a fixed time
(requests per second, p50 and p99 latency), the time to the first event of a
trace stream, events per second of back-to-back streams, and the script and
style bytes the page at ``/`` loads.

The client is deliberately thin (no parsing beyond what counting needs) since
it shares the machine's two cores with the server it measures.

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

from bench.timing import median, percentile

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
START_TIMEOUT = 60.0
READ_TIMEOUT = 30.0


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
            "app.main:app",
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
            try:
                status, _, _ = asyncio.run(fetch(port, "GET", "/api/health"))
                if status == 200:
                    break
            except OSError:
                pass
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


# --- a minimal HTTP/1.1 client ------------------------------------------------------


def request_bytes(method: str, path: str, body: bytes | None = None, close: bool = False) -> bytes:
    head = [f"{method} {path} HTTP/1.1", f"Host: {HOST}", "Accept: */*"]
    if body is not None:
        head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    if close:
        head.append("Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + (body or b"")


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-case names) and body of one response with a length or chunked body."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            parts.append(await reader.readexactly(size + 2))
            if size == 0:
                break
        body = b"".join(p[:-2] for p in parts)
    else:
        body = await reader.read()
    return status, headers, body


async def fetch(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(request_bytes(method, path, body, close=True))
        return await asyncio.wait_for(read_response(reader), READ_TIMEOUT)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


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


async def load(port: int, method: str, path: str, body: bytes | None, connections: int, seconds: float) -> Load:
    """``connections`` keep-alive connections each sending one request after another for ``seconds``."""
    raw = request_bytes(method, path, body)
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                writer.write(raw)
                status, _, _ = await asyncio.wait_for(read_response(reader), READ_TIMEOUT)
                latencies.append(time.perf_counter() - start)
                errors += status != 200
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(connections)))
    return Load(len(latencies), errors, time.perf_counter() - start, latencies)


async def first_event_seconds(port: int, body: bytes) -> float:
    """From sending POST /api/trace/stream on a new connection to the first ``event: step`` line."""
    start = time.perf_counter()
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(request_bytes("POST", "/api/trace/stream", body, close=True))
        seen = b""
        while b"event: step" not in seen:
            chunk = await asyncio.wait_for(reader.read(65536), READ_TIMEOUT)
            if not chunk:
                raise RuntimeError("the stream ended before its first step event")
            seen += chunk
        return time.perf_counter() - start
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def stream_events(port: int, body: bytes, seconds: float) -> tuple[int, int, float]:
    """Whole streams back to back for about ``seconds``: (streams, events, elapsed seconds)."""
    streams = events = 0
    start = time.perf_counter()
    while streams == 0 or time.perf_counter() - start < seconds:
        status, _, data = await fetch(port, "POST", "/api/trace/stream", body)
        if status != 200:
            raise RuntimeError(f"POST /api/trace/stream answered {status}: {data[:300]!r}")
        events += sum(1 for line in data.split(b"\n") if line.startswith(b"event:"))
        streams += 1
    return streams, events, time.perf_counter() - start


def long_stream_body() -> tuple[bytes, list[int]]:
    """The longest trace the limits allow: as many layers as ``max_layers``, eight neurons wide."""
    from app.settings import get_settings

    layers = get_settings().max_layers
    sizes = [2] + [8] * (layers - 2) + [2]
    body = {"network": {"sizes": sizes, "seed": 1}, "inputs": [[0.05, 0.1]], "targets": [[0.01, 0.99]], "eta": 0.5}
    return json.dumps(body).encode(), sizes


def measure_server(quick: bool) -> dict[str, Any]:
    """Every server figure, against one uvicorn process."""
    from app.schemas import WORKED_EXAMPLE

    connections = 8
    seconds = 0.5 if quick else 3.0
    rounds = 1 if quick else 3
    gradients_body = json.dumps(WORKED_EXAMPLE).encode()
    trace_body = json.dumps({**WORKED_EXAMPLE, "eta": 0.5}).encode()
    stream_body, stream_sizes = long_stream_body()
    with running_server() as port:

        async def everything() -> dict[str, Any]:
            # warm both routes up (imports, first allocations) outside the timing
            await load(port, "GET", "/api/health", None, 2, 0.2)
            await load(port, "POST", "/api/gradients", gradients_body, 2, 0.2)
            health: list[Load] = []
            grads: list[Load] = []
            for _ in range(rounds):
                health.append(await load(port, "GET", "/api/health", None, connections, seconds))
                grads.append(await load(port, "POST", "/api/gradients", gradients_body, connections, seconds))
            firsts = [await first_event_seconds(port, trace_body) for _ in range(5 if quick else 30)]
            streams, events, elapsed = await stream_events(port, stream_body, seconds)
            page = await page_weight(port)
            return {
                "connections": connections,
                "seconds_per_round": seconds,
                "rounds": rounds,
                "health": pooled(health),
                "gradients": pooled(grads),
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


async def page_weight(port: int) -> dict[str, Any]:
    """Script and style bytes of the page at ``/``; all of static/ when there is no page yet."""
    status, headers, html = await fetch(port, "GET", "/")
    if status == 200 and headers.get("content-type", "").startswith("text/html"):
        parser = Assets()
        parser.feed(html.decode("utf-8", errors="replace"))
        files: dict[str, bytes] = {}
        for url in dict.fromkeys(parser.urls):
            if url.startswith(("http:", "https:", "//")):
                files[url] = b""  # would break the CSP anyway; counted as a file, weighed as nothing
                continue
            s, _, body = await fetch(port, "GET", url)
            if s != 200:
                raise RuntimeError(f"the page loads {url}, which answered {s}")
            files[url] = body
        return {"source": "GET / and the files it references", **sizes_of(files)}
    static = ROOT / "static"
    files = {str(p.relative_to(ROOT)): p.read_bytes() for p in sorted(static.rglob("*")) if p.suffix in (".js", ".css")}
    return {"source": f"GET / answered {status}: every .js and .css under static/ instead", **sizes_of(files)}
