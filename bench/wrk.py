"""wrk as the load generator of the server's request-rate rows, where it is installed.

wrk (C, one event loop per thread) costs far less CPU per request than an httpx client in Python; on a
machine of two cores, where the client shares the cores with the server it loads, the httpx client's
own cost decides much of what it measures. ``bench.server`` uses wrk when ``wrk`` is on the PATH and says
which load generator it used.

A run is ``wrk -t1 -c C -d S --timeout 10s -s SCRIPT URL``: one thread, C keep-alive connections, S whole
seconds (wrk takes no fractions). The script sets the method, the JSON body and its content type, and
its ``done`` hook prints the figures as one JSON line (requests, seconds, errors of every kind, latency
percentiles), so nothing depends on the layout of wrk's report.

Left out: wrk2's constant-rate mode (coordinated omission does not matter to a rate at saturation).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

TIMEOUT_MARGIN = 30.0

DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\n{"requests": %d, "duration_us": %d, "socket_errors": %d, "status_errors": %d, "p50_us": %d, "p99_us": %d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass(frozen=True)
class WrkRun:
    requests: int
    errors: int
    seconds: float
    p50_seconds: float
    p99_seconds: float


def executable() -> str | None:
    return shutil.which("wrk")


def version() -> str:
    """wrk's own words for its version, e.g. ``wrk debian/4.1.0-3+b2 [epoll]``."""
    exe = executable()
    if exe is None:
        return "not installed"
    out = subprocess.run([exe, "-v"], capture_output=True, text=True, check=False)
    first = (out.stdout or out.stderr).splitlines()
    return first[0].split(" Copyright")[0].strip() if first else "wrk"


def lua_string(text: str) -> str:
    """``text`` as a Lua long string whose brackets do not occur in it."""
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    eq = "=" * level
    return f"[{eq}[{text}]{eq}]"


def script(method: str, body: bytes | None) -> str:
    lines = [f'wrk.method = "{method}"']
    if body is not None:
        lines += [f"wrk.body = {lua_string(body.decode())}", 'wrk.headers["Content-Type"] = "application/json"']
    return "\n".join(lines) + "\n" + DONE


def run(url: str, connections: int, method: str, body: bytes | None, seconds: int) -> WrkRun:
    """wrk against ``url`` for ``seconds`` with ``connections`` connections; RuntimeError when wrk fails."""
    exe = executable()
    if exe is None:
        raise RuntimeError("wrk is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        lua = Path(tmp) / "request.lua"
        lua.write_text(script(method, body), encoding="utf-8")
        cmd = [exe, "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(lua), url]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + TIMEOUT_MARGIN, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr[-2000:]}")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"wrk printed no summary: {done.stdout[-2000:]}")
    figures = json.loads(lines[-1])
    return WrkRun(
        requests=figures["requests"],
        errors=figures["socket_errors"] + figures["status_errors"],
        seconds=figures["duration_us"] / 1e6,
        p50_seconds=figures["p50_us"] / 1e6,
        p99_seconds=figures["p99_us"] / 1e6,
    )
