"""The step-through page's stream, measured: bytes on the wire per step, server CPU per step, swap time in Chromium.

For a 4-8-8-3 network and one of eight layers of 16, against one uvicorn (``bench.server.running_server``):

- bytes per step event as a browser receives them (``Accept-Encoding: gzip, deflate, br, zstd``, the
  body bytes off the socket before decoding; HTTP headers and chunk framing left out), against the
  same stream uncompressed;
- the time from the request to the first step event, on a new run (the step is rendered) and on a
  run already played (served from the render cache);
- the server's CPU per served step event (its process's user + system time) while a class of
  ``CLASS`` pages plays the same run at once: the first class pays the renders, the next one none;
- in Chromium (Playwright, /usr/bin/chromium), the time to apply a streamed step: for a patch
  (every step after the first of a stream), from the ``stage-patch`` event reaching the document to
  lens.js's ``lens:step`` once it is applied; for the whole first step, ``htmx:before:swap`` to
  ``htmx:after:swap`` (the morph). Each is also timed with the style and layout the step costs
  (forced right after it, which the browser would otherwise do before the next frame), and the Long
  Tasks API gives the longest task seen while playing.

Left out: several processes (each renders a step once), proxies, TLS.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from backprop_lens.bench.client import HOST
from backprop_lens.bench.timing import median

BROWSER = {"Accept-Encoding": "gzip, deflate, br, zstd"}
CLASS = 20
NETWORKS = {
    "4-8-8-3": {"sizes": "4, 8, 8, 3", "x": "0.1, 0.2, 0.3, 0.4", "y": "0, 1, 0"},
    "8 layers of 16": {"sizes": ", ".join(["16"] * 8), "x": ", ".join(["0.5"] * 16), "y": ", ".join(["0"] * 16)},
}
COMMON = {"activation": "sigmoid", "cost": "quadratic", "init": "standard", "eta": "0.5", "seed": "1",
          "weights": "", "biases": ""}  # fmt: skip


def server_pid(port: int) -> int:
    """The uvicorn child of this process that serves ``port``."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid() and str(port).encode() in cmdline:
            return int(entry.name)
    raise RuntimeError(f"no child process serves port {port}")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def new_run(client: httpx.AsyncClient, form: dict[str, str]) -> str:
    page = await client.get(f"/?{urlencode({**COMMON, **form})}")
    m = re.search(r'data-run-id="([^"]+)"', page.text)
    if page.status_code != 200 or m is None:
        raise RuntimeError(f"GET / with the network answered {page.status_code}")
    return m.group(1)


async def play(client: httpx.AsyncClient, run_id: str, headers: dict[str, str]) -> dict[str, float]:
    """One page playing the run at the fastest pace: wire bytes, step events, seconds to the first event."""
    start = time.perf_counter()
    first: float | None = None
    wire = 0
    async with client.stream("GET", f"/runs/{run_id}/stream?interval_ms=100", headers=headers) as answer:
        async for chunk in answer.aiter_raw():
            wire += len(chunk)
            if first is None:
                first = time.perf_counter() - start
    return {"wire": wire, "first": first or 0.0}


async def step_events(client: httpx.AsyncClient, run_id: str) -> int:
    text = (await client.get(f"/runs/{run_id}/stream?interval_ms=100", headers={"Accept-Encoding": "identity"})).text
    return len(re.findall(r"^id: \d+$", text, flags=re.MULTILINE))


async def measure_network(port: int, form: dict[str, str], quick: bool) -> dict[str, Any]:
    pid = server_pid(port)
    limits = httpx.Limits(max_connections=CLASS + 2)
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", timeout=60, limits=limits, trust_env=False) as c:
        run_id = await new_run(c, form)
        cold = await play(c, run_id, {**BROWSER, "Connection": "close"})  # renders every step
        warm = [await play(c, run_id, {**BROWSER, "Connection": "close"}) for _ in range(3 if quick else 5)]
        plain = await play(c, run_id, {"Accept-Encoding": "identity"})
        events = await step_events(c, run_id)
        classes = []
        for _ in range(1 if quick else 3):
            fresh = await new_run(c, form)
            before = cpu_seconds(pid)
            await asyncio.gather(*(play(c, fresh, BROWSER) for _ in range(CLASS)))
            first_class = cpu_seconds(pid) - before
            before = cpu_seconds(pid)
            await asyncio.gather(*(play(c, fresh, BROWSER) for _ in range(CLASS)))
            classes.append((first_class, cpu_seconds(pid) - before))
    served = CLASS * events
    return {
        "run_id": run_id,
        "events": events,
        "wire_bytes_per_event": [p["wire"] / events for p in [cold, *warm]],
        "plain_bytes_per_event": plain["wire"] / events,
        "first_event_cold_seconds": cold["first"],
        "first_event_warm_seconds": median([p["first"] for p in warm]),
        "warm_plays": len(warm),
        "cpu_per_event_first_class_seconds": [a / served for a, _ in classes],
        "cpu_per_event_next_class_seconds": [b / served for _, b in classes],
        "class": CLASS,
    }


APPLY_PROBE = """
() => {
  window.applied = []; window.laidOut = []; window.kinds = []; window.longest = 0;
  let t0 = null, kind = null;
  const stage = (e) => e.detail?.ctx?.target?.id === 'stage';
  const done = () => {
    if (t0 === null) return;
    const t1 = performance.now();
    document.body.offsetHeight;  // style and layout now, as the next frame would
    window.applied.push(t1 - t0); window.laidOut.push(performance.now() - t0); window.kinds.push(kind);
    t0 = null;
  };
  document.addEventListener('stage-patch', () => { t0 = performance.now(); kind = 'patch'; }, true);
  document.addEventListener('lens:step', () => { if (kind === 'patch') done(); }, true);
  document.addEventListener('htmx:before:swap', (e) => { if (stage(e)) { t0 = performance.now(); kind = 'whole'; } });
  document.addEventListener('htmx:after:swap', (e) => { if (stage(e) && kind === 'whole') done(); });
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.longest = Math.max(window.longest, e.duration);
  }).observe({ type: 'longtask', buffered: false });
}
"""


def measure_browser(port: int, run_ids: dict[str, str], plays: int) -> dict[str, Any]:
    """Apply times of streamed steps in Chromium, per network: every step of ``plays`` plays of the run."""
    from playwright.sync_api import sync_playwright

    from backprop_lens.bench.chromium import CHROMIUM, CHROMIUM_ARGS

    out: dict[str, Any] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            for name, run_id in run_ids.items():
                context = browser.new_context(base_url=f"http://{HOST}:{port}", viewport={"width": 1400, "height": 900})
                page = context.new_page()
                page.goto(f"/runs/{run_id}")
                page.evaluate(APPLY_PROBE)
                speed = "el => { el.value = '100'; el.dispatchEvent(new Event('input', {bubbles: true})); }"
                page.eval_on_selector("#speed", speed)
                per_play: list[float] = []
                for _ in range(plays):
                    seen = page.evaluate("window.applied.length")
                    page.click("#btn-play")  # from the step after the one shown; from the first at the end
                    page.wait_for_function(
                        "() => document.getElementById('btn-play').ariaPressed === 'false'", timeout=120_000
                    )
                    per_play.append(median(page.evaluate("window.laidOut")[seen:]))
                applied, laid_out, kinds = (page.evaluate(f"window.{v}") for v in ("applied", "laidOut", "kinds"))
                patches = [t for t, k in zip(laid_out, kinds, strict=True) if k == "patch"]
                wholes = [t for t, k in zip(laid_out, kinds, strict=True) if k == "whole"]
                out[name] = {
                    "apply_ms_median": median(applied),
                    "apply_laid_out_ms_median": median(laid_out),
                    "apply_laid_out_ms_max": max(laid_out),
                    "apply_laid_out_ms_median_per_play": per_play,
                    "patch_laid_out_ms_median": median(patches) if patches else None,
                    "whole_laid_out_ms_median": median(wholes) if wholes else None,
                    "longest_task_ms": page.evaluate("window.longest"),
                    "steps": len(applied),
                    "patches": len(patches),
                }
                context.close()
        finally:
            browser.close()
    return out


def browser_missing() -> str | None:
    """None when Playwright and Chromium are there to measure the page in; else what is missing and how to get it."""
    from backprop_lens.bench.chromium import CHROMIUM
    from backprop_lens.bench.optional import missing

    absent = missing("playwright.sync_api")
    if absent is None and not Path(CHROMIUM).exists():
        absent = f"Chromium is not at {CHROMIUM}: apt install chromium"
    return absent


def measure_page_stream(quick: bool) -> dict[str, Any]:
    """Every figure of the page's stream, against one uvicorn process."""
    from backprop_lens.bench.server import running_server

    with running_server() as port:
        networks = {name: asyncio.run(measure_network(port, form, quick)) for name, form in NETWORKS.items()}
        browser: dict[str, Any] | None
        absent = browser_missing()
        if absent is not None:
            browser = {"error": f"not measured: {absent}"}
        else:
            try:
                browser = measure_browser(port, {n: r["run_id"] for n, r in networks.items()}, 1 if quick else 3)
            except Exception as e:  # Chromium failed to start or to play: the other figures still count
                browser = {"error": f"{type(e).__name__}: {e}"}
    return {"networks": networks, "browser": browser}
