"""The engine's measurements, run in a subprocess whose thread settings were fixed before NumPy loaded.

``python -m backprop_lens.bench.worker --threads one|default [--quick]`` prints one JSON
object on standard output: the machine's matrix-multiply rate, the gradient of
each case by every method, the trace and serialisation costs, and training
time on the digits. ``bench.cli`` starts it once per thread setting.

Left out: the server and the page (``bench.server``), and any judgement of
the numbers (``bench.report``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from backprop_lens.bench.baseline import backprop_per_example
from backprop_lens.bench.comparators import Comparator, jax_jit, torch_autograd
from backprop_lens.bench.optional import install_hint, missing, optional
from backprop_lens.bench.timing import Budget, interleaved_medians, median
from backprop_lens.engine import SGD, Network, backprop, numerical_gradient, trace
from backprop_lens.engine.backprop import cost_of
from backprop_lens.engine.datasets import load_digits_file, one_hot
from backprop_lens.engine.sgd import Progress, stepped
from backprop_lens.engine.training import accuracy

Array = NDArray[np.float64]

FULL_CASES: list[tuple[list[int], int]] = [
    ([2, 3, 2], 1),
    ([2, 4, 4, 1], 4),
    ([784, 30, 10], 10),
    ([784, 100, 10], 100),
    ([784, 30, 10], 1000),
]
QUICK_CASES: list[tuple[list[int], int]] = [([2, 3, 2], 1), ([784, 30, 10], 10)]
TRACE_CASE: tuple[list[int], int] = ([784, 30, 10], 10)
FINITE_DIFFERENCES_MAX_PARAMETERS = 100
DIGITS_SIZES = [64, 30, 10]


def case_data(sizes: list[int], m: int) -> tuple[Network, Array, Array]:
    """A seeded network with N(0, 1/n_in) weights, inputs in [0, 1) and targets in [0, 1)."""
    rng = np.random.default_rng(m)
    net = Network(sizes, seed=0, init="scaled")
    return net, rng.random((m, sizes[0])), rng.random((m, sizes[-1]))


def square_product(n: int) -> Callable[[], object]:
    """An n×n float64 matrix product (2n³ operations), to time beside each case."""
    rng = np.random.default_rng(0)
    a, b, out = rng.random((n, n)), rng.random((n, n)), np.empty((n, n))
    # into a buffer made once: the rate of the arithmetic, not of fresh pages for an 8 MB result
    return lambda: np.matmul(a, b, out=out)


def agrees(comparator: Comparator, net: Network, x: Array, y: Array) -> str | None:
    """None when the comparator's cost and gradient equal the engine's to 1e-9; else what differs."""
    g = backprop(net, x, y)
    ours = [arr for pair in zip(g.nabla_w, g.nabla_b, strict=True) for arr in pair]
    cost, theirs = comparator.check()
    if not np.isclose(cost, g.cost, rtol=1e-9, atol=0):
        return f"cost {cost!r} differs from the engine's {g.cost!r}"
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        if not np.allclose(a, b, rtol=1e-9, atol=1e-12):
            return f"gradient {i} differs from the engine's"
    return None


def gradient_case(sizes: list[int], m: int, budget: Budget, one_thread: bool, gemm_n: int) -> dict[str, Any]:
    net, x, y = case_data(sizes, m)
    # The floor's matrix-multiply rate is sampled in the same rounds as the
    # gradients, so a busy spell slows both and their ratio holds.
    candidates: dict[str, Callable[[], object]] = {
        "gemm": square_product(gemm_n),
        "matrix": lambda: backprop(net, x, y),  # the public function, as users call it
        "loop": lambda: backprop_per_example(net, x, y),
    }
    notes: dict[str, str] = {}
    meta: dict[str, dict[str, Any]] = {}
    for key in ("torch", "jax"):
        try:
            comparator = torch_autograd(net, x, y, one_thread) if key == "torch" else jax_jit(net, x, y, one_thread)
        except Exception as exc:  # a baseline that fails to set up leaves its row empty, never the bench
            notes[key] = f"not timed: {type(exc).__name__}: {exc}"
            continue
        if comparator is None:
            notes[key] = missing(key) or f"not timed: {key} did not load"
            continue
        problem = agrees(comparator, net, x, y)
        if problem is not None:
            notes[key] = f"not timed: {problem}"
            continue
        candidates[key] = comparator.gradient
        meta[key] = {"label": comparator.label, "version": comparator.version, "threads": comparator.threads}
    if net.num_parameters <= FINITE_DIFFERENCES_MAX_PARAMETERS:
        candidates["finite_differences"] = lambda: numerical_gradient(net, x, y)
    seconds = interleaved_medians(candidates, budget)
    rate = 2.0 * gemm_n**3 / seconds.pop("gemm")
    flops = 6.0 * net.num_parameters * m
    return {
        "sizes": sizes,
        "batch": m,
        "parameters": net.num_parameters,
        "seconds": seconds,
        "gemm_flops_per_second": rate,
        "floor_seconds": flops / rate,
        "floor_flops": flops,
        "forward_passes_fd": 2 * net.num_parameters + 1,
        "comparators": meta,
        "notes": notes,
    }


def trace_case(budget: Budget) -> dict[str, Any]:
    """The trace against the bare gradient, and one step's JSON by both serialisers."""
    sizes, m = TRACE_CASE
    net, x, y = case_data(sizes, m)
    eta = 0.5

    def unrecorded() -> float:
        # the arithmetic of one traced iteration, with nothing recorded
        return cost_of(stepped(net, backprop(net, x, y), eta), x, y)

    t = trace(net, x, y, eta=eta)
    steps = t.steps
    largest = max(steps, key=lambda s: len(json.dumps(s.to_dict())))
    seconds = interleaved_medians(
        {
            "gradient": lambda: backprop(net, x, y),
            "trace": lambda: trace(net, x, y, eta=eta),
            "unrecorded": unrecorded,
            "json_all": lambda: [json.dumps(s.to_dict()) for s in steps],
            "to_json_all": lambda: [s.to_json() for s in steps],
            "json_largest": lambda: json.dumps(largest.to_dict()),
            "to_json_largest": largest.to_json,
        },
        budget,
    )
    orjson = optional("orjson")  # Step.to_json uses it exactly when it is installed
    return {
        "sizes": sizes,
        "batch": m,
        "steps": len(steps),
        "largest_step": f"{largest.kind} (layer {largest.layer}), {len(largest.to_json())} bytes",
        "serializer": f"orjson {orjson.__version__}"
        if orjson is not None
        else f"json: orjson is not installed, {install_hint('orjson')}",
        "seconds": seconds,
    }


def load_digits() -> tuple[Array, Array, str]:
    """All 1797 digits: pixels scaled to [0, 1] and one-hot targets, and where they came from."""
    raw, labels = load_digits_file()
    return raw / 16.0, one_hot(labels, 10), "engine.datasets.load_digits_file"


TEST_DIGITS = 297
"""The last digits, held out: what the per-epoch callback evaluates."""


def training(epochs: int, runs: int) -> dict[str, Any]:
    """Seconds per epoch of SGD on the digits, [64, 30, 10], mini-batch 10, η = 3: the median of ``runs`` runs,
    without a callback and with a per-epoch callback that measures the accuracy on held-out digits.

    One epoch is trained first and not timed, so that no run pays for first calls and cold caches. The two
    kinds of run alternate, so a busy spell slows both.
    """
    x, y, source = load_digits()
    x_train, y_train, x_test, y_test = x[:-TEST_DIGITS], y[:-TEST_DIGITS], x[-TEST_DIGITS:], y[-TEST_DIGITS:]
    SGD(Network(DIGITS_SIZES, seed=runs), x_train, y_train, epochs=1, mini_batch_size=10, eta=3.0)
    per_epoch: list[float] = []
    with_callback: list[float] = []
    accuracy_seen: list[float] = []

    def evaluate(net: Network, progress: Progress) -> None:
        accuracy_seen.append(accuracy(net, x_test, y_test) or 0.0)

    train_accuracy = 0.0
    for run in range(runs):
        start = time.perf_counter()
        trained = SGD(Network(DIGITS_SIZES, seed=run), x_train, y_train, epochs=epochs, mini_batch_size=10, eta=3.0)
        per_epoch.append((time.perf_counter() - start) / epochs)
        start = time.perf_counter()
        SGD(
            Network(DIGITS_SIZES, seed=run), x_train, y_train, epochs=epochs, mini_batch_size=10, eta=3.0,
            callback=evaluate, every="epoch",
        )  # fmt: skip
        with_callback.append((time.perf_counter() - start) / epochs)
        train_accuracy = accuracy(trained, x_train, y_train) or 0.0
    return {
        "examples": int(x_train.shape[0]),
        "test_examples": TEST_DIGITS,
        "sizes": DIGITS_SIZES,
        "mini_batch": 10,
        "epochs_per_run": epochs,
        "runs": runs,
        "seconds_per_epoch": median(per_epoch),
        "seconds_per_epoch_with_callback": median(with_callback),
        "training_accuracy": train_accuracy,
        "test_accuracy": accuracy_seen[-1] if accuracy_seen else None,
        "source": source,
    }


def blas_info() -> list[dict[str, Any]]:
    """The BLAS NumPy loaded, its thread count and kernel, from threadpoolctl when installed."""
    threadpoolctl = optional("threadpoolctl")
    if threadpoolctl is None:
        config: Any = np.show_config(mode="dicts")
        blas = config.get("Build Dependencies", {}).get("blas", {}) if isinstance(config, dict) else {}
        return [
            {
                "name": blas.get("name"),
                "version": blas.get("version"),
                "num_threads": "unknown",
                "note": f"threads unknown: threadpoolctl is not installed, {install_hint('threadpoolctl')}",
            }
        ]
    return [
        {k: info.get(k) for k in ("internal_api", "version", "num_threads", "architecture", "threading_layer")}
        for info in threadpoolctl.threadpool_info()
    ]


def run(threads: str, quick: bool) -> dict[str, Any]:
    one_thread = threads == "one"
    budget = Budget(0.002, 3) if quick else Budget(0.02, 11)
    gemm_n = 400 if quick else 1000
    cases = [gradient_case(s, m, budget, one_thread, gemm_n) for s, m in (QUICK_CASES if quick else FULL_CASES)]
    return {
        "threads": threads,
        "quick": quick,
        "numpy": np.__version__,
        "blas": blas_info(),
        "gemm_size": gemm_n,
        "cases": cases,
        "trace": trace_case(budget),
        "rounds": budget.rounds,
        "training": training(1, 3) if quick else training(10, 3),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backprop_lens.bench.worker")
    parser.add_argument("--threads", choices=["one", "default"], required=True)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    json.dump(run(args.threads, args.quick), sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
