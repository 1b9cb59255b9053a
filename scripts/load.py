"""Load test on loopback: hold K concurrent event streams while sending N gradient requests.

    python scripts/load.py --streams 200 --requests 10000 --connections 8 --seconds 60

Starts one server process (uvicorn, 127.0.0.1, a free port), opens K paced
trace streams (`POST /api/trace/stream?interval_ms=...`) and keeps them open
while C keep-alive connections send `POST /api/gradients` on the worked
example, until N requests are done or the time is up. A first round of the
same shape with N/5 requests warms the server; then the measured round runs.
It reports the streams held to their final event, the requests served,
errors, and the server's resident memory (VmRSS) before and after the
measured round.

Bounded in count and time; only 127.0.0.1 is ever contacted. The client is
``bench.client`` (httpx), the benchmark's: one pool of K connections for the
streams, one of C keep-alive connections for the requests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from bench.client import HOST, JSON, pool, read_events

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
    port: int, streams: int, requests: int, connections: int, seconds: float, report: Report
) -> list[float]:
    """K paced streams held open while N requests go out on C connections; the latencies."""
    deadline = time.monotonic() + seconds
    # Streams last about as long as the requests take; paced to cover the run.
    interval_ms = min(3000, max(50, int(seconds * 1000 / (STEPS * 4))))
    open_now = [0]
    async with pool(port, max(1, streams)) as streaming, pool(port, connections) as sending:
        stream_tasks = [
            asyncio.create_task(hold_stream(streaming, interval_ms, report, open_now, deadline))
            for _ in range(streams)
        ]
        await asyncio.sleep(0.5)  # let the streams open before the requests start
        count = [requests]
        latencies: list[float] = []
        start = time.perf_counter()
        await asyncio.gather(*(send_requests(sending, count, report, latencies, deadline) for _ in range(connections)))
        report.seconds = time.perf_counter() - start
        await asyncio.gather(*stream_tasks)
    return latencies


async def run(port: int, pid: int, streams: int, requests: int, connections: int, seconds: float) -> Report:
    # A first, smaller round warms everything a server grows once (imports, thread pool,
    # allocator arenas, caches) so that the memory reading after it is the baseline.
    await phase(port, streams, max(1, requests // 5), connections, seconds, Report())
    report = Report()
    report.rss_kib_warm = rss_kib(pid)
    latencies = await phase(port, streams, requests, connections, seconds, report)
    report.rss_kib_after = rss_kib(pid)
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
    env = dict(os.environ)
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--host", HOST, "--port", str(port),
         "--log-level", "warning", "--no-access-log"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            with socket.create_connection((HOST, port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the server did not start within 10 s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=200, help="concurrent streams to hold (K)")
    parser.add_argument("--requests", type=int, default=10_000, help="gradient requests to send (N)")
    parser.add_argument("--connections", type=int, default=8, help="keep-alive connections sending requests")
    parser.add_argument("--seconds", type=float, default=60.0, help="upper bound on the run's time (T)")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    if not (0 <= args.streams <= 1000 and 1 <= args.requests <= 100_000 and 1 <= args.connections <= 64
            and 0 < args.seconds <= 600):
        parser.error("bounds: streams 0..1000, requests 1..100000, connections 1..64, seconds (0, 600]")

    port = free_port()
    server = start_server(port)
    try:
        report = asyncio.run(run(port, server.pid, args.streams, args.requests, args.connections, args.seconds))
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
