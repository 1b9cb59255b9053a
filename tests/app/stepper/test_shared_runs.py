"""Runs shared through a real Redis: two apps in one process stand for two web processes (or machines).

Each app has its own trace cache and its own Redis client, so a run made on one app and read on the other is
recomputed there from the configuration Redis holds: the numbers must be the same, bit for bit. Redis is Debian's
``redis-server`` on a free port, started and stopped by ``tests/app/conftest.py``; nothing is mocked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backprop_lens.app.core.settings import Settings
from backprop_lens.app.core.state import RedisState
from backprop_lens.app.main import create_app
from backprop_lens.app.stepper.form import default_form
from tests.processes import RedisServer, free_port

pytestmark = pytest.mark.slow

HX = {"HX-Request": "true"}
FORM = {**default_form(), "sizes": "2, 3, 2", "weights": "", "biases": "", "seed": "11", "activation": "tanh"}


@contextmanager
def served(url: str, **settings: Any) -> Iterator[TestClient]:
    """A client of a fresh app on this Redis: a web process of its own, stopped at the end of the block."""
    with TestClient(create_app(Settings(redis_url=url, **settings))) as client:
        yield client


def run_id(html: str) -> str:
    m = re.search(r'data-run-id="([^"]+)"', html)
    assert m, "no run id on the page"
    return m.group(1)


def steps_of(html: str) -> int:
    m = re.search(r'data-steps="(\d+)"', html)
    assert m
    return int(m.group(1))


def stream_events(client: TestClient, rid: str, start: int) -> list[str]:
    """The stream's raw events from step ``start`` to its final event, as text."""
    with client.stream("GET", f"/runs/{rid}/stream?from={start}&interval_ms=100") as r:
        assert r.status_code == 200
        return "".join(r.iter_text()).split("\n\n")


def everything(client: TestClient, rid: str, steps: int) -> dict[str, Any]:
    """What a page asks of a run: each step, the stream's last steps, the instruments, the download."""
    seen: dict[str, Any] = {}
    for k in range(steps):
        r = client.get(f"/runs/{rid}/steps/{k}", headers=HX)
        assert r.status_code == 200, (k, r.text)
        seen[f"step {k}"] = r.text
    seen["stream"] = stream_events(client, rid, steps - 2)
    panel = client.get(f"/instruments/{rid}")
    assert panel.status_code == 200
    seen["panel"] = panel.text
    for name in ("demon", "paths", "matrix-form"):
        r = client.get(f"/instruments/{rid}/{name}")
        assert r.status_code == 200, (name, r.text)
        seen[name] = r.text
    r = client.get(f"/runs/{rid}/trace.json")
    assert r.status_code == 200
    seen["trace"] = r.json()
    return seen


def test_two_processes_serve_each_others_runs_and_a_restart_loses_none(redis_url: str) -> None:
    with served(redis_url) as a, served(redis_url) as b:
        made = a.post("/runs", data=FORM, headers=HX)
        assert made.status_code == 200
        rid, steps = run_id(made.text), steps_of(made.text)
        on_a = everything(a, rid, steps)
        on_b = everything(b, rid, steps)  # b never saw the run: it recomputes it from Redis
        assert on_b == on_a
        assert on_b["trace"]["permalink"].startswith("/?sizes=2") and len(on_b["trace"]["steps"]) == steps
        assert [e for e in on_b["stream"] if e.startswith("event: done")], "the stream ends with its final event"

        # a permalink opened on b (iteration 2 of the same network), continued on a
        link = b.get(f"/?{on_a['trace']['permalink'].removeprefix('/?')}&iteration=2")
        assert link.status_code == 200
        later = run_id(link.text)
        nxt = a.post(f"/runs/{later}/next", headers=HX)
        assert nxt.status_code == 200
        third = run_id(nxt.text)
        third_trace = b.get(f"/runs/{third}/trace.json").json()
        assert third_trace["iteration"] == 3

    # every web process restarted: a new one serves the runs of the old ones, with the same numbers
    with served(redis_url) as c:
        assert everything(c, rid, steps) == on_a
        assert c.get(f"/runs/{third}/trace.json").json() == third_trace


def test_processes_agree_on_the_worked_example_without_storing_it(redis_url: str) -> None:
    with served(redis_url) as a, served(redis_url) as b:
        kept = len(a.app.state.runs)  # type: ignore[attr-defined]
        rid = run_id(a.get("/").text)
        assert run_id(b.get("/").text) == rid and rid.startswith("example-")
        assert everything(b, rid, 8) == everything(a, rid, 8)
        assert len(a.app.state.runs) == kept  # type: ignore[attr-defined]


def test_redis_keeps_at_most_max_runs_the_least_recently_used_going_first(redis_url: str) -> None:
    state = RedisState(redis_url, max_runs=3, ttl_seconds=60, prefix="test-lru:")
    try:
        for name in "abc":
            state.put_run(name, f"config {name}")
        assert state.get_run("a") == "config a"  # a is now the most recently used
        state.put_run("d", "config d")
        assert state.get_run("b") is None
        assert [state.get_run(n) for n in "acd"] == ["config a", "config c", "config d"]
        assert state.run_count() == 3
    finally:
        state.close()


def test_a_runs_time_to_live_restarts_on_use(redis_url: str) -> None:
    import redis

    state = RedisState(redis_url, max_runs=10, ttl_seconds=3600, prefix="test-ttl:")
    raw = redis.Redis.from_url(redis_url)
    try:
        state.put_run("r", "config")
        raw.pexpire("test-ttl:run:r", 1000)  # as if nearly an hour had gone by
        assert state.get_run("r") == "config"
        assert 3_590_000 < raw.pttl("test-ttl:run:r") <= 3_600_000
        raw.delete("test-ttl:run:r")  # as if the hour had gone by
        assert state.get_run("r") is None and state.run_count() == 0
    finally:
        state.close()
        raw.close()


def test_redis_lost_is_a_503_naming_it_and_its_return_needs_no_restart(own_redis: RedisServer) -> None:
    with served(own_redis.url) as client:
        made = client.post("/runs", data=FORM, headers=HX)
        rid, steps = run_id(made.text), steps_of(made.text)
        assert client.get(f"/runs/{rid}/steps/1", headers=HX).status_code == 200

        own_redis.stop()
        for method, url, data in (
            ("GET", f"/runs/{rid}/steps/1", None),
            ("GET", f"/runs/{rid}", None),
            ("GET", f"/runs/{rid}/stream", None),
            ("GET", f"/runs/{rid}/trace.json", None),
            ("GET", f"/instruments/{rid}", None),
            ("GET", f"/instruments/{rid}/demon", None),
            ("POST", f"/runs/{rid}/next", None),
            ("POST", "/runs", FORM),
            ("GET", "/?sizes=1,1&x=1&y=0", None),
        ):
            r = client.request(method, url, data=data, headers=HX)
            assert r.status_code == 503, (url, r.status_code, r.text)
            assert "Redis" in r.json()["message"] and r.headers["retry-after"], url
        assert client.get("/").status_code == 200, "the worked example needs no Redis"

        own_redis.start()  # the same port, empty: --save "" kept nothing
        assert client.get(f"/runs/{rid}/steps/1", headers=HX).status_code == 404
        made = client.post("/runs", data=FORM, headers=HX)
        assert made.status_code == 200
        again = run_id(made.text)
        assert client.get(f"/runs/{again}/steps/{steps - 1}", headers=HX).status_code == 200
        assert stream_events(client, again, steps - 1)[-2].startswith("event: done")


def test_an_unreachable_redis_stops_the_app_with_its_url() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    with pytest.raises(RuntimeError) as caught:
        create_app(Settings(redis_url=url))
    message = str(caught.value)
    assert message.startswith(f"Redis at {url} is unreachable") and "\n" not in message

    secret = f"redis://:s3cret@127.0.0.1:{free_port()}/0"
    with pytest.raises(RuntimeError) as caught:
        create_app(Settings(redis_url=secret))
    assert "s3cret" not in str(caught.value) and ":***@127.0.0.1" in str(caught.value)

    with pytest.raises(RuntimeError, match=r"^localhost:6379 is not a Redis URL"):
        create_app(Settings(redis_url="localhost:6379"))
