"""Medians of wall-clock time, with candidates interleaved round by round.

Other people share this machine's two cores, so any one sample may be slowed
by someone else's work. Running every candidate of a comparison once per
round, round after round, spreads that disturbance over all of them, and the
median of the rounds ignores the worst of it; ratios of those medians are what
the report trusts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    """How long one sample lasts at least, and how many rounds of samples are taken."""

    sample_seconds: float
    rounds: int
    max_calls: int = 100_000


def calls_per_sample(fn: Callable[[], object], seconds: float, max_calls: int) -> int:
    """How many back-to-back calls of ``fn`` last at least ``seconds`` (after one warm-up call)."""
    fn()
    n = 1
    while True:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds or n >= max_calls:
            return n
        # aim a little past the target so the next try usually ends the search
        n = min(max_calls, max(n * 2, int(n * 1.2 * seconds / max(elapsed, 1e-9))))


def interleaved_medians(candidates: Mapping[str, Callable[[], object]], budget: Budget) -> dict[str, float]:
    """The median seconds per call of each candidate, sampled in interleaved rounds."""
    counts = {name: calls_per_sample(fn, budget.sample_seconds, budget.max_calls) for name, fn in candidates.items()}
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(budget.rounds):
        for name, fn in candidates.items():
            n = counts[name]
            start = time.perf_counter()
            for _ in range(n):
                fn()
            samples[name].append((time.perf_counter() - start) / n)
    return {name: median(values) for name, values in samples.items()}


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else 0.5 * (ordered[mid - 1] + ordered[mid])


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by the nearest-rank rule; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = min(len(ordered), max(1, math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]
