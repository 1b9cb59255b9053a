"""wrk as the bench's load generator (bench/wrk.py) against a real uvicorn, and the server rows built from it.

No timing is asserted: that wrk's requests reach the route as sent (a JSON body the route accepts is
answered 200 every time; one it rejects is counted as an error every time), and that the rows' ratios
are the quotients of the figures they show.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from backprop_lens.app.core.schemas import WORKED_EXAMPLE
from backprop_lens.bench import wrk
from backprop_lens.bench.client import HOST
from backprop_lens.bench.report import server_rows
from backprop_lens.bench.server import BARE_FLOOR_PATH, FLOOR_PATH, running_server

needs_wrk = pytest.mark.skipif(wrk.executable() is None, reason="wrk is not installed")


@pytest.mark.parametrize("text", ["", "{}", "a]]b", "]=]]==]", '{"x": [[1]]}'])
def test_lua_long_string_closes_only_at_its_end(text: str) -> None:
    quoted = wrk.lua_string(text)
    level = quoted.index("[", 1)  # "[==[" : the second "[" ends the opening bracket
    closing = "]" + "=" * (level - 1) + "]"
    assert quoted == "[" + "=" * (level - 1) + "[" + text + closing
    assert closing not in text


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with running_server() as p:
        yield p


@pytest.mark.slow
@needs_wrk
@pytest.mark.parametrize("path", ["/api/gradients", FLOOR_PATH, BARE_FLOOR_PATH])
def test_wrk_posts_the_body_every_route_answers(port: int, path: str) -> None:
    run = wrk.run(f"http://{HOST}:{port}{path}", 2, "POST", json.dumps(WORKED_EXAMPLE).encode(), 1)
    assert run.requests > 0
    assert run.errors == 0
    assert 0 < run.p50_seconds <= run.p99_seconds


@pytest.mark.slow
@needs_wrk
def test_wrk_counts_every_rejected_request_as_an_error(port: int) -> None:
    bad = {**WORKED_EXAMPLE, "inputs": [[0.05]]}
    run = wrk.run(f"http://{HOST}:{port}/api/gradients", 2, "POST", json.dumps(bad).encode(), 1)
    assert run.requests > 0
    assert run.errors == run.requests


def test_server_rows_are_the_quotients_of_their_figures() -> None:
    def rates(rps: float, cpu: float) -> dict[str, Any]:
        return {
            "requests": 10,
            "errors": 0,
            "requests_per_second": rps,
            "p50_seconds": 0.001,
            "p99_seconds": 0.002,
            "server_cpu_seconds_per_request": cpu,
        }

    s: dict[str, Any] = {
        "load_generator": "wrk test",
        "connections": 8,
        "rounds": 3,
        "seconds_per_round": 2,
        "health": rates(1000.0, 4e-4),
        "floor": rates(800.0, 5e-4),
        "bare_floor": rates(1250.0, 3e-4),
        "gradients": rates(1000.0, 4e-4),
        "health_per_round": [900.0, 1100.0, 1000.0],
        "floor_per_round": [700.0, 900.0, 800.0],
        "bare_floor_per_round": [1200.0, 1300.0, 1250.0],
        "gradients_per_round": [1050.0, 950.0, 1000.0],
        "server_cpu_per_request_per_round": {"floor": [5e-4, 6e-4], "gradients": [4e-4, 5e-4]},
        "first_event": {"tries": 1, "p50_seconds": 0.01, "p99_seconds": 0.02, "network": [2, 2, 2]},
        "stream": {"sizes": [2, 2], "streams": 1, "events": 10, "events_per_second": 100.0},
        "page": {"source": "test", "files": [], "raw_bytes": 1, "gzip_bytes": 1},
    }
    rows = {(r.case, r.measure): r for r in server_rows(s)}
    floor = rows[("POST /api/gradients", "req/s, gradients ÷ floor")]
    assert floor.ratio == pytest.approx(1000 / 800) and floor.met is True
    assert "per round 1.06–1.50×" in floor.note  # 950/900 and 1050/700
    assert rows[("POST /api/gradients", "req/s, gradients ÷ health")].ratio == pytest.approx(1.0)
    assert rows[("POST /api/gradients", "req/s, gradients ÷ bare floor")].ratio == pytest.approx(0.8)
    cpu = rows[("POST /api/gradients", "server CPU per request, floor ÷ gradients")]
    assert cpu.ratio == pytest.approx(5e-4 / 4e-4)
    assert "per round 1.20–1.25×" in cpu.note
    assert "wrk test" in rows[("GET /api/health", "requests per second")].note

    one_round = {(r.case, r.measure): r for r in server_rows({**s, "rounds": 1})}
    single = one_round[("POST /api/gradients", "req/s, gradients ÷ floor")]
    assert single.met is None and single.ratio == floor.ratio and "not judged: 1 sample(s)" in single.note
