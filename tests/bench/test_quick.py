"""The benchmark command's quick mode, run once as a user would (the installed package, from a directory that is
not the repository's, with no PYTHONPATH): it works and reports every row.

No timing threshold is asserted: only that each measurement exists and is a
positive number, and that the ratios are the quotients of the medians shown.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from backprop_lens.bench.timing import median


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    elsewhere = tmp_path_factory.mktemp("bench")
    out = elsewhere / "quick.json"
    done = subprocess.run(
        [sys.executable, "-m", "backprop_lens.bench", "--quick", "--json", str(out)],
        cwd=elsewhere,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    document: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    document["stdout"] = done.stdout
    return document


pytestmark = pytest.mark.slow


def rows_of(document: dict[str, Any], section: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["case"], r["measure"]): r for r in document["rows"] if r["section"] == section}


def test_gradient_rows_have_positive_medians_and_consistent_ratios(quick: dict[str, Any]) -> None:
    rows = rows_of(quick, "gradient, 1 thread")
    for case in ("[2, 3, 2] m=1", "[784, 30, 10] m=10"):
        loop = rows[(case, "per-example loop (baseline)")]
        matrix = rows[(case, "backprop: loop ÷ backprop")]
        floor = rows[(case, "matrix ÷ arithmetic floor")]
        assert loop["value"] > 0 and matrix["value"] > 0 and floor["value"] > 0
        assert matrix["ratio"] == pytest.approx(loop["value"] / matrix["value"])
        assert floor["ratio"] == pytest.approx(matrix["value"] / floor["value"])
        for label in ("PyTorch autograd ÷ matrix", "JAX jit(value_and_grad) ÷ matrix"):
            r = rows[(case, label)]
            # timed when installed (after agreeing with the engine); otherwise the row names the extra to install
            assert (r["value"] is not None and r["value"] > 0) or "pip install 'backprop-lens[" in r["note"], r["note"]
    fd = rows[("[2, 3, 2] m=1", "central differences ÷ matrix")]
    assert fd["value"] > 0 and "35 forward passes" in fd["note"]  # 2P + 1 with P = 17
    assert ("[784, 30, 10] m=10", "central differences ÷ matrix") not in rows


def test_trace_training_server_and_page_rows(quick: dict[str, Any]) -> None:
    trace = rows_of(quick, "trace, 1 thread")
    assert {m for _, m in trace} >= {
        "bare gradient (backprop)",
        "full trace ÷ bare gradient",
        "one step, tolist + json.dumps ÷ gradient",
    }
    assert all(r["value"] > 0 for r in trace.values())
    training = rows_of(quick, "training, 1 thread")
    (per_epoch,) = (r for (_, m), r in training.items() if m == "seconds per epoch")
    assert per_epoch["value"] > 0
    server = rows_of(quick, "server")
    health = server[("GET /api/health", "requests per second")]
    grads = server[("POST /api/gradients", "req/s, gradients ÷ health")]
    assert health["value"] > 0 and grads["value"] > 0
    assert "0 errors" in grads["note"]
    assert server[("POST /api/trace/stream", "time to the first event (p50)")]["value"] > 0
    assert server[("POST /api/trace/stream", "events per second, back-to-back streams")]["value"] > 0
    page = rows_of(quick, "page")
    raw = page[("script + style", "bytes, raw")]["value"]
    gz = page[("script + style", "bytes, gzip -6 each file")]["value"]
    assert 0 < gz < raw


def test_table_and_machine_are_printed(quick: dict[str, Any]) -> None:
    out = quick["stdout"]
    assert out.startswith("machine: ")
    assert "| section | case | measure | median | ratio | target | met | note |" in out
    assert quick["machine"]["blas"]["one"]  # the thread pools the worker saw
    assert quick["quick"] is True


def test_page_stream_rows_report_bytes_cpu_and_the_step_applied_in_chromium(quick: dict[str, Any]) -> None:
    rows = rows_of(quick, "page stream")
    raw = quick["raw"]["page_stream"]["networks"]
    for case in ("4-8-8-3", "8 layers of 16"):
        wire = rows[(case, "bytes per step event on the wire (br)")]
        n = raw[case]
        assert 0 < wire["value"] < n["plain_bytes_per_event"] and wire["target"] is not None
        assert wire["ratio"] == pytest.approx(median(n["wire_bytes_per_event"]) / n["plain_bytes_per_event"])
        assert rows[(case, "time to the first step event")]["value"] > 0
        assert rows[(case, "server CPU per served step event")]["value"] >= 0
        applied = rows[(case, "a streamed step applied in Chromium (median)")]
        assert applied["value"] > 0 and applied["target"] is not None, applied["note"]
        assert rows[(case, "the same with its style and layout (median)")]["value"] >= applied["value"]
        assert quick["raw"]["page_stream"]["browser"][case]["patches"] > 0
