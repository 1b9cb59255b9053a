"""Who may share, and what one client address may hold: lecturer keys, sessions and follow streams per client,
and the throttle on unknown join codes. In process, sessions in memory; another address is another
``TestClient(app, client=("127.0.0.2", 1))``."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from backprop_lens.app.classroom.keys import KeyFileError, LecturerKeys, read_keys
from backprop_lens.app.classroom.store import MemorySessions
from backprop_lens.app.core.settings import Settings
from backprop_lens.app.main import create_app
from tests.app.classroom.test_routes import end, example_id, follow
from tests.app.classroom.test_sessions import Clock

OTHER = ("127.0.0.2", 1)


@contextmanager
def app_and_clients(settings: Settings) -> Iterator[tuple[FastAPI, TestClient, TestClient]]:
    """An app, a client at the test client's address and one at another address (127.0.0.2)."""
    app = create_app(settings)
    with TestClient(app) as first:
        yield app, first, TestClient(app, client=OTHER)


def post_share(client: TestClient, run_id: str, key: str | None = None, htmx: bool = False) -> tuple[int, str]:
    headers = {**({"X-Lecturer-Key": key} if key is not None else {}), **({"HX-Request": "true"} if htmx else {})}
    r = client.post("/sessions", data={"run_id": run_id, "step": "0"}, headers=headers)
    return r.status_code, r.text


def test_one_address_holds_a_few_sessions_and_another_still_shares() -> None:
    with app_and_clients(Settings(max_sessions_per_client=2)) as (_, mine, other):
        run_id = example_id(mine)
        held = [mine.post("/sessions", data={"run_id": run_id, "step": "0"}).json() for _ in range(2)]
        assert all(len(s["code"]) == 6 for s in held)
        r = mine.post("/sessions", data={"run_id": run_id, "step": "0"})
        assert r.status_code == 429
        assert r.json()["message"] == (
            "sessions: this address (testclient) has 2 class sessions open, the most one client may hold "
            "(max_sessions_per_client); stop sharing one first, or ask the server's operator for a lecturer key"
        )
        theirs = other.post("/sessions", data={"run_id": run_id, "step": "0"})
        assert theirs.status_code == 201  # the lockout attempt locks out no one else
        end(mine, held[0])
        assert post_share(mine, run_id)[0] == 201  # a session ended is a place given back
        page = mine.post("/sessions", data={"run_id": run_id, "step": "0"}, headers={"HX-Request": "true"})
        assert page.status_code == 429 and 'id="share-error"' in page.text and "max_sessions_per_client" in page.text


def test_with_lecturer_keys_only_a_key_shares_and_a_401_says_why() -> None:
    settings = Settings(lecturer_key=SecretStr(" first-key ,second-key"), max_sessions_per_client=1)
    with app_and_clients(settings) as (_, client, _):
        run_id = example_id(client)
        r = client.post("/sessions", data={"run_id": run_id, "step": "0"})
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("X-Lecturer-Key")
        assert r.json()["message"].startswith("key: sharing on this server needs a lecturer key (X-Lecturer-Key)")
        for wrong in ("first", "first-key,second-key", "second-key "[:-2], "x" * 200):
            status, text = post_share(client, run_id, wrong)
            assert status == 401 and "this is not a lecturer key of this server" in text, wrong
        status, html = post_share(client, run_id, htmx=True)
        assert status == 401 and 'id="key-form"' in html and 'id="f-lecturer-key"' in html and 'type="password"' in html
        assert "first-key" not in html
        # Either key shares; the per-client limit is for servers without keys (a department behind one NAT).
        for key in ("first-key", "second-key", "second-key"):
            status, text = post_share(client, run_id, key)
            assert status == 201, text
        status, html = post_share(client, run_id, "first-key", htmx=True)
        assert status == 201 and 'id="join-code"' in html and "key-form" not in html


def test_a_file_of_keys_and_settings_that_name_none(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("# lecturers of term 1\nalpha-key\n\n  beta-key  \n", encoding="utf-8")
    assert read_keys(f"@{keys}") == ["alpha-key", "beta-key"]
    assert read_keys("a, b,,c") == ["a", "b", "c"]
    admitted = LecturerKeys(SecretStr(f"@{keys}"))
    assert admitted.required
    assert [admitted.admits(k) for k in ("alpha-key", "beta-key", "alpha", "# lecturers of term 1", "", None)] == [
        True, True, False, False, False, False,
    ]  # fmt: skip
    assert not LecturerKeys(None).required and not LecturerKeys(None).admits("alpha-key")
    (tmp_path / "empty").write_text("# nobody yet\n", encoding="utf-8")
    for setting, words in [(f"@{tmp_path}/empty", "names no key"), (" , ", "names no key"),
                           (f"@{tmp_path}/missing", "cannot read the file of keys")]:  # fmt: skip
        with pytest.raises(KeyFileError, match=words):
            create_app(Settings(lecturer_key=SecretStr(setting)))  # a server told to need a key never runs open
    assert "alpha-key" not in repr(Settings(lecturer_key=SecretStr("alpha-key")))


def test_unknown_join_codes_are_throttled_per_address() -> None:
    with app_and_clients(Settings(max_failed_joins_per_minute=3)) as (_, guesser, student):
        s = guesser.post("/sessions", data={"run_id": example_id(guesser), "step": "0"}).json()
        unknown = ["ZZZZZZ", "YYYYYY", "XXXXXX"]
        assert s["code"] not in unknown
        assert guesser.get(f"/join/{unknown[0]}").status_code == 404
        assert guesser.get(f"/sessions/{unknown[1]}/events").status_code == 404
        assert guesser.get(f"/sessions/{unknown[2]}/panel").status_code == 404
        # Three unknown codes: for the rest of the minute, every lookup is a 429, the right code too.
        for path in (f"/join/{s['code']}", f"/sessions/{s['code']}/events", f"/join?code={s['code']}"):
            r = guesser.get(path, follow_redirects=False)
            assert r.status_code == 429 and r.headers["retry-after"] == "60", path
            assert "max_failed_joins_per_minute" in r.text
        body = guesser.get(f"/sessions/{s['code']}/events").json()["message"]
        assert body.startswith("code: this address (testclient) tried 3 unknown join codes or lecturer keys")
        assert guesser.get("/join?code=ABC0O1").status_code == 404  # not a code at all: nothing to guess
        r = student.get(f"/join/{s['code']}", follow_redirects=False)
        assert r.status_code == 303  # another address joins
        end(guesser, s)


def test_the_throttle_counts_a_minute_from_the_first_unknown_code() -> None:
    async def scenario() -> None:
        clock = Clock()
        sessions = MemorySessions(max_sessions=4, ttl_seconds=600, clock=clock)
        for _ in range(3):
            await sessions.fail("10.0.0.1")
        clock.now += 59.5
        await sessions.fail("10.0.0.1")
        assert (await sessions.failures("10.0.0.1"), await sessions.failures("10.0.0.2")) == (4, 0)
        clock.now += 0.5  # 60 s after the first
        assert await sessions.failures("10.0.0.1") == 0
        await sessions.fail("10.0.0.1")
        assert await sessions.failures("10.0.0.1") == 1

    asyncio.run(scenario())


def test_one_address_holds_its_share_of_follow_streams() -> None:
    settings = Settings(max_follow_streams_per_client=2, max_followers=10)
    with app_and_clients(settings) as (app, mine, other):
        s = mine.post("/sessions", data={"run_id": example_id(mine), "step": "0"}).json()
        with follow(mine, s["code"]) as a, follow(mine, s["code"]) as b:
            a.next(), b.next()
            r = mine.get(f"/sessions/{s['code']}/events")
            assert r.status_code == 429 and r.headers["retry-after"] == "5"
            assert r.json()["message"] == (
                "streams: this address (testclient) has 2 follow streams open, the most one client may hold "
                "(max_follow_streams_per_client); close one (another tab?) or try again shortly"
            )
            with follow(other, s["code"]) as c:
                assert c.next()[0] == "state"
        with follow(mine, s["code"]) as again:  # given back when the streams end
            assert again.next()[0] == "state"
        assert app.state.classroom.streams.open == 0
        end(mine, s)


def test_followers_are_counted_against_the_sessions_limit_and_given_back() -> None:
    async def scenario() -> None:
        sessions = MemorySessions(max_sessions=4, ttl_seconds=60)
        places = [await sessions.follow("ABC234", 2) for _ in range(3)]
        assert places[0] and places[1] and places[2] is None
        assert await sessions.follow("ABC235", 2) is not None  # another session's places are its own
        await sessions.unfollow("ABC234", places[0])
        assert await sessions.follow("ABC234", 2) is not None

    asyncio.run(scenario())


def test_an_operator_lists_and_ends_sessions_in_memory_too() -> None:
    async def scenario() -> None:
        clock = Clock()
        sessions = MemorySessions(max_sessions=4, ttl_seconds=600, clock=clock)
        a, _ = await sessions.create("run-a", 1, "", client="10.0.0.1")
        clock.now += 30
        b, _ = await sessions.create("run-b", 2, "", client="10.0.0.2")
        await sessions.follow(a.code, 5)
        listed = await sessions.listing()
        assert [(i.code, i.run_id, i.step, i.client, i.followers, i.idle_seconds) for i in listed] == [
            (b.code, "run-b", 2, "10.0.0.2", 0, 0.0),
            (a.code, "run-a", 1, "10.0.0.1", 1, 30.0),
        ]
        assert await sessions.close(a.code) and not await sessions.close(a.code)
        assert [i.code for i in await sessions.listing()] == [b.code]

    asyncio.run(scenario())


def test_the_share_panel_form_asks_for_the_key_without_inline_script() -> None:
    with app_and_clients(Settings(lecturer_key=SecretStr("k"))) as (_, client, _):
        _, html = post_share(client, example_id(client), htmx=True)
        form = re.search(r'<form id="key-form".*?</form>', html, flags=re.S)
        assert form and not re.search(r"\son\w+=|style=", form.group(0))
        assert "action=" not in form.group(0)  # follow.js sends it; the key never goes into a URL


def test_an_address_at_its_limit_may_end_the_sessions_it_opened_when_no_key_is_asked() -> None:
    """Tabs closed without Stop sharing leave sessions nobody can stop: the 429 panel offers to end this address's
    own (each leaves its recap, its students hear it ended); another address's stay. With keys, a 403."""
    with app_and_clients(Settings(max_sessions_per_client=2)) as (_, mine, other):
        run_id = example_id(mine)
        made = [mine.post("/sessions", data={"run_id": run_id, "step": "0"}).json() for _ in range(2)]
        theirs = other.post("/sessions", data={"run_id": run_id, "step": "0"}).json()
        full = mine.post("/sessions", data={"run_id": run_id, "step": "0"}, headers={"HX-Request": "true"})
        assert (
            full.status_code == 429 and 'id="btn-release"' in full.text and 'hx-post="/sessions/release"' in full.text
        )
        with follow(mine, made[0]["code"]) as events:
            events.next()
            released = mine.post("/sessions/release", headers={"HX-Request": "true"})
            assert released.status_code == 200 and "Ended 2 class sessions this address had open." in released.text
            assert events.next()[:2] == ("ended", {"code": made[0]["code"]})
        assert all('id="recap"' in mine.get(f"/join/{m['code']}").text for m in made)
        assert other.get(f"/join/{theirs['code']}", follow_redirects=False).status_code == 303  # still live
        assert mine.post("/sessions", data={"run_id": run_id, "step": "0"}).status_code == 201
    with app_and_clients(Settings(lecturer_key="a-key-of-the-lecturers")) as (_, mine, _):
        refused = mine.post("/sessions/release")
        assert refused.status_code == 403 and "lecturer link" in refused.json()["message"]
