"""A student's follow stream: the lecturer's state at once, then every change, as Server-Sent Events.

One stream per student, no polling. The first event is the session's current state (a student who joins
late or reconnects is where the lecturer is at once), unless ``Last-Event-ID`` says the page has it
already; then one ``state`` event per change, each with the id ``sid.seq``. A session that ends (the
lecturer stops sharing, or it expires) sends ``ended``. The stream ends with ``done`` after
``follow_stream_seconds`` or when the server shuts down (``app.core.slots``): the page opens it again
with its last id, to whichever process answers, and misses nothing since it is sent the current state.

Followers are bounded per session over every process (``max_followers``: the sessions' store counts them,
``Sessions.follow``), beside the step streams' ``max_streams``: a class of 300 does not take the slots of the
pages playing a run. One client address may hold ``max_follow_streams_per_client`` follow streams on a
process (a 429 names the limit): enough for a class behind one NAT, not for one client to take the room.

Left out: what the page does with a state (``static/js/follow.js`` loads the step or the run).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncGenerator, AsyncIterable

import anyio
from fastapi import HTTPException
from fastapi.sse import format_sse_event
from starlette.types import Receive, Scope, Send

from backprop_lens.app.classroom.codes import spaced
from backprop_lens.app.classroom.hub import SessionState, ended, parse_event_id
from backprop_lens.app.classroom.keys import LecturerKeys
from backprop_lens.app.classroom.redis_store import RedisSessions
from backprop_lens.app.classroom.store import MemorySessions, Sessions
from backprop_lens.app.core.lifecycle import Closing
from backprop_lens.app.core.lru import LRU
from backprop_lens.app.core.settings import Settings
from backprop_lens.app.core.slots import RateLimits, Slot, SlottedEventStream, StreamSlots, sse

PING_SECONDS = 15.0  # a comment this often keeps proxies from closing an idle stream and checks the session
RETRY_MS = 1000  # EventSource's pause before it opens a closed stream again


@functools.lru_cache(maxsize=256)
def state_event(state: SessionState) -> bytes:
    """The event of a state, made once for all of a session's followers on this process."""
    if state.ended:
        return sse("ended", {"code": state.code})
    return sse("state", state.public(), state.event_id)


async def follow_events(
    sessions: Sessions, code: str, last: tuple[str, int] | None, ping_seconds: float = PING_SECONDS
) -> AsyncGenerator[bytes]:
    """The events of one follower: the current state (unless ``last`` is it), each change, ``ended``."""
    follower = sessions.hub.add(code)  # before the current state is read: no change falls between the two
    try:
        yield format_sse_event(retry=RETRY_MS, comment="following " + spaced(code))
        current = await sessions.get(code)
        follower.offer(current or ended(code))
        sent: SessionState | None = None
        if last is not None and current is not None and (current.sid, current.seq) == last:
            sent = current  # the page shows this state already
        while True:
            state = follower.latest
            if state is not None and state.newer_than(sent):
                yield state_event(state)
                if state.ended:
                    return
                sent = state
            try:
                await asyncio.wait_for(follower.wake.wait(), ping_seconds)
            except TimeoutError:
                if await sessions.get(code) is None:  # expired without a word (Redis drops the key)
                    follower.offer(ended(code))
                else:
                    yield format_sse_event(comment="ping")
            follower.wake.clear()
    finally:
        sessions.hub.remove(code, follower)


TWINS_KEPT = 256  # lecture-mode runs whose twin out of lecture mode a process remembers


Twins = LRU[str, str]
"""A bounded map (least recently used out) from a lecture-mode run's id to its twin's."""


UNFOLLOW_SECONDS = 2.0  # giving a place back waits this long at most (unreturned, it lapses by itself)


class FollowStream(SlottedEventStream):
    """A follow stream that gives its place among the session's followers back however it ends."""

    def __init__(
        self, events: AsyncIterable[bytes], slot: Slot, settings: Settings, sessions: Sessions, code: str, place: str
    ) -> None:
        super().__init__(events, slot, settings.stream_send_timeout, settings.follow_stream_seconds)
        self._give_back = (sessions, code, place)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            sessions, code, place = self._give_back
            with anyio.move_on_after(UNFOLLOW_SECONDS, shield=True):
                await sessions.unfollow(code, place)


class Classroom:
    """An app's sessions, who may share, and its follow streams (``create_app`` keeps one on
    ``app.state.classroom``)."""

    def __init__(self, settings: Settings) -> None:
        self.sessions: Sessions
        if settings.redis_url:
            self.sessions = RedisSessions(settings.redis_url, settings.max_sessions, settings.session_ttl_seconds)
        else:
            self.sessions = MemorySessions(settings.max_sessions, settings.session_ttl_seconds)
        self.keys = LecturerKeys(settings.lecturer_key)
        self.settings = settings
        self.max_followers = settings.max_followers
        self.twins = Twins(TWINS_KEPT)
        self.streams = StreamSlots(settings.max_sessions * settings.max_followers)  # this process's follow streams
        per_student, per_client = (
            settings.max_reactions_per_minute_per_student,
            settings.max_reactions_per_minute_per_client,
        )
        self.student_reactions = RateLimits(per_student / 60, burst=per_student)  # keyed by session and student
        self.client_reactions = RateLimits(per_client / 60, burst=per_client)
        per_student = settings.max_answers_per_minute_per_student
        per_client = settings.max_answers_per_minute_per_client
        self.student_answers = RateLimits(per_student / 60, burst=per_student)  # keyed by session and student
        self.client_answers = RateLimits(per_client / 60, burst=per_client)

    async def follow_stream(
        self, code: str, client: str, closing: Closing, last: tuple[str, int] | None, exploring: bool = False
    ) -> SlottedEventStream:
        """The follow stream of ``client``: a 429 past its own share of streams, a 503 that says so when the
        session's ``max_followers`` places (over every process) are taken. ``exploring``: the student explores on
        their own, and the stream only keeps their page told (the lecturer counts them apart)."""
        self.streams.closing = closing  # the server's shutdown ends these streams as it ends the others
        slot = self.streams.acquire(
            client, self.settings.max_follow_streams_per_client, "max_follow_streams_per_client", kind="follow"
        )
        try:
            place = await self.sessions.follow(code, self.max_followers, exploring)
        except BaseException:
            slot.release()
            raise
        if place is None:
            slot.release()
            raise HTTPException(
                503,
                f"followers: all {self.max_followers} places following session {spaced(code)} are taken; "
                "try again shortly",
                headers={"Retry-After": str(self.streams.retry_after_seconds)},
            )
        events = follow_events(self.sessions, code, last)
        return FollowStream(events, slot, self.settings, self.sessions, code, place)

    def followers(self, code: str) -> int:
        """Students following ``code`` on this process."""
        return self.sessions.hub.count(code)

    async def aclose(self) -> None:
        await self.sessions.aclose()


__all__ = ["Classroom", "FollowStream", "follow_events", "parse_event_id", "state_event"]
