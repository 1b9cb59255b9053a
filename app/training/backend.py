"""Where trainings run, behind one interface: a thread of the web process, or worker processes through Redis.

``TrainingBackend`` is what the routes call: add a run (queue it), get it by id, stream its events
from an id on, control it, read its latest weights. ``make_backend`` picks the implementation from
the settings, as ``app.core.state.make_state`` does for the run store:

* ``app.training.store.TrainingStore`` without Redis: the session trains in a thread of the web
  process that accepted the form, from when the page opens the stream until it closes it;
* ``app.training.redis_store.RedisTrainings`` with ``redis_url``: the run waits in a queue in Redis
  for a ``backprop-lens worker`` (``app.training.worker``), and any web process relays its progress.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from fastapi.sse import ServerSentEvent

from backprop_lens.app.core.lifecycle import Closing
from backprop_lens.app.core.settings import Settings
from backprop_lens.app.training.store import Action, Training, TrainingStore
from backprop_lens.engine.network import Network


class TrainingBackend(Protocol):
    def add(self, run: Training, per_client: int) -> str | None:
        """Keep ``run`` and have it trained; else why not, in words (the page then says so with a 429): no more
        may train now, or ``run.client`` has ``per_client`` trainings queued or training already."""

    def get(self, run_id: str) -> Training:
        """The run, or an HTTPException 404."""

    def stream(
        self, run: Training, last_event_id: str | None, closing: Closing, max_seconds: float
    ) -> AsyncIterator[ServerSentEvent]:
        """The run's events after ``last_event_id``: `queue` while waiting, `progress`, and `done` last.

        Following the stream is the heartbeat: a training nobody follows any more is stopped.
        """

    def control(self, run: Training, action: Action) -> bool:
        """Pause, resume, stop, or one mini-batch while paused (`step`); whether it is paused now."""

    def set_eta(self, run: Training, eta: float) -> None:
        """The learning rate from the training's next mini-batch on (each epoch's record says its η)."""

    def eta(self, run: Training) -> float:
        """The learning rate in force now: the last one set during the run, else the form's."""

    def network(self, run: Training) -> Network:
        """The latest finite weights."""

    def by_state(self) -> dict[str, int]:
        """How many trainings are in each state (for /metrics); ``queued`` counts the whole queue."""

    def oldest_wait(self) -> float:
        """Seconds the training waiting longest in the queue has waited (for /metrics); 0 with none waiting."""

    def ready(self) -> list[str]:
        """Nothing when trainings can run; else why not, in words (no worker alive to take them)."""

    async def aclose(self) -> None:
        """Let go of connections and subscriptions (the app's shutdown)."""


def make_backend(settings: Settings) -> TrainingBackend:
    """Redis when ``settings.redis_url`` names one (``make_state`` has checked that it answers), else threads."""
    if not settings.redis_url:
        return TrainingStore(settings.trainings_kept, settings.max_trainings)
    from backprop_lens.app.training.redis_store import RedisTrainings

    return RedisTrainings(settings.redis_url, settings)
