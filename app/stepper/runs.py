"""The run store: runs of the step-through under unguessable ids, recomputable by any process.

A run is one configuration and the trace of its iteration. The engine is deterministic, so the
configuration (the permalink's query string, ``PageRequest.query()``) is all that is shared: it
goes to the app's ``State`` (in memory, or Redis for several processes), bounded there by
``max_runs`` and ``run_ttl_seconds``. Traces stay in this process, in a cache of at most
``max_cached_traces`` (least recently used first out); a process that lacks a run's trace
recomputes it from the configuration, within the page's limits, and keeps it. Stepping and the
event stream then only read it.

The worked example that ``/`` opens is one run for everybody: its id is fixed (a hash of its
configuration, so another worked example gets another id) and it is never stored, since every
process knows its configuration. Loading ``/`` therefore evicts nobody's run and needs no Redis.

A run's URL carries its configuration too (``/runs/{id}/steps/{k}?sizes=…``), so a run that expired, or that a
restarted process without Redis forgot, is stored again under its id when that URL is opened (``revive``).

Left out: recomputing under other limits. A stored configuration that today's limits refuse is an
unknown run.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qsl, urlencode

from fastapi import Depends, Request

from backprop_lens.app.core.compute import run_replay
from backprop_lens.app.core.errors import InputError
from backprop_lens.app.core.lru import LRU
from backprop_lens.app.core.state import State
from backprop_lens.app.stepper.form import FormError, PageRequest, default_form, parse_form
from backprop_lens.engine import Trace


@dataclass(frozen=True)
class Run:
    """One configuration, the trace of its iteration and C at iterations 0 … n (the page's chart)."""

    id: str
    page: PageRequest
    trace: Trace
    history: tuple[float, ...]

    @property
    def steps(self) -> int:
        return len(self.trace.steps)


RUN_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}")
"""What a run's id may be (the random ids are 22 of these; the worked example's are longer)."""

EXAMPLE_ID = "example-" + hashlib.sha256(urlencode(sorted(default_form().items())).encode()).hexdigest()[:16]
"""The worked example's run id: the same in every process, and never one of the random ids (those are 22 long)."""
EXAMPLE_PRESENT_ID = EXAMPLE_ID + "-present"
"""The worked example in lecture mode: as shared, and as unstored, as the example itself."""


class RunStore:
    """Configurations in the shared state, traces in a bounded local cache; safe to use from several threads."""

    def __init__(self, state: State, max_cached_traces: int, max_layers: int, max_iterations: int) -> None:
        self.state = state
        self.max_cached_traces = max_cached_traces
        self._max_layers = max_layers
        self._max_iterations = max_iterations
        self._traces: LRU[str, Run] = LRU(max_cached_traces)
        self._examples: dict[bool, Run] = {}

    def example(self, present: bool = False) -> Run:
        """The worked example's run (in lecture mode or not), shared by every page that opens on it; computed
        once per process."""
        run = self._examples.get(present)
        if run is None:
            page = parse_form(default_form(), self._max_layers, self._max_iterations).presenting(present)
            other = self._examples.get(not present)
            trace, history = (
                (other.trace, other.history) if other is not None else run_replay(page.request, page.iteration)
            )
            run = Run(EXAMPLE_PRESENT_ID if present else EXAMPLE_ID, page, trace, tuple(history))
            self._examples[present] = run
        return run

    def is_example(self, page: PageRequest) -> bool:
        """Whether ``page`` is the worked example at iteration 0 (which has a fixed id and is stored nowhere)."""
        return page.iteration == 0 and dict(page.form) == dict(self.example().page.form)

    def add(self, page: PageRequest, trace: Trace, history: Sequence[float]) -> Run:
        """Keep a new run's configuration (StateUnavailableError if the state cannot be reached) and its trace."""
        run = Run(id=secrets.token_urlsafe(16), page=page, trace=trace, history=tuple(history))
        self.state.put_run(run.id, page.query())
        self._traces.put(run.id, run)
        return run

    def get(self, run_id: str) -> Run | None:
        """The run, its time to live restarted; None when unknown or expired.

        The shared state is asked every time, also for a cached trace: it restarts the run's time to live,
        and a run evicted there is gone for every process alike.
        """
        if run_id in (EXAMPLE_ID, EXAMPLE_PRESENT_ID):
            return self.example(run_id == EXAMPLE_PRESENT_ID)
        config = self.state.get_run(run_id)
        if config is None:
            self._traces.pop(run_id)
            return None
        run = self._traces.get(run_id)
        if run is not None:
            return run
        run = self._recompute(run_id, config)
        if run is not None:
            self._traces.put(run.id, run)
        return run

    def revive(self, run_id: str, page: PageRequest) -> Run | None:
        """The run ``run_id`` stored again from ``page``, the configuration its URL carries (it had expired, or a
        process restarted without Redis forgot it); the run already there if there is one (its id is what names
        it); None for an id no run has (StateUnavailableError if the state cannot be reached)."""
        if not RUN_ID.fullmatch(run_id):
            return None
        found = self.get(run_id)
        if found is not None:
            return found
        self.state.put_run(run_id, page.query())
        return self.get(run_id)

    def presenting(self, run: Run, on: bool) -> Run:
        """``run`` in lecture mode or out of it: the same trace under the id of that configuration.

        Lecture mode is part of a run's configuration (its permalink says ``present=1``), so that its steps
        and its stream, which any process may serve, render the projector's diagram.
        """
        if run.page.present == on:
            return run
        page = run.page.presenting(on)
        if self.is_example(page):
            return self.example(on)
        return self.add(page, run.trace, run.history)

    def __len__(self) -> int:
        """Runs kept in the shared state (the worked example is not one of them)."""
        return self.state.run_count()

    @property
    def cached(self) -> int:
        """Traces this process holds."""
        return len(self._traces)

    def _recompute(self, run_id: str, config: str) -> Run | None:
        # Another process made this run, or this one dropped its trace: the configuration gives it again.
        try:
            page = parse_form(dict(parse_qsl(config, keep_blank_values=True)), self._max_layers, self._max_iterations)
            trace, history = run_replay(page.request, page.iteration)
            return Run(id=run_id, page=page, trace=trace, history=tuple(history))
        except (FormError, InputError, ValueError):
            return None


def get_store(request: Request) -> RunStore:
    """The run store of the app serving ``request`` (``create_app`` makes it from the app's settings)."""
    store: RunStore = request.app.state.runs
    return store


Store = Annotated[RunStore, Depends(get_store)]
