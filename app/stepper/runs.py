"""The run store: traces the page has computed, kept for a while under an unguessable id.

A run is one configuration and its trace. Stepping back and forth and the
event stream only read it, so the server renders step k without computing
anything again. The store is in memory and bounded twice: at most
``max_runs`` runs (the least recently used goes first) and none older than
``run_ttl_seconds`` since it was last used.

Left out: sharing runs between server processes. ``RunStore`` is the whole
interface (``add``, ``get``), so a shared store can replace it.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from app.stepper.form import PageRequest
from engine import Trace


@dataclass(frozen=True)
class Run:
    """One configuration and the trace of its iteration."""

    id: str
    page: PageRequest
    trace: Trace

    @property
    def steps(self) -> int:
        return len(self.trace.steps)


class RunStore:
    """Least recently used, with a time limit; safe to use from several threads."""

    def __init__(self, max_runs: int, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_runs = max_runs
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._runs: OrderedDict[str, tuple[Run, float]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, page: PageRequest, trace: Trace) -> Run:
        """Keep a new run and return it; the oldest runs go when the store is full."""
        run = Run(id=secrets.token_urlsafe(16), page=page, trace=trace)
        with self._lock:
            self._expire()
            self._runs[run.id] = (run, self._clock())
            while len(self._runs) > self.max_runs:
                self._runs.popitem(last=False)
        return run

    def get(self, run_id: str) -> Run | None:
        """The run, now the most recently used; None when unknown or expired."""
        with self._lock:
            self._expire()
            entry = self._runs.get(run_id)
            if entry is None:
                return None
            self._runs[run_id] = (entry[0], self._clock())
            self._runs.move_to_end(run_id)
            return entry[0]

    def __len__(self) -> int:
        with self._lock:
            self._expire()
            return len(self._runs)

    def _expire(self) -> None:
        # Entries are in order of last use, so the expired ones are at the front.
        cutoff = self._clock() - self.ttl_seconds
        while self._runs:
            _, (_, used) = next(iter(self._runs.items()))
            if used > cutoff:
                break
            self._runs.popitem(last=False)


def get_store(request: Request) -> RunStore:
    """The run store of the app serving ``request`` (``create_app`` makes it from the app's settings)."""
    store: RunStore = request.app.state.runs
    return store


Store = Annotated[RunStore, Depends(get_store)]
