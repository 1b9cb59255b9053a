"""Where class sessions live (``Sessions``) and the embedded default, ``MemorySessions``.

A session is small: its join code, the hash of the lecturer's token, the run on the lecturer's screen
(its id and its configuration, so that an expired run can be stored again under the same id), the step,
and a sequence number that grows with every change. Two implementations of one interface, chosen by
``app.classroom.stream.Classroom`` from the settings:

* ``MemorySessions`` (here): one process; a change reaches the followers through its ``Hub``.
* ``app.classroom.redis_store.RedisSessions`` (``BACKPROP_LENS_REDIS_URL``): shared by every process.

Left out: what a run is (the routes ask the step-through's run store) and HTTP (``app.classroom.routes``).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from backprop_lens.app.classroom.codes import MAX_CODE_DRAWS, new_code, spaced, token_hash
from backprop_lens.app.classroom.hub import Hub, SessionState


class SessionError(Exception):
    """A request the sessions refuse; ``status`` is the HTTP status that says why."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SessionsFullError(SessionError):
    status = 503


class NoSessionError(SessionError):
    status = 404


class NotLecturerError(SessionError):
    status = 403


class Sessions(Protocol):
    """Where the class sessions live; every method may raise StateUnavailableError (Redis lost)."""

    hub: Hub

    async def create(self, run_id: str, step: int, query: str) -> tuple[SessionState, str]:
        """A new session on the lecturer's run and step, and the lecturer's token; SessionsFullError at the limit."""

    async def get(self, code: str) -> SessionState | None:
        """The session's current state; None when unknown or expired."""

    async def update(self, code: str, token: str, run_id: str, step: int, query: str, line: int = 0) -> SessionState:
        """The lecturer's new run, step and line, told to every follower; NoSessionError, NotLecturerError."""

    async def is_lecturer(self, code: str, token: str) -> bool:
        """Whether ``token`` is the lecturer's of a session that is there (it changes nothing)."""

    async def end(self, code: str, token: str) -> None:
        """The lecturer ends the session; its followers hear ``ended``."""

    async def count(self) -> int:
        """Sessions open now."""

    async def ready(self) -> None:
        """Returns once this process hears every change (Redis: its subscription is in place)."""

    async def aclose(self) -> None:
        """Let go of connections (the app's shutdown)."""


@dataclass
class _Kept:
    state: SessionState
    token_hash: str
    used: float


class MemorySessions:
    """In this process's memory: at most ``max_sessions``, each dropped ``ttl_seconds`` after its last change."""

    def __init__(self, max_sessions: int, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_sessions = max_sessions
        self.ttl_seconds = ttl_seconds
        self.hub = Hub()
        self._clock = clock
        self._sessions: dict[str, _Kept] = {}
        self._lock = threading.Lock()

    async def create(self, run_id: str, step: int, query: str) -> tuple[SessionState, str]:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._expire()
            if len(self._sessions) >= self.max_sessions:
                raise SessionsFullError(full_message(self.max_sessions))
            code = new_code()
            for _ in range(MAX_CODE_DRAWS):
                if code not in self._sessions:
                    break
                code = new_code()
            else:
                raise SessionsFullError("sessions: no free join code was found; try again")
            state = SessionState(code, run_id, step, query, seq=1, sid=secrets.token_hex(4))
            self._sessions[code] = _Kept(state, token_hash(token), self._clock())
        return state, token

    async def get(self, code: str) -> SessionState | None:
        with self._lock:
            self._expire()
            kept = self._sessions.get(code)
            return None if kept is None else kept.state

    async def update(self, code: str, token: str, run_id: str, step: int, query: str, line: int = 0) -> SessionState:
        with self._lock:
            kept = self._lecturers(code, token)
            kept.state = replace(kept.state, run_id=run_id, step=step, query=query, line=line, seq=kept.state.seq + 1)
            kept.used = self._clock()
            state = kept.state
        self.hub.publish(state)
        return state

    async def is_lecturer(self, code: str, token: str) -> bool:
        with self._lock:
            self._expire()
            kept = self._sessions.get(code)
            return kept is not None and hmac.compare_digest(kept.token_hash, token_hash(token))

    async def end(self, code: str, token: str) -> None:
        with self._lock:
            kept = self._lecturers(code, token)
            del self._sessions[code]
        self.hub.publish(replace(kept.state, ended=True))

    async def count(self) -> int:
        with self._lock:
            self._expire()
            return len(self._sessions)

    async def ready(self) -> None:
        pass

    async def aclose(self) -> None:
        pass

    def _lecturers(self, code: str, token: str) -> _Kept:
        self._expire()
        kept = self._sessions.get(code)
        if kept is None:
            raise NoSessionError(no_session_message(code))
        if not hmac.compare_digest(kept.token_hash, token_hash(token)):
            raise NotLecturerError(NOT_LECTURER)
        return kept

    def _expire(self) -> None:
        cutoff = self._clock() - self.ttl_seconds
        for code in [c for c, k in self._sessions.items() if k.used <= cutoff]:
            kept = self._sessions.pop(code)
            self.hub.publish(replace(kept.state, ended=True))


def full_message(limit: int) -> str:
    return f"sessions: all {limit} class sessions are in use; end one or try again later"


def no_session_message(code: str) -> str:
    return f"code: no class session has the code {spaced(code)}; it may have ended"


NOT_LECTURER = "token: only the lecturer's browser, which holds the session's lecturer link, can drive this session"
