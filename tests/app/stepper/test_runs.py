"""The run store: configurations kept in the state (bounded by count and by time since last use), traces in a
bounded local cache and recomputed from the configuration, the worked example one shared run stored nowhere.

The reference for a recomputed trace is the engine called directly on the parsed configuration; it shares the
engine with the store (the engine's numbers are checked elsewhere), and checks that the configuration stored as
text gives the same network, example and iteration back.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from backprop_lens.app.core.compute import run_history
from backprop_lens.app.core.settings import Settings
from backprop_lens.app.core.state import MemoryState
from backprop_lens.app.main import create_app
from backprop_lens.app.stepper.form import PageRequest, default_form, parse_form
from backprop_lens.app.stepper.runs import EXAMPLE_ID, RunStore
from backprop_lens.engine import Trace, trace
from backprop_lens.engine.sgd import iterate

HX = {"HX-Request": "true"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def engine_trace(page: PageRequest) -> Trace:
    req = page.request
    net = iterate(req.network.build(), req.inputs, req.targets, req.eta, req.cost_function, page.iteration)
    return trace(net, req.inputs, req.targets, req.cost_function, req.eta)


def store_on(state: MemoryState, max_cached_traces: int = 8) -> RunStore:
    return RunStore(state, max_cached_traces=max_cached_traces, max_layers=8, max_iterations=10)


@pytest.fixture(scope="module")
def page() -> PageRequest:
    form = {**default_form(), "sizes": "2, 3, 2", "weights": "", "biases": "", "seed": "7", "iteration": "3"}
    return parse_form(form, max_layers=8, max_iterations=10)


# --- the state in memory: least recently used first out, with a time limit --------------------------------------


def test_the_least_recently_used_configuration_goes_first() -> None:
    state = MemoryState(max_runs=3, ttl_seconds=60)
    for name in "abc":
        state.put_run(name, f"config {name}")
    assert state.get_run("a") == "config a"  # a is now the most recently used
    state.put_run("d", "config d")
    assert state.get_run("b") is None
    assert [state.get_run(n) for n in "acd"] == ["config a", "config c", "config d"]
    assert state.run_count() == 3


def test_configurations_expire_after_the_time_limit_since_last_use() -> None:
    clock = Clock()
    state = MemoryState(max_runs=10, ttl_seconds=100, clock=clock)
    state.put_run("old", "o")
    clock.now += 60
    state.put_run("kept", "k")
    assert state.get_run("old") == "o"  # used again at t = 60: its clock restarts
    clock.now += 99
    assert state.get_run("old") == "o"
    clock.now += 100.5
    assert state.get_run("old") is None and state.get_run("kept") is None
    assert state.run_count() == 0


# --- the run store --------------------------------------------------------------------------------------------


def test_ids_are_unguessable_and_distinct(page: PageRequest) -> None:
    store = store_on(MemoryState(max_runs=50, ttl_seconds=60))
    t = engine_trace(page)
    ids = {store.add(page, t, run_history(page.request, page.iteration)).id for _ in range(50)}
    assert len(ids) == 50
    assert all(len(i) >= 20 and i != EXAMPLE_ID for i in ids)  # 16 random bytes, url-safe base64
    assert store.get("0") is None


def test_a_process_without_the_trace_recomputes_it_from_the_configuration(page: PageRequest) -> None:
    state = MemoryState(max_runs=10, ttl_seconds=60)
    made, other = store_on(state), store_on(state)  # two processes sharing one state
    run = made.add(page, engine_trace(page), run_history(page.request, page.iteration))
    assert other.cached == 0
    again = other.get(run.id)
    assert again is not None and again is not run and other.cached == 1
    assert again.page.iteration == 3 and again.page.query() == page.query()
    assert again.trace.to_dict() == engine_trace(page).to_dict()  # bit for bit: the engine is deterministic
    assert other.get(run.id) is again  # kept in the cache from now on


def test_the_trace_cache_is_bounded_and_an_evicted_trace_comes_back(page: PageRequest) -> None:
    store = store_on(MemoryState(max_runs=10, ttl_seconds=60), max_cached_traces=2)
    t = engine_trace(page)
    first, *_ = runs = [store.add(page, t, run_history(page.request, page.iteration)) for _ in range(3)]
    assert store.cached == 2 and len(store) == 3
    back = store.get(first.id)  # its trace was dropped; its configuration was not
    assert back is not None and back is not first and back.trace.to_dict() == t.to_dict()
    assert store.cached == 2
    assert all(store.get(r.id) is not None for r in runs)


def test_a_run_gone_from_the_state_is_gone_though_its_trace_was_cached(page: PageRequest) -> None:
    clock = Clock()
    store = store_on(MemoryState(max_runs=10, ttl_seconds=100, clock=clock))
    run = store.add(page, engine_trace(page), run_history(page.request, page.iteration))
    clock.now += 101
    assert store.get(run.id) is None and store.cached == 0


def test_a_configuration_the_limits_refuse_is_an_unknown_run(page: PageRequest) -> None:
    state = MemoryState(max_runs=10, ttl_seconds=60)
    run = store_on(state).add(page, engine_trace(page), run_history(page.request, page.iteration))  # iteration 3
    stricter = RunStore(state, max_cached_traces=8, max_layers=8, max_iterations=2)
    assert stricter.get(run.id) is None


def test_the_worked_example_is_one_run_stored_nowhere() -> None:
    a, b = store_on(MemoryState(max_runs=1, ttl_seconds=60)), store_on(MemoryState(max_runs=1, ttl_seconds=60))
    run = a.example()
    assert run.id == b.example().id == EXAMPLE_ID and EXAMPLE_ID.startswith("example-")
    assert a.get(EXAMPLE_ID) is run and b.get(EXAMPLE_ID) is not None
    assert len(a) == 0 and run.page.query() == parse_form(default_form(), 8, 10).query()


# --- issue 12: "after 520 page loads an idle student's run is evicted" --------------------------------------


def test_page_loads_evict_no_run() -> None:
    settings = Settings()
    with TestClient(create_app(settings)) as client:
        r = client.post("/runs", data={**default_form(), "seed": "3", "weights": "", "biases": ""}, headers=HX)
        m = re.search(r'data-run-id="([^"]+)"', r.text)
        assert r.status_code == 200 and m
        rid = m.group(1)
        for _ in range(settings.max_runs + 88):  # 600 loads of /
            assert client.get("/").status_code == 200
        assert client.get(f"/runs/{rid}/steps/7", headers=HX).status_code == 200
        assert len(client.app.state.runs) == 1  # type: ignore[attr-defined]


def test_the_next_iteration_stops_at_the_replay_limit() -> None:
    """Every run must stay recomputable from its configuration within the limits, so "next" stops there."""
    with TestClient(create_app(Settings(max_page_iterations=1))) as client:
        m = re.search(r'data-run-id="([^"]+)"', client.get("/").text)
        assert m
        first = client.post(f"/runs/{m.group(1)}/next", headers=HX)
        assert first.status_code == 200
        m = re.search(r'data-run-id="([^"]+)"', first.text)
        assert m
        again = client.post(f"/runs/{m.group(1)}/next", headers=HX)
        assert again.status_code == 422 and "at most 1 iteration" in again.text
