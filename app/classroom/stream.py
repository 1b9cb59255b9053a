"""A student's follow stream: the lecturer's state at once, then every change, as Server-Sent Events.

One stream per student, no polling. The first event is the session's current state (a student who joins
late or reconnects is where the lecturer is at once), unless ``Last-Event-ID`` says the page has it
already; then one ``state`` event per change, each with the id ``sid.seq``. A session that ends (the
lecturer stops sharing, or it expires) sends ``ended``. The stream ends with ``done`` after
``follow_stream_seconds`` or when the server shuts down (``app.core.slots``): the page opens it again
with its last id, to whichever process answers, and misses nothing since it is sent the current state.

Followers are bounded per session and process (``max_followers``), beside the step streams'
``max_streams``: a class of 300 does not take the slots of the pages playing a run.

Left out: what the page does with a state (``static/js/follow.js`` loads the step or the run).
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import AsyncGenerator

from fastapi import HTTPException
from fastapi.sse import format_sse_event

from backprop_lens.app.classroom.codes import spaced
from backprop_lens.app.classroom.hub import SessionState, ended, parse_event_id
from backprop_lens.app.classroom.redis_store import RedisSessions
from backprop_lens.app.classroom.store import MemorySessions, Sessions
from backprop_lens.app.core.lifecycle import Closing
from backprop_lens.app.core.lru import LRU
from backprop_lens.app.core.settings import Settings
from backprop_lens.app.core.slots import Slot, StreamSlots, sse

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


class Classroom:
    """An app's sessions and its followers' slots (``create_app`` keeps one on ``app.state.classroom``)."""

    def __init__(self, settings: Settings) -> None:
        self.sessions: Sessions
        if settings.redis_url:
            self.sessions = RedisSessions(settings.redis_url, settings.max_sessions, settings.session_ttl_seconds)
        else:
            self.sessions = MemorySessions(settings.max_sessions, settings.session_ttl_seconds)
        self.max_followers = settings.max_followers
        self.twins = Twins(TWINS_KEPT)
        self._pools: dict[str, StreamSlots] = {}
        self._lock = threading.Lock()

    def follower_slot(self, code: str, closing: Closing) -> Slot:
        """A slot among the session's followers on this process; a 503 that says so beyond ``max_followers``."""
        with self._lock:
            for other in [c for c, p in self._pools.items() if p.open == 0 and c != code]:
                del self._pools[other]
            pool = self._pools.get(code)
            if pool is None:
                pool = self._pools[code] = StreamSlots(self.max_followers)
                pool.closing = closing  # the server's shutdown ends these streams as it ends the others
        try:
            return pool.acquire()
        except HTTPException:
            raise HTTPException(
                503,
                f"followers: all {self.max_followers} places following session {spaced(code)} on this server are "
                "taken; try again shortly",
                headers={"Retry-After": str(pool.retry_after_seconds)},
            ) from None

    def followers(self, code: str) -> int:
        """Students following ``code`` on this process."""
        with self._lock:
            pool = self._pools.get(code)
            return 0 if pool is None else pool.open

    async def aclose(self) -> None:
        await self.sessions.aclose()


__all__ = ["Classroom", "follow_events", "parse_event_id", "state_event"]
