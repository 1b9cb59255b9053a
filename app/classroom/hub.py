"""A session's state as its followers see it, and ``Hub``: this process's followers and the fan-out to them.

A change of session reaches the followers on this process through its ``Hub``: from the memory store
directly, from Redis through one subscription per process (``app.classroom.redis_store.RedisFanIn``).
A follower keeps only the newest state (``Follower.offer``): the state replaces the one before, so a
slow student skips to the lecturer's step instead of replaying every step in between.

Left out: where sessions are kept (``app.classroom.store``, ``app.classroom.redis_store``) and the
follow stream's events (``app.classroom.stream``).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SessionState:
    """What a follower needs: the lecturer's run, step and line (from 1; 0 when lecture mode shows every line at
    once, or outside it) and what the lecturer points at, in the order of the changes (``sid``, ``seq``)."""

    code: str
    run_id: str
    step: int
    query: str  # the run's configuration (its permalink's query), to store the run again if it expired
    seq: int
    sid: str  # random per session: a code used again later is another session, whose seq starts again
    ended: bool = False
    line: int = 0
    point: str = ""  # what the lecturer points at: a neuron's or an edge's id, "line:3" (from 1), or nothing
    question: str = ""  # the class's question: "n:key:phase" (phase open, shown or revealed), or none asked yet

    @property
    def event_id(self) -> str:
        return f"{self.sid}.{self.seq}"

    def newer_than(self, other: SessionState | None) -> bool:
        return other is None or self.ended or self.sid != other.sid or self.seq > other.seq

    def public(self) -> dict[str, Any]:
        """The event's data: no configuration (the page fetches the run by its id), no token."""
        said: dict[str, Any] = {
            "code": self.code,
            "run_id": self.run_id,
            "step": self.step,
            "line": self.line,
            "seq": self.seq,
        }
        if self.point:
            said["point"] = self.point
        if self.question:
            n, key, phase = self.question.split(":")
            said["question"] = {"n": int(n), "key": key, "phase": phase}
        return said


def parse_event_id(text: str | None) -> tuple[str, int] | None:
    """``sid.seq`` from a ``Last-Event-ID`` header; None for anything else."""
    sid, _, seq = (text or "").strip().partition(".")
    return (sid, int(seq)) if sid and seq.isdigit() and len(seq) < 12 else None


class Follower:
    """One student's stream: the newest state not yet sent, and an event that wakes the stream."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.wake = asyncio.Event()
        self.latest: SessionState | None = None

    def offer(self, state: SessionState) -> None:
        """Keep ``state`` if it is newer than the one kept (call on the follower's loop)."""
        if state.newer_than(self.latest):
            self.latest = state
            self.wake.set()


class Hub:
    """This process's followers by session code; ``publish`` is safe from any thread."""

    def __init__(self) -> None:
        self._followers: dict[str, set[Follower]] = {}
        self._lock = threading.Lock()

    def add(self, code: str) -> Follower:
        follower = Follower()
        with self._lock:
            self._followers.setdefault(code, set()).add(follower)
        return follower

    def remove(self, code: str, follower: Follower) -> None:
        with self._lock:
            followers = self._followers.get(code)
            if followers is not None:
                followers.discard(follower)
                if not followers:
                    del self._followers[code]

    def codes(self) -> list[str]:
        with self._lock:
            return list(self._followers)

    def count(self, code: str) -> int:
        with self._lock:
            return len(self._followers.get(code, ()))

    def publish(self, state: SessionState) -> None:
        with self._lock:
            followers = list(self._followers.get(state.code, ()))
        try:
            here: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        for f in followers:
            if f.loop is here:
                f.offer(state)
            else:
                with contextlib.suppress(RuntimeError):  # a loop already closed has no follower left to tell
                    f.loop.call_soon_threadsafe(f.offer, state)


def ended(code: str) -> SessionState:
    """The state of a session found gone (expired, or ended while a process was not listening)."""
    return SessionState(code, "", 0, "", 0, "", ended=True)
