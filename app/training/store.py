"""The trainings of one app: the last ``kept`` runs, at most ``running`` of them training at once.

Each holds its configuration, data set and ``engine.training.TrainingSession``; the session runs in
a thread of the web process. The store lives on ``app.state.trainings``.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock

from fastapi import HTTPException

from app.training.schemas import TrainConfig
from engine.datasets import Dataset
from engine.training import TrainingSession

UNOPENED_SECONDS = 60.0  # a run whose stream has not opened yet holds its training slot this long


@dataclass
class Training:
    """One training run: its configuration, data, session and, for two-dimensional data, the plane it covers."""

    id: str
    config: TrainConfig
    data: Dataset
    session: TrainingSession
    created: float
    bounds: tuple[float, float, float, float] | None

    @property
    def busy(self) -> bool:
        """Holding (or about to hold) a training thread."""
        state = self.session.report().state
        fresh = time.monotonic() - self.created < UNOPENED_SECONDS
        return state in ("running", "paused") or (state == "ready" and fresh)


class TrainingStore:
    """The last ``kept`` runs, at most ``running`` of them training at once."""

    def __init__(self, kept: int, running: int) -> None:
        self.kept = kept
        self.running = running
        self._runs: OrderedDict[str, Training] = OrderedDict()
        self._lock = Lock()

    def add(self, run: Training) -> bool:
        """Keep ``run``; False when too many are training already."""
        with self._lock:
            if sum(r.busy for r in self._runs.values()) >= self.running:
                return False
            self._runs[run.id] = run
            while len(self._runs) > self.kept:
                _, old = self._runs.popitem(last=False)
                old.session.stop("stopped because newer runs replaced it")
            return True

    def get(self, run_id: str) -> Training:
        with self._lock:
            run = self._runs.get(run_id)
        if run is None:
            raise HTTPException(404, f"run_id: no training run {run_id!r}; start a new one at /train")
        return run
