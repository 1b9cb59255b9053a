"""Class sessions in a real Redis: the lecturer on one app, the students on another; the limit is the class's."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from backprop_lens.app.core.settings import Settings
from backprop_lens.app.main import create_app
from tests.app.classroom.test_routes import drive, end, example_id, follow, new_run, share
from tests.processes import RedisServer, Stream, serving


@pytest.fixture
def two_apps(redis_url: str) -> Iterator[tuple[TestClient, TestClient]]:
    settings = Settings(redis_url=redis_url, max_sessions=3)
    with TestClient(create_app(settings)) as a, TestClient(create_app(settings)) as b:
        yield a, b


def test_a_student_on_another_app_follows_the_lecturer(two_apps: tuple[TestClient, TestClient]) -> None:
    lecturer, student = two_apps
    first, second = new_run(lecturer), new_run(lecturer, eta="0.5")
    s = share(lecturer, first, 2)
    r = student.get(f"/join/{s['code']}", follow_redirects=False)
    assert r.headers["location"] == f"/runs/{first}/steps/2?follow={s['code']}"
    assert student.get(r.headers["location"]).status_code == 200  # the run is shared too
    with follow(student, s["code"]) as events:
        name, data, _ = events.next()
        assert (name, data) == ("state", {"code": s["code"], "run_id": first, "step": 2, "line": 0, "seq": 1})
        for seq, (run_id, step) in enumerate([(first, 3), (first, 4), (second, 0), (second, 7)], start=2):
            assert drive(lecturer, s, run_id, step).status_code == 200
            assert events.next()[1] == {"code": s["code"], "run_id": run_id, "step": step, "line": 0, "seq": seq}
        assert drive(student, s, first, 0, token="guess").status_code == 403  # any app checks the token
        end(lecturer, s)
        assert events.next()[:2] == ("ended", {"code": s["code"]})
    assert student.get(f"/join/{s['code']}").status_code == 404


def test_the_limit_on_sessions_is_counted_across_apps(two_apps: tuple[TestClient, TestClient]) -> None:
    a, b = two_apps
    run_id = example_id(a)
    made = [share(a, run_id), share(b, run_id), share(a, run_id)]
    assert len({m["code"] for m in made}) == 3
    r = b.post("/sessions", data={"run_id": run_id, "step": "0"})
    assert r.status_code == 503 and "all 3 class sessions are in use" in r.json()["message"]
    end(b, made[0])  # ended on the other app
    made[0] = share(b, run_id)
    for m in made:
        end(a, m)


def test_a_follower_hears_that_a_session_vanished_while_redis_was_away(own_redis: RedisServer) -> None:
    with TestClient(create_app(Settings(redis_url=own_redis.url))) as client:
        s = share(client, example_id(client))
        with follow(client, s["code"]) as events:
            events.next()
            own_redis.stop()
            own_redis.start()  # empty: the session is gone
            # The process subscribes again and tells its followers what is current: nothing.
            assert events.next()[:2] == ("ended", {"code": s["code"]})


def test_two_processes_share_a_session_through_redis(redis_url: str) -> None:
    with serving("--redis", redis_url) as (_, one, _), serving("--redis", redis_url) as (_, two, _):
        page = httpx.get(f"{one}/").text
        run_id = page.split('data-run-id="', 1)[1].split('"', 1)[0]
        s = httpx.post(f"{one}/sessions", data={"run_id": run_id, "step": "1"}).json()
        follower = Stream("GET", f"{two}/sessions/{s['code']}/events").opened()
        assert json.loads(follower.events[0][1])["step"] == 1
        headers = {"X-Lecturer-Token": s["token"]}
        r = httpx.post(f"{one}{s['state_url']}", json={"run_id": run_id, "step": 6}, headers=headers)
        assert r.status_code == 200
        follower.wait_for(2)
        assert follower.events[1][0] == "state" and json.loads(follower.events[1][1])["step"] == 6
        httpx.delete(f"{two}/sessions/{s['code']}", headers=headers)  # ended on the other process
        follower.wait_for(3)
        assert follower.events[2][0] == "ended"
