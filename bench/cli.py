"""``backprop-lens bench`` and ``python -m backprop_lens.bench``: run the benchmarks, print the table, write JSON.

The engine is measured in a subprocess per thread setting, since the BLAS and
PyTorch thread counts must be fixed before NumPy is imported: first one thread
for every library (the figures the targets apply to: on two shared cores two
libraries' thread pools in one process fight each other), then the libraries'
own defaults. ``--quick`` runs two gradient cases, one thread only, short
samples and a short server load: seconds, not minutes, for CI to prove that
the command works. The server's request rates come from wrk where it is
installed (``bench.wrk``), from the httpx client otherwise; the rows name it.
The subprocesses import ``backprop_lens`` as installed (a wheel or an editable
install), from any working directory. A part whose optional dependency is missing
leaves rows that name the extra to install (``bench.optional``); the rest runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from backprop_lens.bench.optional import missing
from backprop_lens.bench.report import Row, row, server_rows, table, worker_rows

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
ONE_THREAD_XLA = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
REPORTED_ENVIRONMENT = (
    *THREAD_VARIABLES,
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "MALLOC_TRIM_THRESHOLD_",
    "MALLOC_MMAP_THRESHOLD_",
)
WORKER_TIMEOUT = 1800.0


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help="a reduced set in seconds (what CI runs)")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the results as JSON to FILE")
    p.add_argument(
        "--skip",
        action="append",
        choices=["default-threads", "server", "page-stream"],
        default=[],
        help="leave out a part (may be repeated)",
    )


def worker_environment(threads: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    env["JAX_PLATFORMS"] = "cpu"
    if threads == "one":
        env |= {name: "1" for name in THREAD_VARIABLES}
        env["XLA_FLAGS"] = " ".join(f for f in (os.environ.get("XLA_FLAGS", ""), ONE_THREAD_XLA) if f)
    return env


def run_worker(threads: str, quick: bool) -> dict[str, Any]:
    """``bench.worker`` in a fresh interpreter with the thread variables of ``threads``.

    ``-P``: the working directory is not put on the path, so the installed ``backprop_lens`` is the one imported.
    """
    cmd = [sys.executable, "-P", "-m", "backprop_lens.bench.worker", "--threads", threads]
    cmd += ["--quick"] if quick else []
    done = subprocess.run(cmd, env=worker_environment(threads), capture_output=True, text=True, timeout=WORKER_TIMEOUT)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def cpu_model() -> str:
    if shutil.which("lscpu"):
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - not on every platform
        return None


def machine(workers: list[dict[str, Any]], load_before: list[float] | None) -> dict[str, Any]:
    return {
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": workers[0]["numpy"] if workers else None,
        "blas": {w["threads"]: w["blas"] for w in workers},
        "environment": {k: os.environ[k] for k in REPORTED_ENVIRONMENT if k in os.environ},
        "load_average_before": load_before,
        "load_average_after": load_average(),
    }


def describe(m: dict[str, Any]) -> str:
    lines = [
        f"machine: {m['cpu']}, {m['logical_cpus']} logical CPUs; {m['platform']}",
        f"Python {m['python']}, NumPy {m['numpy']}",
        f"load average (1, 5, 15 min) before: {m['load_average_before']}, after: {m['load_average_after']}"
        " (other people's work on the same cores slows every figure; the ratios hold better)",
    ]
    for threads, pools in m["blas"].items():
        shown = "; ".join(
            f"{p.get('internal_api') or p.get('name')} {p.get('version') or ''} "
            f"{p.get('architecture') or ''} threads={p.get('num_threads')}".replace("  ", " ")
            for p in pools
        )
        lines.append(f"thread pools ({threads}): {shown}")
        lines += sorted({str(p["note"]) for p in pools if p.get("note")})
    env = m["environment"]
    lines.append(
        "environment: "
        + (", ".join(f"{k}={v}" for k, v in env.items()) if env else "no thread, OpenBLAS or malloc variables set")
    )
    return "\n".join(lines)


PART_SECTIONS = {"server": ["server", "page"], "page-stream": ["page stream"]}
PART_NEEDS = {"server": ["httpx"], "page-stream": ["httpx"]}


def measured_part(
    part: str, measure: Callable[[], dict[str, Any]], rows_of: Callable[[dict[str, Any]], list[Row]]
) -> tuple[dict[str, Any] | None, list[Row]]:
    """The figures and rows of one part; without one of its optional modules, a row per section saying which
    extra to install, and no figures."""
    problems = [p for p in (missing(m) for m in PART_NEEDS[part]) if p is not None]
    if problems:
        note = f"not measured: {'; '.join(problems)}"
        return None, [row(section, "—", "not measured", None, "", note=note) for section in PART_SECTIONS[part]]
    figures = measure()
    return figures, rows_of(figures)


def run(args: argparse.Namespace) -> int:
    load_before = load_average()
    settings = ["one"] if args.quick or "default-threads" in args.skip else ["one", "default"]
    workers = [run_worker(threads, args.quick) for threads in settings]
    rows: list[Row] = [r for w in workers for r in worker_rows(w)]
    server: dict[str, Any] | None = None
    if "server" not in args.skip:

        def measure_server() -> dict[str, Any]:
            from backprop_lens.bench.server import measure_server

            return measure_server(args.quick)

        server, more = measured_part("server", measure_server, server_rows)
        rows += more
    page_stream: dict[str, Any] | None = None
    if "page-stream" not in args.skip:

        def measure_page_stream() -> dict[str, Any]:
            from backprop_lens.bench.page_stream import measure_page_stream

            return measure_page_stream(args.quick)

        from backprop_lens.bench.report import page_stream_rows

        page_stream, more = measured_part("page-stream", measure_page_stream, page_stream_rows)
        rows += more
    m = machine(workers, load_before)
    print(describe(m))
    print()
    print(table(rows))
    if args.json is not None:
        document = {
            "quick": bool(args.quick),
            "machine": m,
            "rows": [r.as_dict() for r in rows],
            "raw": {"workers": workers, "server": server, "page_stream": page_stream},
        }
        args.json.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


try:
    from backprop_lens.app.cli import command
except ImportError:  # pragma: no cover - the bench runs without the app's console script
    pass
else:
    command("bench", "measure the engine, the API and the page against baselines", configure)(run)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m backprop_lens.bench", description="Measure the engine, the API and the page against baselines."
    )
    configure(parser)
    return run(parser.parse_args(argv))
