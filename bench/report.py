"""The measurements as rows: medians, ratios against the baselines of the same run, and the issue's targets.

Every ratio is oriented so that the target reads as the issue states it:
"loop ÷ backprop ≥ 10×" means the public ``backprop`` is at least ten times faster;
"matrix ÷ floor ≤ 1.3×" means within 1.3 times the arithmetic floor.

A target is judged only on a median of at least ``MIN_SAMPLES`` samples (each taken after a warm-up):
one sample may be someone else's busy moment on the shared cores, or the first, cold call. A row measured
fewer times shows its figure and says it is not judged.

Left out: measuring anything (``bench.worker``, ``bench.server``).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

SMALL = ([2, 3, 2], [2, 4, 4, 1])
MIN_SAMPLES = 3


@dataclass(frozen=True)
class Target:
    text: str
    test: Callable[[float], bool]

    @staticmethod
    def at_least(x: float) -> Target:
        return Target(f"≥ {x:g}×", lambda r: operator.ge(r, x))

    @staticmethod
    def at_most(x: float, unit: str = "×") -> Target:
        return Target(f"≤ {x:g}{unit}", lambda r: operator.le(r, x))


@dataclass(frozen=True)
class Row:
    section: str
    case: str
    measure: str
    value: float | None
    unit: str
    ratio: float | None = None
    target: str | None = None
    met: bool | None = None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def row(
    section: str,
    case: str,
    measure: str,
    value: float | None,
    unit: str,
    ratio: float | None = None,
    target: Target | None = None,
    note: str = "",
    judged: float | None = None,
    samples: int | None = None,
) -> Row:
    """A row; the target is judged on ``judged`` when given, else on the ratio, and only when the figure is a
    median of at least ``MIN_SAMPLES`` samples (``samples`` of them; None: every caller's figure is such a median)."""
    subject = judged if judged is not None else ratio
    met = None if target is None or subject is None else target.test(subject)
    if target is not None and samples is not None and samples < MIN_SAMPLES:
        met = None
        unjudged = f"not judged: {samples} sample(s), a pass or a fail needs the median of {MIN_SAMPLES}"
        note = f"{note}; {unjudged}" if note else unjudged
    return Row(section, case, measure, value, unit, ratio, target.text if target else None, met, note)


def case_name(sizes: list[int], m: int) -> str:
    return f"{sizes} m={m}"


def gradient_targets(sizes: list[int], m: int) -> dict[str, Target]:
    targets: dict[str, Target] = {}
    if sizes == [784, 30, 10] and m == 10:
        targets |= {"loop": Target.at_least(10), "floor": Target.at_most(3), "torch": Target.at_least(3)}
    elif sizes == [784, 100, 10] and m == 100:
        targets |= {"loop": Target.at_least(25), "floor": Target.at_most(1.3), "torch": Target.at_least(1.2)}
    elif sizes == [784, 30, 10] and m == 1000:
        targets |= {"floor": Target.at_most(1.3), "torch": Target.at_least(1.2)}
    elif sizes in SMALL:
        targets |= {"torch": Target.at_least(3), "jax": Target.at_least(1)}
    return targets


def worker_rows(result: dict[str, Any]) -> list[Row]:
    """The engine's rows of one thread setting; targets apply to the one-thread run only."""
    one = result["threads"] == "one"
    # every gradient and trace figure is the median of the worker's interleaved rounds
    timed = functools.partial(row, samples=result.get("rounds"))
    section = "gradient, 1 thread" if one else "gradient, default threads"
    rows: list[Row] = []
    for case in result["cases"]:
        name = case_name(case["sizes"], case["batch"])
        t = case["seconds"]
        targets = gradient_targets(case["sizes"], case["batch"]) if one else {}
        matrix = t["matrix"]
        rows.append(timed(section, name, "per-example loop (baseline)", t["loop"], "s"))
        rows.append(
            timed(
                section, name, "backprop: loop ÷ backprop", matrix, "s", t["loop"] / matrix, targets.get("loop"),
                note="engine.backprop as users call it: inputs checked, results the caller's own",
            )
        )  # fmt: skip
        for key in ("torch", "jax"):
            meta = case["comparators"].get(key)
            if key in t and meta is not None:
                threads = f", {meta['threads']} thread(s)" if meta.get("threads") is not None else ", default threads"
                rows.append(
                    timed(
                        section,
                        name,
                        f"{meta['label']} ÷ matrix",
                        t[key],
                        "s",
                        t[key] / matrix,
                        targets.get(key),
                        note=f"{meta['version']}{threads}",
                    )
                )
            else:
                label = {"torch": "PyTorch autograd", "jax": "JAX jit(value_and_grad)"}[key]
                rows.append(timed(section, name, f"{label} ÷ matrix", None, "s", note=case["notes"].get(key, "")))
        if "finite_differences" in t:
            rows.append(
                timed(
                    section,
                    name,
                    "central differences ÷ matrix",
                    t["finite_differences"],
                    "s",
                    t["finite_differences"] / matrix,
                    note=f"{case['forward_passes_fd']} forward passes",
                )
            )
        rows.append(
            timed(
                section,
                name,
                "matrix ÷ arithmetic floor",
                case["floor_seconds"],
                "s",
                matrix / case["floor_seconds"],
                targets.get("floor"),
                note=f"6·P·m = {case['floor_flops']:.3g} flop at {case['gemm_flops_per_second'] / 1e9:.3g} GFLOP/s, "
                f"a {result['gemm_size']}² product timed in the same rounds",
            )
        )
    tr = result["trace"]
    ts = tr["seconds"]
    tname = case_name(tr["sizes"], tr["batch"])
    tsec = "trace, 1 thread" if one else "trace, default threads"
    g = ts["gradient"]
    n = tr["steps"]
    rows += [
        timed(tsec, tname, "bare gradient (backprop)", g, "s"),
        timed(
            tsec,
            tname,
            "full trace ÷ bare gradient",
            ts["trace"],
            "s",
            ts["trace"] / g,
            Target.at_most(1.3) if one else None,
            note="the trace also updates and takes C after: one more forward pass",
        ),
        timed(
            tsec,
            tname,
            "full trace ÷ same iteration unrecorded",
            ts["unrecorded"],
            "s",
            ts["trace"] / ts["unrecorded"],
            note="unrecorded: backprop + update + cost after, nothing kept",
        ),
        timed(
            tsec,
            tname,
            "one step, tolist + json.dumps ÷ gradient",
            ts["json_all"] / n,
            "s",
            ts["json_all"] / n / g,
            note=f"mean over the {n} steps",
        ),
        timed(
            tsec,
            tname,
            f"one step, Step.to_json ({tr['serializer']}) ÷ gradient",
            ts["to_json_all"] / n,
            "s",
            ts["to_json_all"] / n / g,
            Target.at_most(1) if one else None,
            note=f"mean over the {n} steps",
        ),
        timed(
            tsec,
            tname,
            "largest step, tolist + json.dumps ÷ gradient",
            ts["json_largest"],
            "s",
            ts["json_largest"] / g,
            note=tr["largest_step"],
        ),
        timed(
            tsec,
            tname,
            f"largest step, Step.to_json ({tr['serializer']}) ÷ gradient",
            ts["to_json_largest"],
            "s",
            ts["to_json_largest"] / g,
            Target.at_most(1) if one else None,
            note=tr["largest_step"],
        ),
    ]
    tg = result["training"]
    per_epoch = tg["seconds_per_epoch"]
    rows += [
        row(
            "training, 1 thread" if one else "training, default threads",
            f"digits {tg['sizes']} m={tg['mini_batch']}",
            "seconds per epoch",
            per_epoch,
            "s",
            note=f"{tg['examples']} examples, median of {tg['runs']} run(s) of {tg['epochs_per_run']} epoch(s); "
            f"training accuracy {tg['training_accuracy']:.1%}; data: {tg['source']}",
        ),
        row(
            "training, 1 thread" if one else "training, default threads",
            f"digits {tg['sizes']} m={tg['mini_batch']}",
            "30 epochs (30 × seconds per epoch)",
            30 * per_epoch,
            "s",
            target=Target.at_most(1, " s") if one else None,
            judged=30 * per_epoch,
            samples=tg["runs"],
        ),
    ]
    if "seconds_per_epoch_with_callback" in tg:
        with_callback = tg["seconds_per_epoch_with_callback"]
        rows.append(
            row(
                "training, 1 thread" if one else "training, default threads",
                f"digits {tg['sizes']} m={tg['mini_batch']}",
                "per-epoch callback ÷ none",
                with_callback,
                "s",
                with_callback / per_epoch,
                Target.at_most(1.2) if one else None,
                note=f"SGD(callback=..., every='epoch'), the callback measuring accuracy on {tg['test_examples']} "
                f"held-out digits"
                + (f" ({tg['test_accuracy']:.1%} at the end)" if tg.get("test_accuracy") is not None else ""),
                samples=tg["runs"],
            )
        )
    return rows


def server_rows(s: dict[str, Any]) -> list[Row]:
    h, g = s["health"], s["gradients"]
    generator = s.get("load_generator", "the httpx client (bench.client)")
    rounds = f"{s['rounds']} alternated rounds × {s['seconds_per_round']:g} s"
    load = f"{generator}; {s['connections']} connections, {rounds}"
    fe, st, page = s["first_event"], s["stream"], s["page"]
    ratio = g["requests_per_second"] / h["requests_per_second"]
    per_health = [a / b for a, b in zip(s["gradients_per_round"], s["health_per_round"], strict=True)]
    rows_floor: list[Row] = []
    if "floor" in s:
        f = s["floor"]
        per_round = [a / b for a, b in zip(s["gradients_per_round"], s["floor_per_round"], strict=True)]
        rows_floor = [
            row(
                "server",
                "POST /bench/floor",
                "requests per second",
                f["requests_per_second"],
                "req/s",
                note=f"the bench's own route: reads the body, answers prebuilt bytes of the gradient's reply; "
                f"{f['errors']} errors",
            ),
            row(
                "server",
                "POST /api/gradients",
                "req/s, gradients ÷ floor",
                g["requests_per_second"],
                "req/s",
                g["requests_per_second"] / f["requests_per_second"],
                Target.at_least(0.8),
                note=f"medians of the rounds; per round {min(per_round):.2f}–{max(per_round):.2f}×",
                samples=s["rounds"],
            ),
        ]
    if "bare_floor" in s:
        b = s["bare_floor"]
        per_bare = [x / y for x, y in zip(s["gradients_per_round"], s["bare_floor_per_round"], strict=True)]
        rows_floor += [
            row(
                "server",
                "POST /bench/floor-bare",
                "requests per second",
                b["requests_per_second"],
                "req/s",
                note=f"the floor without FastAPI's request handler, as the gradient route's fast lane; "
                f"{b['errors']} errors",
            ),
            row(
                "server",
                "POST /api/gradients",
                "req/s, gradients ÷ bare floor",
                g["requests_per_second"],
                "req/s",
                g["requests_per_second"] / b["requests_per_second"],
                note=f"what the route's own work costs; per round {min(per_bare):.2f}–{max(per_bare):.2f}×",
            ),
        ]
    cpu = s.get("server_cpu_per_request_per_round", {})
    if cpu.get("floor") and cpu.get("gradients"):
        per_cpu = [f / x for f, x in zip(cpu["floor"], cpu["gradients"], strict=True)]
        g_cpu, f_cpu = s["gradients"]["server_cpu_seconds_per_request"], s["floor"]["server_cpu_seconds_per_request"]
        rows_floor.append(
            row(
                "server",
                "POST /api/gradients",
                "server CPU per request, floor ÷ gradients",
                g_cpu,
                "s",
                f_cpu / g_cpu,
                note=f"the uvicorn process's user + system time per request (floor {f_cpu * 1e6:.0f} µs), "
                f"steadier than req/s when the cores are shared; per round {min(per_cpu):.2f}–{max(per_cpu):.2f}×",
            )
        )
    return [
        row("server", "GET /api/health", "requests per second", h["requests_per_second"], "req/s", note=load),
        row(
            "server",
            "GET /api/health",
            "p50 / p99 latency",
            h["p50_seconds"],
            "s",
            note=f"p99 {h['p99_seconds'] * 1e3:.1f} ms",
        ),
        row(
            "server",
            "POST /api/gradients",
            "req/s, gradients ÷ health",
            g["requests_per_second"],
            "req/s",
            ratio,
            Target.at_least(0.8),
            note=f"default 2-2-2 network; {g['errors']} errors; per round {min(per_health):.2f}–{max(per_health):.2f}×",
            samples=s["rounds"],
        ),
        *rows_floor,
        row(
            "server",
            "POST /api/gradients",
            "p50 / p99 latency",
            g["p50_seconds"],
            "s",
            note=f"p99 {g['p99_seconds'] * 1e3:.1f} ms",
        ),
        row(
            "server",
            "POST /api/trace/stream",
            "time to the first event (p50)",
            fe["p50_seconds"],
            "s",
            target=Target.at_most(0.05, " s"),
            judged=fe["p50_seconds"],
            note=f"{fe['tries']} new connections; p99 {fe['p99_seconds'] * 1e3:.1f} ms",
            samples=fe["tries"],
        ),
        row(
            "server",
            "POST /api/trace/stream",
            "events per second, back-to-back streams",
            st["events_per_second"],
            "events/s",
            note=f"{st['sizes']}: {st['events'] // max(st['streams'], 1)} events a stream, {st['streams']} streams",
        ),
        row("page", "script + style", "bytes, raw", page["raw_bytes"], "bytes", note=page["source"]),
        row(
            "page",
            "script + style",
            "bytes, gzip -6 each file",
            page["gzip_bytes"],
            "bytes",
            target=Target.at_most(60_000, " bytes"),
            judged=page["gzip_bytes"],
            note=", ".join(page["files"]),
        ),
    ]


def fmt_value(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "s":
        for scale, name in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
            if value >= scale:
                return f"{value / scale:.3g} {name}"
        return f"{value * 1e9:.3g} ns"
    if unit == "flop/s":
        return f"{value / 1e9:.3g} GFLOP/s"
    if unit == "bytes":
        return f"{value / 1000:.1f} KB"
    return f"{value:,.0f} {unit}"


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table (it reads well in a terminal too)."""
    out = [
        "| section | case | measure | median | ratio | target | met | note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ratio = "" if r.ratio is None else f"{r.ratio:.2f}×"
        met = "" if r.met is None else ("yes" if r.met else "**no**")
        cells = [r.section, r.case, r.measure, fmt_value(r.value, r.unit), ratio, r.target or "", met, r.note]
        out.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(out)


def page_stream_rows(ps: dict[str, Any]) -> list[Row]:
    """The step-through page's stream (``bench.page_stream``): wire bytes, server CPU, swap time in Chromium."""
    from backprop_lens.bench.timing import median

    bytes_target = {"4-8-8-3": 3_000, "8 layers of 16": 12_000}
    swap_target = {"4-8-8-3": 16.0, "8 layers of 16": 50.0}
    rows: list[Row] = []
    for name, n in ps["networks"].items():
        wire = n["wire_bytes_per_event"]
        rows += [
            row(
                "page stream",
                name,
                "bytes per step event on the wire (br)",
                median(wire),
                "bytes",
                median(wire) / n["plain_bytes_per_event"],
                Target.at_most(bytes_target[name], " bytes"),
                judged=median(wire),
                note=f"{n['events']} steps; uncompressed {n['plain_bytes_per_event'] / 1e3:.1f} KB a step; "
                f"ratio = compressed ÷ uncompressed; median of {len(wire)} plays",
                samples=len(wire),
            ),
            row(
                "page stream",
                name,
                "time to the first step event",
                n["first_event_warm_seconds"],
                "s",
                target=Target.at_most(0.05, " s"),
                judged=n["first_event_warm_seconds"],
                note=f"a rendered run (median); a new run: {n['first_event_cold_seconds'] * 1e3:.0f} ms",
                samples=n.get("warm_plays"),
            ),
            row(
                "page stream",
                name,
                "server CPU per served step event",
                median(n["cpu_per_event_next_class_seconds"]),
                "s",
                note=f"a class of {n['class']} playing a rendered run; the first class (renders once): "
                f"{median(n['cpu_per_event_first_class_seconds']) * 1e3:.1f} ms",
            ),
        ]
    browser = ps.get("browser") or {}
    if "error" in browser:
        return [*rows, row("page stream", "Chromium", "a streamed step applied", None, "s", note=browser["error"])]
    for name, b in browser.items():
        per_play = b["apply_laid_out_ms_median_per_play"]
        whole = b["whole_laid_out_ms_median"]
        rows += [
            row(
                "page stream",
                name,
                "a streamed step applied in Chromium (median)",
                b["apply_ms_median"] / 1e3,
                "s",
                target=Target.at_most(swap_target[name] / 1e3, " s"),
                judged=b["apply_ms_median"] / 1e3,
                samples=b["steps"],
                note=f"a mark around it: stage-patch → lens:step ({b['patches']} patches), htmx:before:swap → "
                f"after:swap ({b['steps'] - b['patches']} whole first steps)",
            ),
            row(
                "page stream",
                name,
                "the same with its style and layout (median)",
                b["apply_laid_out_ms_median"] / 1e3,
                "s",
                note=f"layout forced after each step; per play {min(per_play):.1f}–{max(per_play):.1f} ms; a whole "
                f"first step {'-' if whole is None else f'{whole:.0f}'} ms; max {b['apply_laid_out_ms_max']:.0f} ms, "
                f"longest task {b['longest_task_ms']:.0f} ms",
            ),
        ]
    return rows
