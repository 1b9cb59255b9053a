"""Class sessions in a real Redis: the lecturer on one app, the students on another; the limit is the class's."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from backprop_lens.app.classroom.redis_store import RedisSessions
from backprop_lens.app.cli import REDIS_URL_VARIABLE, main
from backprop_lens.app.core.settings import Settings
from backprop_lens.app.main import create_app
from tests.app.classroom.test_glance import counts_become, glance, react
from tests.app.classroom.test_glance import follow as follow_in
from tests.app.classroom.test_questions import BP2_STEP, HAND, answer, ask, lecturer
from tests.app.classroom.test_recap import lecture, recap_links
from tests.app.classroom.test_routes import drive, end, example_id, follow, new_run, share
from tests.processes import RedisServer, Stream, serving


@pytest.fixture
def two_apps(redis_url: str) -> Iterator[tuple[TestClient, TestClient]]:
    settings = Settings(redis_url=redis_url, max_sessions=3, max_sessions_per_client=4)
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
    recap = student.get(f"/join/{s['code']}")  # what the session showed, from the other app, through Redis
    assert recap.status_code == 200 and 'id="recap"' in recap.text


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


def test_followers_are_counted_over_both_apps_against_one_limit(redis_url: str) -> None:
    settings = Settings(redis_url=redis_url, max_followers=2)
    with TestClient(create_app(settings)) as a, TestClient(create_app(settings)) as b:
        s = share(a, example_id(a))
        with follow(a, s["code"]) as one, follow(b, s["code"]) as two:
            one.next(), two.next()
            for app in (a, b):  # one follower on each process, two in all: the limit holds on both
                r = app.get(f"/sessions/{s['code']}/events")
                assert r.status_code == 503 and f"all 2 places following session {s['code'][:3]}" in r.text
        with follow(b, s["code"]) as again:  # places are given back on both processes
            assert again.next()[0] == "state"
        end(a, s)


def test_a_killed_processs_followers_lapse(redis_url: str) -> None:
    """A process that never gives its places back (killed) holds them only until they lapse; by the clock each
    process passes (fake here), not by waiting."""

    async def scenario() -> None:
        now = [1000.0]
        killed = RedisSessions(redis_url, 4, 60, prefix="test-lapse:", clock=lambda: now[0])
        alive = RedisSessions(redis_url, 4, 60, prefix="test-lapse:", clock=lambda: now[0])
        assert await killed.follow("ABC234", 2) and await killed.follow("ABC234", 2)
        await killed.aclose()  # no unfollow: as if killed
        assert await alive.follow("ABC234", 2) is None
        now[0] += RedisSessions.FOLLOWER_TTL_SECONDS - 1
        assert await alive.follow("ABC234", 2) is None
        now[0] += 1
        place = await alive.follow("ABC234", 2)
        assert place is not None
        await alive.unfollow("ABC234", place)
        await alive.aclose()

    asyncio.run(scenario())


def test_one_address_holds_a_few_sessions_over_every_process(redis_url: str) -> None:
    settings = Settings(redis_url=redis_url, max_sessions=3, max_sessions_per_client=1)
    with TestClient(create_app(settings)) as c:
        run_id = example_id(c)
        mine = share(c, run_id)
        r = c.post("/sessions", data={"run_id": run_id, "step": "0"})
        assert r.status_code == 429 and "has 1 class sessions open" in r.json()["message"]
        with TestClient(create_app(settings), client=("127.0.0.2", 1)) as other:  # on another process too
            theirs = other.post("/sessions", data={"run_id": run_id, "step": "0"})
            assert theirs.status_code == 201, theirs.text
        end(c, mine)
        end(c, theirs.json())


def test_an_operator_lists_and_ends_sessions_from_the_command_line(
    own_redis: RedisServer, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(REDIS_URL_VARIABLE, raising=False)
    monkeypatch.delenv(f"{REDIS_URL_VARIABLE}_FILE", raising=False)
    settings = Settings(redis_url=own_redis.url)
    with TestClient(create_app(settings)) as client:
        run_id = example_id(client)
        first = share(client, run_id, 2)
        with TestClient(create_app(settings), client=("127.0.0.2", 1)) as other:
            second = share(other, run_id, 5)
        url_file = tmp_path / "redis-url"
        url_file.write_text(own_redis.url + "\n", encoding="utf-8")
        with follow(client, first["code"]) as events:
            events.next()
            assert main(["sessions", "list", "--redis-file", str(url_file)]) == 0
            out = capsys.readouterr().out.splitlines()
            assert out[0].split() == ["code", "run", "step", "followers", "idle", "client"]
            rows = {line.split()[0] + line.split()[1]: line.split() for line in out[1:-1]}
            spaced_first = first["code"][:3] + first["code"][3:]
            assert rows[spaced_first][2:5] == [run_id, "3", "1"]  # step 3 as the page counts; one follower
            assert rows[spaced_first][-1] == "testclient"
            assert rows[second["code"]][2:5] == [run_id, "6", "0"] and rows[second["code"]][-1] == "127.0.0.2"
            assert out[-1] == "2 of at most 64 class sessions open"
            spoken = f"{first['code'][:3].lower()} {first['code'][3:]}"
            assert main(["sessions", "end", *spoken.split(), "--redis", own_redis.url]) == 0
            assert capsys.readouterr().out == f"ended the class session {first['code'][:3]} {first['code'][3:]}\n"
            assert events.next()[:2] == ("ended", {"code": first["code"]})  # the student's page hears it
        assert 'id="recap"' in client.get(f"/join/{first['code']}").text  # an operator's end leaves a recap too
        assert main(["sessions", "end", first["code"], "--redis", own_redis.url]) == 1
        assert "no class session has the code" in capsys.readouterr().err
        end(client, second)
    assert main(["sessions", "list"]) == 2
    assert "sessions live in the server's memory, and they cannot be listed or ended" in capsys.readouterr().err


def test_the_class_at_a_glance_is_counted_over_both_apps(two_apps: tuple[TestClient, TestClient]) -> None:
    """Followers and explorers on two processes, reactions sent to either: the lecturer's glance on either app
    counts them all (Redis holds the places, the explorers and the reactions)."""
    a, b = two_apps
    s = share(a, example_id(a))
    with follow_in(a, s["code"]), follow_in(b, s["code"]), follow_in(b, s["code"], "exploring"):
        assert counts_become(a, s, 2, 1)["text"] == "2 following · 1 exploring"
        assert glance(b, s).json()["text"] == "2 following · 1 exploring"
        assert react(a, s["code"], "lost", "student-one").status_code == 204
        assert react(b, s["code"], "lost", "student-two").status_code == 204
        assert react(b, s["code"], "got_it", "student-two").status_code == 204
        assert (
            glance(a, s).json()["reactions"]
            == glance(b, s).json()["reactions"]
            == {"lost": 2, "slower": 0, "got_it": 1}
        )
    assert counts_become(b, s, 0, 0)["text"] == "0 following · 0 exploring"
    run_id = example_id(a)
    with follow_in(b, s["code"]) as events:  # what the lecturer points at, through Redis to the other app
        body = {"run_id": run_id, "step": 1, "point": "e-3-1-2"}
        assert a.post(s["state_url"], json=body, headers={"X-Lecturer-Token": s["token"]}).status_code == 200
        assert events.next()[1]["point"] == "e-3-1-2"
    end(a, s)


def test_a_recap_outlives_the_web_process_that_kept_the_session(redis_url: str) -> None:
    """Kept in Redis: an app started after the session ended (a restart) shows its recap, with every step."""
    settings = Settings(redis_url=redis_url, max_sessions_per_client=4)
    with TestClient(create_app(settings)) as first:
        s, _, _ = lecture(first)
        before = first.get(f"/join/{s['code']}").text
    with TestClient(create_app(settings)) as restarted:
        after = restarted.get(f"/join/{s['code']}")
        assert after.status_code == 200 and recap_links(after.text) == recap_links(before)
        assert [step for _, step, _ in recap_links(after.text)] == [1, 3, 4, 1]


def test_questions_and_answers_are_shared_and_counted_once_over_both_apps(
    two_apps: tuple[TestClient, TestClient], redis_url: str
) -> None:
    """Asked on one app, answered on both (a student's change on the other app replaces their answer), counted
    once; the followers on the other app hear the question and its phases; a newer question closes the older on
    both; the results join the recap, which an app started later shows."""
    a, b = two_apps
    rid = example_id(a)
    s = share(a, rid, BP2_STEP)
    code = s["code"]
    with follow_in(b, code) as heard:
        assert ask(a, s, rid).status_code == 201
        assert heard.next()[1]["question"] == {"n": 1, "key": "delta-2-1", "phase": "open"}
        assert answer(a, code, 1, f"{HAND['value']:.6f}", 1).status_code == 200
        assert answer(b, code, 1, "12", 2).status_code == 200
        assert answer(a, code, 1, f"{HAND['σ′ left out']:.6f}", 2).json()["answers"] == 2  # changed on a: once
        assert answer(b, code, 1, f"{HAND['previous δ']:.6f}", 3).json()["answers"] == 3
        for app in (a, b):
            assert app.get(f"/sessions/{code}/glance?question=1", headers=lecturer(s)).json()["answers"] == 3
        assert b.post(f"/sessions/{code}/questions/1/show", headers=lecturer(s)).status_code == 200
        assert heard.next()[1]["question"]["phase"] == "shown"
        assert a.post(f"/sessions/{code}/questions/1/reveal", headers=lecturer(s)).status_code == 200
        assert heard.next()[1]["question"]["phase"] == "revealed"
    assert answer(b, code, 1, "1", 4).status_code == 409  # revealed: final on every process
    res = b.get(f"/sessions/{code}/questions/1/results").json()
    assert (res["answers"], res["right"], res["other"]) == (3, 1, 0)
    assert res["value"] == pytest.approx(HAND["value"], rel=1e-12)
    bins = {m["mistake"]: m["answers"] for m in res["mistakes"]}
    assert bins["σ′(z²₁) left out"] == 1 and bins["the previous layer's δ³₁ used unchanged"] == 1
    assert ask(b, s, rid, "delta-2-2").json()["n"] == 2
    assert answer(a, code, 1, "1", 5).status_code == 409 and answer(a, code, 2, "1", 5).status_code == 200
    end(a, s)
    with TestClient(create_app(Settings(redis_url=redis_url))) as later:
        recap = later.get(f"/join/{code}").text
        assert "what is δ²₁" in recap and "33% right" in recap
