"""Trainings without Redis: the last ``kept`` runs of one app, at most ``running`` of them training at once.

Each holds its configuration, data set and ``engine.training.TrainingSession``; the session runs in
a thread of the web process, started when the page opens the run's event stream and stopped when
the stream closes. The store lives on ``app.state.trainings`` and is one of the two
``app.training.backend.TrainingBackend`` implementations (the other is ``app.training.redis_store``).

Also here, because both implementations and the worker need them: ``build_training`` (a run from its
configuration; the engine is deterministic, so any process rebuilds the same data and initial
network) and ``progress_event`` (what one event of the stream carries: where training is, the epochs
measured since the last event with their test cost, layer speeds and η, and for small networks the
weights, the last epoch's mean ∂C/∂w and, on two-dimensional data, every hidden neuron over the plane; and
what the page shows of it, formatted and drawn by ``app.training.view`` from the whole history so far).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from threading import Lock
from typing import Literal

import numpy as np
from fastapi import HTTPException
from fastapi.sse import ServerSentEvent

from backprop_lens.app.core.lifecycle import Closing
from backprop_lens.app.core.limits import limit
from backprop_lens.app.core.lru import LRU
from backprop_lens.app.training.schemas import EpochPoint, ProgressEvent, TrainConfig
from backprop_lens.app.training.view import VIEW_SECONDS, training_view
from backprop_lens.engine.datasets import Dataset
from backprop_lens.engine.network import Network
from backprop_lens.engine.training import EpochRecord, Report, TrainingSession, decision_grid, neuron_grids

UNOPENED_SECONDS = 60.0  # a run whose stream has not opened yet holds its training slot this long
GRID = 40  # cells per side of the decision-boundary heat map
NEURON_GRID = 16  # cells per side of each hidden neuron's heat map (the page smooths them)
NEURON_DECIMALS = 4  # a hidden neuron's map is a picture: its values are rounded to 4 decimals
STREAMED_PARAMETERS = 5000  # networks up to this size send their weights with every event
STREAM_POLL_SECONDS = 0.05
RESTARTING_MESSAGE = "stopped because the server is restarting: press Train to start again"
PAGE_CLOSED = "stopped because the page was closed"
TIME_LIMIT = "stopped at the time limit"
Action = Literal["pause", "resume", "stop", "step"]


@dataclass
class Training:
    """One training run: its configuration, data, session and, for two-dimensional data, the plane it covers.

    With Redis the session here only describes the run (its initial network); a worker trains its own.
    """

    id: str
    config: TrainConfig
    data: Dataset
    session: TrainingSession
    created: float
    bounds: tuple[float, float, float, float] | None
    maps: bool = False  # whether the hidden neurons are drawn over the plane (within max_neuron_maps)
    client: str = ""  # the address that created it (max_queued_trainings_per_client)
    drawn_at: list[float] = field(default_factory=lambda: [-math.inf])  # when its events last carried drawings

    @property
    def busy(self) -> bool:
        """Holding (or about to hold) a training thread: not once it was told to stop."""
        state = self.session.report().state
        if self.session.stopping:
            return False
        fresh = time.monotonic() - self.created < UNOPENED_SECONDS
        return state in ("running", "paused") or (state == "ready" and fresh)


def client_limit(client: str, held: int) -> str:
    """The 429's sentence when ``client`` has ``held`` trainings queued or training, its whole share."""
    return (
        f"training: this address ({client}) has {held} trainings queued or training, the most one client may have "
        "(max_queued_trainings_per_client); stop one or wait for one to end"
    )


def build_training(run_id: str, config: TrainConfig, client: str = "") -> Training:
    """The run ``config`` describes (``client`` made it); ValidationError or ValueError (naming the field) when it
    cannot be built."""
    data = config.build_dataset()
    net = config.build_network(data)
    session = TrainingSession(
        net, data, config.epochs, config.batch, config.eta, config.cost, config.seed,
        epoch_delay=config.delay_ms / 1000, lmbda=config.lmbda,
    )  # fmt: skip
    plane = data.is_2d and data.n_outputs == 1  # one output a^L_1 to draw over the plane
    maps = plane and 0 < sum(config.hidden) <= int(limit("max_neuron_maps"))
    return Training(run_id, config, data, session, time.monotonic(), data.bounds() if plane else None, maps, client)


def progress_event(run: Training, report: Report, history: list[EpochRecord]) -> ProgressEvent:
    """One event of the stream: where training is, the epochs measured since the last event, the picture.

    The charts and pictures of its ``view`` are drawn from the whole history: at most every ``VIEW_SECONDS``
    (and always in the first and the last event), so a long training costs neither the server a drawing nor
    the wire a chart per epoch.
    """
    now = time.monotonic()
    drawings = report.final or report.state != "running" or now - run.drawn_at[0] >= VIEW_SECONDS
    if drawings:
        run.drawn_at[0] = now
    net = report.network
    small = net.num_parameters <= STREAMED_PARAMETERS
    neurons = None
    if run.maps and run.bounds is not None:
        neurons = [np.round(g, NEURON_DECIMALS).tolist() for g in neuron_grids(net, run.bounds, NEURON_GRID)]
    mean_nabla_w = None
    if small and report.mean_nabla_w is not None:
        mean_nabla_w = [g.tolist() for g in report.mean_nabla_w]
    grid = decision_grid(net, run.bounds, GRID).tolist() if run.bounds is not None else None
    # The page's charts are drawn from the whole history (the event's `history` is only what is new).
    view = training_view(
        report, run.session.history_since(0), grid, neurons, mean_nabla_w, run.config.activation,
        bool(run.data.image_shape), drawings,
    )  # fmt: skip
    return ProgressEvent(
        state=report.state,
        epoch=report.epoch,
        epochs=report.epochs,
        batch=report.batch,
        batches_per_epoch=report.batches_per_epoch,
        fraction=report.fraction,
        seconds=report.seconds,
        seconds_left=report.seconds_left,
        message=report.message,
        history=[
            EpochPoint(
                epoch=h.epoch,
                cost=h.cost,
                train_accuracy=h.train_accuracy,
                test_accuracy=h.test_accuracy,
                test_cost=h.test_cost,
                speeds=list(h.speeds),
                eta=h.eta,
            )
            for h in history
        ],
        grid=grid,
        network=net.to_dict() if small else None,
        mean_nabla_w=mean_nabla_w,
        neurons=neurons,
        view=view,
    )


class TrainingStore:
    """The last ``kept`` runs, at most ``running`` of them training at once, each in a thread of this process."""

    def __init__(self, kept: int, running: int) -> None:
        self.kept = kept
        self.running = running
        self._runs: LRU[str, Training] = LRU(
            kept, on_evict=lambda _, old: old.session.stop("stopped because newer runs replaced it")
        )
        self._lock = Lock()  # the count of busy runs and the adding of one are one step

    def add(self, run: Training, per_client: int) -> str | None:
        """Keep ``run``; why not when too many are training already, or too many of its client's."""
        with self._lock:
            busy = [r for r in self._runs.values() if r.busy]
            if len(busy) >= self.running:
                return f"training: {self.running} trainings are running already; try again when one ends"
            held = sum(r.client == run.client for r in busy)
            if held >= per_client:
                return client_limit(run.client, held)
            self._runs.put(run.id, run)
            return None

    def get(self, run_id: str) -> Training:
        run = self._runs.peek(run_id)  # order of start, not of use: the oldest training goes first
        if run is None:
            raise HTTPException(404, f"run_id: no training run {run_id!r}; start a new one at /train")
        return run

    async def stream(
        self, run: Training, last_event_id: str | None, closing: Closing, max_seconds: float
    ) -> AsyncIterator[ServerSentEvent]:
        """Start the training; `progress` events while it runs, then `done`. Leaving stops it.

        The stream is the training's only reader here, so a reconnecting page starts no second one and
        ``last_event_id`` is not needed.
        """
        session = run.session
        session.start()
        deadline = time.monotonic() + max_seconds
        version, seen = -1, 0
        try:
            while True:
                if closing.is_set():
                    # At once, not when the thread next looks: the server waits for this stream before it exits.
                    session.stop(RESTARTING_MESSAGE)
                    report = session.report()
                    payload = progress_event(run, report, session.history_since(seen))
                    final = payload.model_copy(update={"state": "stopped", "message": RESTARTING_MESSAGE})
                    yield ServerSentEvent(data=final, event="done", id=str(report.version))
                    return
                report = session.report()
                if report.version != version:
                    version = report.version
                    history = session.history_since(seen)
                    seen += len(history)
                    payload = progress_event(run, report, history)
                    if report.final:
                        # The final state is `done` alone: each epoch is sent once, in exactly one event.
                        yield ServerSentEvent(data=payload, event="done", id=str(version))
                        return
                    yield ServerSentEvent(data=payload, event="progress", id=str(version))
                if time.monotonic() > deadline:
                    session.stop(TIME_LIMIT)
                await asyncio.sleep(STREAM_POLL_SECONDS)
        finally:
            if not session.report().final and not closing.is_set():
                session.stop(PAGE_CLOSED)

    def control(self, run: Training, action: Action) -> bool:
        """Pause, resume, stop or train one mini-batch while paused; whether the training is paused now."""
        if action == "pause":
            run.session.pause()
        elif action == "resume":
            run.session.resume()
        elif action == "step":
            run.session.step()
            return True  # it pauses again after that mini-batch
        else:
            run.session.stop("stopped by you")
        return run.session.paused

    def set_eta(self, run: Training, eta: float) -> None:
        """η from the training's next mini-batch on."""
        run.session.set_eta(eta)

    def eta(self, run: Training) -> float:
        """The session's η, the form's until one is set during the run."""
        return run.session.eta

    def network(self, run: Training) -> Network:
        """The latest finite weights."""
        return run.session.network()

    def by_state(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for run in self._runs.values():
            state = run.session.report().state
            counts[state] = counts.get(state, 0) + 1
        return counts

    def oldest_wait(self) -> float:
        return 0.0  # no queue: a training past max_trainings is refused, not queued

    def ready(self) -> list[str]:
        return []  # trainings run in this process's threads

    async def aclose(self) -> None:
        """Nothing to let go of: the threads are daemons and stop with their streams."""
