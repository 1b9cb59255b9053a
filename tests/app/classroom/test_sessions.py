"""Class sessions without HTTP: join codes, the lecturer's token, expiry, the limit, and the followers' fan-out."""

from __future__ import annotations

import asyncio
import string
from collections.abc import AsyncGenerator, Coroutine
from typing import Any, TypeVar

import pytest

from backprop_lens.app.classroom.codes import ALPHABET, CODE_LENGTH, new_code, read_code, spaced
from backprop_lens.app.classroom.hub import SessionState, parse_event_id
from backprop_lens.app.classroom.store import MemorySessions, NoSessionError, NotLecturerError, SessionsFullError
from backprop_lens.app.classroom.stream import follow_events

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_codes_avoid_the_characters_that_read_alike() -> None:
    # Written out: upper-case letters and digits without 0/O, 1/I and L (l typed in lower case).
    expected = set(string.ascii_uppercase + string.digits) - set("0O1IL")
    assert set(ALPHABET) == expected and len(ALPHABET) == 31
    codes = {new_code() for _ in range(200)}
    assert all(len(c) == CODE_LENGTH == 6 and set(c) <= expected for c in codes)
    assert len(codes) > 190  # random: 200 draws of 31**6 codes collide with probability < 2e-5


@pytest.mark.parametrize(
    ("typed", "code"),
    [("ABC234", "ABC234"), ("abc 234", "ABC234"), ("abc-234", "ABC234"), (" Abc234 ", "ABC234"),
     ("ABC23", None), ("ABC2345", None), ("ABC230", None), ("ABCO23", None), ("ABC1 23", None), ("abl234", None),
     ("", None), ("ÄBC234", None)],
)  # fmt: skip
def test_a_code_is_read_as_a_person_types_it(typed: str, code: str | None) -> None:
    assert read_code(typed) == code


def test_spaced_and_event_ids() -> None:
    assert spaced("ABC234") == "ABC 234"
    assert parse_event_id("a1b2c3d4.17") == ("a1b2c3d4", 17)
    for bad in (None, "", "17", "x.", ".3", "x.-1", "x.1e3", "x." + "9" * 12):
        assert parse_event_id(bad) is None


def test_only_the_token_drives_a_session_and_every_change_counts() -> None:
    async def scenario() -> None:
        sessions = MemorySessions(max_sessions=4, ttl_seconds=60)
        state, token = await sessions.create("run-a", 2, "sizes=2,2")
        assert (state.run_id, state.step, state.seq) == ("run-a", 2, 1)
        assert len(token) >= 32  # 24 random bytes, URL-safe base64
        with pytest.raises(NotLecturerError):
            await sessions.update(state.code, token + "x", "run-b", 0, "q")
        with pytest.raises(NotLecturerError):
            await sessions.end(state.code, "")
        with pytest.raises(NoSessionError):
            await sessions.update("ZZZZZZ" if state.code != "ZZZZZZ" else "YYYYYY", token, "run-b", 0, "q")
        moved = await sessions.update(state.code, token, "run-b", 5, "q")
        assert (moved.run_id, moved.step, moved.seq, moved.sid) == ("run-b", 5, 2, state.sid)
        assert await sessions.get(state.code) == moved
        await sessions.end(state.code, token)
        assert await sessions.get(state.code) is None
        assert await sessions.count() == 0

    run(scenario())


def test_sessions_are_bounded_and_expire_after_inactivity() -> None:
    async def scenario() -> None:
        clock = Clock()
        sessions = MemorySessions(max_sessions=2, ttl_seconds=100, clock=clock)
        a, token_a = await sessions.create("r", 0, "")
        b, _ = await sessions.create("r", 0, "")
        assert a.code != b.code
        with pytest.raises(SessionsFullError, match="all 2 class sessions are in use"):
            await sessions.create("r", 0, "")
        clock.now += 99
        await sessions.update(a.code, token_a, "r", 1, "")  # a change restarts a's time
        clock.now += 2  # b: 101 s without a change
        assert await sessions.get(b.code) is None
        assert await sessions.get(a.code) is not None
        await sessions.create("r", 0, "")  # b's place is free again
        clock.now += 100
        assert await sessions.count() == 0

    run(scenario())


async def take(events: AsyncGenerator[bytes], count: int) -> list[tuple[str, str, str | None]]:
    """The next ``count`` events (name, data, id), comments and retry lines skipped."""
    out: list[tuple[str, str, str | None]] = []
    while len(out) < count:
        chunk = (await anext(events)).decode()
        lines = [line for line in chunk.strip().split("\n") if not line.startswith(":") and ": " in line]
        fields = dict(line.split(": ", 1) for line in lines)
        if "data" in fields:
            out.append((fields.get("event", "message"), fields["data"], fields.get("id")))
    return out


def test_a_follower_gets_the_current_state_first_then_each_change_then_ended() -> None:
    async def scenario() -> None:
        sessions = MemorySessions(max_sessions=4, ttl_seconds=60)
        state, token = await sessions.create("run-a", 3, "")
        events = follow_events(sessions, state.code, None)
        [first] = await take(events, 1)
        data = f'{{"code": "{state.code}", "run_id": "run-a", "step": 3, "line": 0, "seq": 1}}'
        assert first == ("state", data, f"{state.sid}.1")
        await sessions.update(state.code, token, "run-a", 4, "")
        [second] = await take(events, 1)
        assert second[0] == "state" and '"step": 4' in second[1] and second[2] == f"{state.sid}.2"
        await sessions.end(state.code, token)
        [last] = await take(events, 1)
        assert last == ("ended", f'{{"code": "{state.code}"}}', None)
        with pytest.raises(StopAsyncIteration):
            await anext(events)
        assert sessions.hub.count(state.code) == 0

    run(scenario())


def test_a_slow_follower_skips_to_the_newest_state_and_a_reconnect_with_it_gets_nothing_again() -> None:
    async def scenario() -> None:
        sessions = MemorySessions(max_sessions=4, ttl_seconds=60)
        state, token = await sessions.create("run-a", 0, "")
        events = follow_events(sessions, state.code, None)
        await take(events, 1)
        for k in range(1, 6):  # five changes while the follower reads nothing
            await sessions.update(state.code, token, "run-a", k, "")
        [newest] = await take(events, 1)
        assert '"step": 5' in newest[1] and newest[2] == f"{state.sid}.6"
        await events.aclose()
        # Reconnecting with the id of the state the page shows: no repeat; the next change arrives.
        again = follow_events(sessions, state.code, (state.sid, 6), ping_seconds=0.05)
        assert (await anext(again)).startswith(b":")  # the retry line
        await sessions.update(state.code, token, "run-b", 0, "")
        [changed] = await take(again, 1)
        assert '"run_id": "run-b"' in changed[1]
        await again.aclose()
        # An id from another session under the same code (or none) gets the current state at once.
        other = follow_events(sessions, state.code, ("deadbeef", 99))
        [current] = await take(other, 1)
        assert '"run_id": "run-b"' in current[1]
        await other.aclose()

    run(scenario())


def test_a_session_that_expires_ends_its_followers() -> None:
    async def scenario() -> None:
        clock = Clock()
        sessions = MemorySessions(max_sessions=4, ttl_seconds=10, clock=clock)
        state, _ = await sessions.create("run-a", 0, "")
        events = follow_events(sessions, state.code, None, ping_seconds=0.01)
        await take(events, 1)
        clock.now += 11
        [last] = await take(events, 1)  # found at the next ping
        assert last[0] == "ended"

    run(scenario())


def test_newer_than_orders_by_session_then_sequence() -> None:
    a1 = SessionState("ABC234", "r", 0, "", 1, "s1")
    a2 = SessionState("ABC234", "r", 1, "", 2, "s1")
    b1 = SessionState("ABC234", "r", 0, "", 1, "s2")
    assert a2.newer_than(a1) and not a1.newer_than(a2) and not a1.newer_than(a1)
    assert b1.newer_than(a2)  # another session under the same code replaces the old one whatever its seq
    assert SessionState("ABC234", "", 0, "", 0, "", ended=True).newer_than(a2)
