"""A pass or a fail is decided on a median of several samples, each after a warm-up, never on one cold sample.

The rows are built from figures written here (no timing is run): a target over fewer than ``MIN_SAMPLES``
samples is shown, not judged, and says why; the quick bench's training figure is a median of several runs.
"""

from __future__ import annotations

from typing import Any

import pytest

from backprop_lens.bench import worker
from backprop_lens.bench.report import MIN_SAMPLES, Target, page_stream_rows, row, worker_rows
from backprop_lens.bench.timing import median, percentile


def test_median_and_percentile() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5
    values = [float(i) for i in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([5.0], 99) == 5.0
    assert percentile([], 50) == 0.0


def test_a_target_is_judged_on_enough_samples_only() -> None:
    at_most = Target.at_most(1, " s")
    assert row("s", "c", "m", 2.0, "s", target=at_most, judged=2.0, samples=MIN_SAMPLES).met is False
    assert row("s", "c", "m", 0.5, "s", target=at_most, judged=0.5, samples=MIN_SAMPLES).met is True
    single = row("s", "c", "m", 2.0, "s", target=at_most, judged=2.0, samples=1, note="figure")
    assert single.met is None and single.target == "≤ 1 s" and single.value == 2.0
    assert single.note == f"figure; not judged: 1 sample(s), a pass or a fail needs the median of {MIN_SAMPLES}"
    assert row("s", "c", "m", 2.0, "s", samples=1).note == ""  # no target, nothing to judge


def worker_result(rounds: int, runs: int) -> dict[str, Any]:
    seconds = {"matrix": 1e-4, "loop": 2e-3}
    case = {"sizes": [784, 30, 10], "batch": 10, "seconds": seconds, "comparators": {}, "notes": {},
            "floor_seconds": 5e-5, "floor_flops": 1e6, "gemm_flops_per_second": 2e10}  # fmt: skip
    trace = {"sizes": [784, 30, 10], "batch": 10, "steps": 8, "largest_step": "x", "serializer": "json",
             "seconds": dict.fromkeys(("gradient", "trace", "unrecorded", "json_all", "to_json_all", "json_largest",
                                       "to_json_largest"), 1e-4)}  # fmt: skip
    training = {"seconds_per_epoch": 0.01, "sizes": [64, 30, 10], "mini_batch": 10, "examples": 1797, "runs": runs,
                "epochs_per_run": 1, "training_accuracy": 0.9, "source": "x"}  # fmt: skip
    return {"threads": "one", "rounds": rounds, "cases": [case], "trace": trace, "training": training,
            "gemm_size": 400}  # fmt: skip


def test_the_engines_targets_are_judged_on_medians_of_rounds_and_runs() -> None:
    judged = worker_rows(worker_result(rounds=3, runs=3))
    targets = [r for r in judged if r.target]
    assert len(targets) == 6 and all(r.met is True for r in targets)  # loop, floor, trace, 2 × to_json, 30 epochs
    once = worker_rows(worker_result(rounds=1, runs=1))
    assert [r.target for r in once if r.target] == [r.target for r in judged if r.target]
    assert all(r.met is None and "not judged" in r.note for r in once if r.target)


def test_the_quick_training_figure_is_a_median_of_warm_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def sgd(net: Any, x: Any, y: Any, epochs: int, **kw: Any) -> Any:
        calls.append(epochs)
        return net

    monkeypatch.setattr(worker, "SGD", sgd)
    result = worker.training(1, 3)
    assert result["runs"] == 3 >= MIN_SAMPLES
    assert calls == [1] + [1, 1] * 3  # one epoch of warm-up, untimed, then three runs without and with a callback


def test_the_page_streams_targets_need_several_plays() -> None:
    network = {
        "wire_bytes_per_event": [900.0, 1000.0, 1100.0],
        "plain_bytes_per_event": 4000.0,
        "events": 10,
        "first_event_cold_seconds": 0.09,
        "first_event_warm_seconds": 0.01,
        "warm_plays": 3,
        "cpu_per_event_first_class_seconds": [1e-3],
        "cpu_per_event_next_class_seconds": [1e-4],
        "class": 20,
    }
    rows = {(r.case, r.measure): r for r in page_stream_rows({"networks": {"4-8-8-3": network}, "browser": {}})}
    wire = rows[("4-8-8-3", "bytes per step event on the wire (br)")]
    assert wire.ratio == pytest.approx(1000 / 4000) and wire.met is True  # the median play's, not the first's
    first = rows[("4-8-8-3", "time to the first step event")]
    assert first.met is True
    rows_one = page_stream_rows({"networks": {"4-8-8-3": {**network, "warm_plays": 1}}, "browser": {}})
    assert next(r for r in rows_one if r.measure == "time to the first step event").met is None
