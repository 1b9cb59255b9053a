"""The class at a glance: who follows and who explores, counted by the server, and the reactions of the last
minute; the limits on reactions; the words the lecturer's page shows. In process (memory) here, over two apps
sharing Redis in test_redis.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient

from backprop_lens.app.classroom.store import MemorySessions
from backprop_lens.app.core.settings import Settings
from backprop_lens.app.main import create_app
from tests.app.classroom.test_routes import Events, example_id, share

STUDENT = {"X-Student": "a-students-random-id"}


def glance(client: TestClient, session: dict[str, Any], token: str | None = None) -> Any:
    headers = {"X-Lecturer-Token": session["token"] if token is None else token}
    return client.get(f"/sessions/{session['code']}/glance", headers=headers)


@contextmanager
def follow(client: TestClient, code: str, mode: str = "following") -> Iterator[Events]:
    with client.stream("GET", f"/sessions/{code}/events?mode={mode}") as r:
        assert r.status_code == 200
        events = Events(r.iter_lines())
        assert events.next()[0] == "state"  # the stream holds its place from here on
        yield events


def counts_become(client: TestClient, session: dict[str, Any], following: int, exploring: int) -> dict[str, Any]:
    """The glance once it shows these counts (a stream's place is given back as the stream ends)."""
    deadline = time.monotonic() + 10
    while True:
        body: dict[str, Any] = glance(client, session).json()
        if (body["following"], body["exploring"]) == (following, exploring) or time.monotonic() > deadline:
            return body
        time.sleep(0.02)


def react(client: TestClient, code: str, reaction: str, student: str = "a-students-random-id") -> Any:
    return client.post(f"/sessions/{code}/reactions", json={"reaction": reaction}, headers={"X-Student": student})


def test_the_lecturer_sees_who_follows_and_who_explores() -> None:
    with TestClient(create_app(Settings())) as c:
        s = share(c, example_id(c))
        empty = glance(c, s)
        assert empty.status_code == 200 and empty.headers["cache-control"] == "no-store"
        assert empty.json() == {
            "following": 0, "exploring": 0, "reactions": {"lost": 0, "slower": 0, "got_it": 0},
            "text": "0 following · 0 exploring",
            "reactions_text": "lost 0 · slower 0 · got it 0 (students, last minute)",
        }  # fmt: skip
        with follow(c, s["code"]), follow(c, s["code"]), follow(c, s["code"], "exploring"):
            body = counts_become(c, s, 2, 1)
            assert body["text"] == "2 following · 1 exploring"
            panel = c.get(f"/sessions/{s['code']}/panel").text
            assert "2 following · 1 exploring" in panel and 'id="share-glance"' in panel
        assert counts_become(c, s, 0, 0)["text"] == "0 following · 0 exploring"  # every place given back


def test_only_the_lecturer_sees_the_class() -> None:
    with TestClient(create_app(Settings())) as c:
        s = share(c, example_id(c))
        no_token = c.get(f"/sessions/{s['code']}/glance")
        assert no_token.status_code == 403 and "X-Lecturer-Token" in no_token.json()["message"]
        assert glance(c, s, token="a-guess").status_code == 403
        unknown = glance(c, {**s, "code": "ABCDEF"})
        assert unknown.status_code == 404 and unknown.json()["message"].startswith("code: no class session")
        assert glance(c, {**s, "code": "no!"}).status_code == 404


def test_reactions_are_counted_for_a_minute_and_bad_ones_are_named() -> None:
    with TestClient(create_app(Settings())) as c:
        s = share(c, example_id(c))
        for reaction, student in [("lost", "student-one"), ("lost", "student-two"), ("got_it", "student-one")]:
            assert react(c, s["code"], reaction, student).status_code == 204
        body = glance(c, s).json()
        assert body["reactions"] == {"lost": 2, "slower": 0, "got_it": 1}
        assert body["reactions_text"] == "lost 2 · slower 0 · got it 1 (students, last minute)"
        bad = react(c, s["code"], "bored")
        assert bad.status_code == 422 and bad.json()["message"].startswith("reaction: ")
        anonymous = c.post(f"/sessions/{s['code']}/reactions", json={"reaction": "lost"})
        assert anonymous.status_code == 422 and "x-student" in anonymous.json()["message"].lower()
        assert react(c, "ABCDEF", "lost").status_code == 404


def test_each_student_and_each_address_may_react_so_often() -> None:
    settings = Settings(max_reactions_per_minute_per_student=2, max_reactions_per_minute_per_client=3)
    with TestClient(create_app(settings)) as c:
        s = share(c, example_id(c))
        assert [react(c, s["code"], "slower", "student-one").status_code for _ in range(2)] == [204, 204]
        again = react(c, s["code"], "slower", "student-one")
        assert again.status_code == 429 and again.headers["retry-after"] == "10"
        assert "(max_reactions_per_minute_per_student)" in again.json()["message"]
        assert react(c, s["code"], "slower", "student-two").status_code == 204  # another student may
        crowd = react(c, s["code"], "slower", "student-three")  # the address's third and fourth
        assert crowd.status_code == 429 and "(max_reactions_per_minute_per_client)" in crowd.json()["message"]
        assert glance(c, s).json()["reactions"]["slower"] == 2  # students: student-one pressed twice, counted once


def test_a_reaction_counts_for_sixty_seconds_by_the_stores_clock() -> None:
    now = [1000.0]
    sessions = MemorySessions(4, 3600, clock=lambda: now[0])

    async def run() -> list[dict[str, int]]:
        state, _ = await sessions.create("run", 0, "")
        await sessions.react(state.code, "lost", "student-one")
        now[0] += 59.0
        await sessions.react(state.code, "got_it", "student-one")
        await sessions.react(state.code, "got_it", "student-one")  # the same student again: still one
        seen = [(await sessions.glance(state.code)).reactions]
        now[0] += 1.0
        seen.append((await sessions.glance(state.code)).reactions)
        now[0] += 60.0
        seen.append((await sessions.glance(state.code)).reactions)
        return seen

    assert asyncio.run(run()) == [{"lost": 1, "got_it": 1}, {"got_it": 1}, {}]


def test_what_the_lecturer_points_at_reaches_every_follower() -> None:
    with TestClient(create_app(Settings())) as c:
        run_id = example_id(c)
        s = share(c, run_id)
        headers = {"X-Lecturer-Token": s["token"]}

        def point(at: str, step: int = 1) -> Any:
            return c.post(s["state_url"], json={"run_id": run_id, "step": step, "point": at}, headers=headers)

        with follow(c, s["code"]) as events:
            assert point("n-2-1").status_code == 200
            assert events.next()[1] == {"code": s["code"], "run_id": run_id, "step": 1, "line": 0, "seq": 2,
                                        "point": "n-2-1"}  # fmt: skip
            assert point("line:2").json()["point"] == "line:2"
            assert events.next()[1]["point"] == "line:2"
            assert point("", 2).status_code == 200
            assert "point" not in events.next()[1]  # nothing pointed at: said by leaving it out
        bad = point("<script>")
        assert bad.status_code == 422 and bad.json()["message"].startswith("point: ")
