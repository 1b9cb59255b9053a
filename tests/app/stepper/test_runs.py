"""The run store: bounded by count (least recently used goes first) and by time since last use."""

from __future__ import annotations

import pytest

from app.stepper.form import PageRequest, default_form, parse_form
from app.stepper.runs import RunStore
from engine import Trace, trace


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def page_and_trace() -> tuple[PageRequest, Trace]:
    page = parse_form(default_form(), max_layers=8, max_iterations=10)
    req = page.request
    return page, trace(req.network.build(), req.inputs, req.targets, req.cost, req.eta)


def test_ids_are_unguessable_and_distinct(page_and_trace: tuple[PageRequest, Trace]) -> None:
    store = RunStore(max_runs=50, ttl_seconds=60)
    ids = {store.add(*page_and_trace).id for _ in range(50)}
    assert len(ids) == 50
    assert all(len(i) >= 20 for i in ids)  # 16 random bytes, url-safe base64
    assert store.get("0") is None


def test_least_recently_used_goes_first(page_and_trace: tuple[PageRequest, Trace]) -> None:
    store = RunStore(max_runs=3, ttl_seconds=60)
    a, b, c = (store.add(*page_and_trace) for _ in range(3))
    assert store.get(a.id) is a  # a is now the most recently used
    d = store.add(*page_and_trace)
    assert store.get(b.id) is None
    assert [store.get(r.id) is r for r in (a, c, d)] == [True, True, True]
    assert len(store) == 3


def test_runs_expire_after_the_time_limit_since_last_use(page_and_trace: tuple[PageRequest, Trace]) -> None:
    clock = Clock()
    store = RunStore(max_runs=10, ttl_seconds=100, clock=clock)
    old = store.add(*page_and_trace)
    clock.now += 60
    kept = store.add(*page_and_trace)
    assert store.get(old.id) is old  # used again at t = 60: its clock restarts
    clock.now += 99
    assert store.get(old.id) is old
    clock.now += 100.5
    assert store.get(old.id) is None
    assert store.get(kept.id) is None
    assert len(store) == 0
