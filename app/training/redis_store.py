"""Trainings with Redis: a queue that ``backprop-lens worker`` processes take from, and what they write back.

Redis primitives directly, no job library: a training needs a queue whose place a page can show
(a list: RPUSH, BLPOP, LPOS), an ordered log of progress that any web process can replay from an
id (a stream per training: XADD with MAXLEN, XREAD; its entry ids are the SSE ids, so a page that
reconnects to another process resumes from ``Last-Event-ID``), and a few keys with a time to live.
A job library would add a second protocol over the same Redis for the one part it does (the
queue) and none of the others.

The keys of one training, all under ``backprop-lens:training:<id>:``:

* ``config``: its ``TrainConfig`` as JSON (an uploaded CSV with it), the whole run: the engine is
  deterministic, so every process rebuilds the same data and initial network from it;
* ``meta``: a hash, its ``state`` (queued, running, paused, finished, stopped, diverged, failed),
  where it is (epoch, batch, …), the ``worker`` training it, when it first ``started`` and how many
  epochs its events have carried (``streamed``);
* ``events``: the stream of ``progress`` events and the one ``done``;
* ``network``: the latest finite weights as JSON;
* ``checkpoint``: the last finished epoch's ``engine.training.Checkpoint`` as JSON (weights, epoch, the
  shuffling generator's state, the η in force, the time trained, the history), written by the worker at
  most every ``CHECKPOINT_SECONDS``;
* ``paused``, ``stop``, ``step``, ``eta``: the controls, which the worker reads after each poll of the
  session (``step``: one mini-batch while paused, taken with GETDEL so each press is one mini-batch;
  ``eta``: the learning rate the page set during the run);
* ``heartbeat``: refreshed by every web process relaying the stream; when no page has followed the
  training for ``training_heartbeat_seconds`` (the tab was closed) the worker stops it;
* ``lease``: renewed by the worker running it.

All of them expire ``training_ttl_seconds`` after they were last written. Beside them:

* ``backprop-lens:training-events:<id>``, a channel: the worker publishes on it after each event it adds, and
  the relays waiting for that training read at once (``Wakeups``: one pattern subscription per process), so no
  relay polls; each still looks once a second (``RELAY_LOOK_SECONDS``) to renew the heartbeat, say the
  training's place in the queue and find a dead worker's lease;
* ``backprop-lens:trainings:client:<address>``, a set: the trainings one client address made, counted (those
  queued or training) against ``max_queued_trainings_per_client`` by every process.

A dead worker's training goes to another (a list and two Lua scripts, not consumer groups: the queue
must show each training's place, which a stream's pending entries do not). A worker takes a training
only through ``CLAIM_SCRIPT`` (it must be queued and unleased: a duplicate in the queue is dropped), so
exactly one worker trains it. A relay that finds the lease expired while the state is running or paused
(the worker was killed, even by SIGKILL, or lost Redis) runs ``REQUEUE_SCRIPT``: the training goes back
to the *front* of the queue, once however many relays find it; the next free worker claims it and goes
on from its checkpoint, writing to the same stream, so the page's events (and their ids) carry on. A
training that is queued but neither in the queue nor leased for a lease's time (its entry was lost) is
re-queued the same way. A training whose keys are gone (expired or evicted) ends its stream with a
``done`` that says so, and its weights are a 404 (never the untrained ones).

Left out: a training no page follows is not handed over (its heartbeat has run out; it is stopped anyway).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any, Literal, TypeVar

import redis
from fastapi import HTTPException
from fastapi.sse import ServerSentEvent
from pydantic import ValidationError

from backprop_lens.app.core.fanin import PatternFanIn
from backprop_lens.app.core.lifecycle import Closing
from backprop_lens.app.core.lru import LRU
from backprop_lens.app.core.redis_client import SET_SCRIPT, keeps_working, sync_client
from backprop_lens.app.core.settings import Settings
from backprop_lens.app.core.state import KEY_PREFIX, unavailable
from backprop_lens.app.training.schemas import ProgressEvent, TrainConfig
from backprop_lens.app.training.store import UNOPENED_SECONDS, Action, Training, build_training, client_limit
from backprop_lens.engine.network import Network

T = TypeVar("T")
QUEUE = f"{KEY_PREFIX}trainings:queue"
WORKERS = f"{KEY_PREFIX}trainings:workers"
"""Every worker's name, scored by when it last said it was alive (Unix seconds): a worker says so at least once a
second while it waits and at every renewal of its lease while it trains; one silent for ``WORKER_SILENT_SECONDS``
is taken for dead. The clocks of the machines are assumed to agree within a second (NTP)."""
WORKER_SILENT_SECONDS = 5.0
NO_WORKER = "no training worker is running; an operator starts one with `backprop-lens worker`"
WAKE_PREFIX = f"{KEY_PREFIX}training-events:"
RELAY_LOOK_SECONDS = 1.0  # at most this long between a relay's looks at a training (heartbeat, queue, lease)
READ_COUNT = 100  # events a relay reads at once
RELAY_MIN_SECONDS = 0.05  # at least this long between two reads of one training's events (at most 20 a second)
CHECKPOINT_SECONDS = 1.0  # seconds between a worker's checkpoints (a large network's is ~0.5 MB of JSON)
ACTIVE = ("running", "paused")
OLDEST_LOOKED_AT = 20  # of the queue's trainings, from its front, for the oldest wait
STOPPED_QUEUED = "Stopped by you before a worker took it."
LOST = (
    "Training lost: its state in Redis is gone (expired or evicted), so no worker can go on with it. "
    "Press Train to start again."
)

# KEYS: meta, lease. ARGV: the worker's name, the lease (ms), now (Unix seconds).
# A worker trains a training it took from the queue only if this returns 1: it is still queued and nobody
# holds its lease, so a training queued twice (two hand-overs raced a slow worker) is trained once.
CLAIM_SCRIPT = keeps_working("""
if redis.call('HGET', KEYS[1], 'state') ~= 'queued' then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'state', 'running', 'worker', ARGV[1])
redis.call('HSETNX', KEYS[1], 'started', ARGV[3])
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return 1
""")

# KEYS: meta, lease, queue. ARGV: the training's id, now (Unix seconds: it waits from then).
# A relay hands a training over when its lease ran out while it was running or paused (its worker died), or
# when it is queued but no longer in the queue; to the front of the queue, and once, however many relays look.
REQUEUE_SCRIPT = keeps_working("""
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local s = redis.call('HGET', KEYS[1], 'state')
if s == 'queued' then
  if redis.call('LPOS', KEYS[3], ARGV[1]) then return 0 end
elseif s ~= 'running' and s ~= 'paused' then
  return 0
end
redis.call('HSET', KEYS[1], 'state', 'queued', 'queued_at', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'handovers', 1)
redis.call('LPUSH', KEYS[3], ARGV[1])
return 1
""")

# KEYS: meta, events, lease. ARGV: new state, the done event's data, MAXLEN, time to live (ms), the worker's name,
# the channel that wakes the relays.
# A worker's own ending, only while the training is still its own (not handed over since), so a worker that
# lost its training never ends it and a training sends one `done`.
END_SCRIPT = keeps_working("""
local s = redis.call('HGET', KEYS[1], 'state')
if s ~= 'running' and s ~= 'paused' then return 0 end
if redis.call('HGET', KEYS[1], 'worker') ~= ARGV[5] then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[1])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'event', 'done', 'data', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('DEL', KEYS[3])
redis.call('PUBLISH', ARGV[6], 'done')
return 1
""")

# KEYS: meta, events, queue. ARGV: the training's id, the done event's data, MAXLEN, time to live (ms), the channel.
# A training stopped while it waits in the queue ends at once: no worker will take it, and its place is free.
STOP_QUEUED_SCRIPT = keeps_working("""
if redis.call('HGET', KEYS[1], 'state') ~= 'queued' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'stopped')
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'event', 'done', 'data', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('LREM', KEYS[3], 0, ARGV[1])
redis.call('PUBLISH', ARGV[5], 'done')
return 1
""")

# KEYS: picture, events, meta, network, checkpoint. ARGV: the picture, the event, MAXLEN, time to live (ms), the
# channel, the network ("" to leave it), the checkpoint ("" to leave it), then the meta's fields and values.
# A worker's progress: the event and its picture land together, and wake the relays.
PROGRESS_SCRIPT = keeps_working("""
local ttl = ARGV[4]
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'event', 'progress', 'data', ARGV[2])
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('HSET', KEYS[3], unpack(ARGV, 8))
if ARGV[6] ~= '' then redis.call('SET', KEYS[4], ARGV[6], 'PX', ttl) end
if ARGV[7] ~= '' then redis.call('SET', KEYS[5], ARGV[7], 'PX', ttl) end
redis.call('PUBLISH', ARGV[5], 'progress')
return 1
""")

# KEYS: the workers' set. ARGV: the worker's name, now (Unix seconds).
ALIVE_SCRIPT = keeps_working("return redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])")


class Keys:
    """The Redis keys of one training."""

    def __init__(self, run_id: str) -> None:
        base = f"{KEY_PREFIX}training:{run_id}:"
        self.config = base + "config"
        self.meta = base + "meta"
        self.events = base + "events"
        self.network = base + "network"
        self.picture = base + "picture"
        self.paused = base + "paused"
        self.stop = base + "stop"
        self.step = base + "step"
        self.eta = base + "eta"
        self.heartbeat = base + "heartbeat"
        self.lease = base + "lease"
        self.checkpoint = base + "checkpoint"
        self.wake = WAKE_PREFIX + run_id  # a channel, not a key: the worker publishes on it after every event


PICTURE = frozenset({"grid", "network", "mean_nabla_w", "neurons", "view"})
"""A progress event's picture of the network now (decision grid, weights, mean ∂C/∂w, neurons over the plane).

The worker keeps only the newest picture (``Keys.picture``) and streams each event without it; a relay puts
the newest picture into every progress event it sends. A page draws only the newest picture anyway, and
the stream keeps ``training_events_kept`` events: with a picture in each (up to ~200 KB with the neurons'
maps) one training could hold hundreds of megabytes of Redis."""


def with_picture(event: str, picture: str) -> str:
    """A progress event's JSON (an object without the picture's fields) joined with the picture's (an object)."""
    if picture == "{}":
        return event
    return event[:-1] + "," + picture[1:] if event != "{}" else picture


def client_key(client: str) -> str:
    """The set of the trainings one client address made (``max_queued_trainings_per_client``)."""
    return f"{KEY_PREFIX}trainings:client:{client}"


def workers_alive(client: redis.Redis) -> int:
    """How many workers said they were alive within ``WORKER_SILENT_SECONDS`` (RedisError as redis-py raises)."""
    return int(client.zcount(WORKERS, time.time() - WORKER_SILENT_SECONDS, "+inf"))


def ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def failed_event(meta: dict[Any, Any], message: str, state: Literal["failed", "stopped"] = "failed") -> str:
    """The `done` of a training whose worker stopped (or that was stopped before one took it): where it was, and
    why it ended."""
    epoch = int(meta.get("epoch", 0))
    return ProgressEvent(
        state=state,
        epoch=epoch,
        epochs=int(meta.get("epochs", 1)),
        batch=int(meta.get("batch", 0)),
        batches_per_epoch=int(meta.get("batches_per_epoch", 1)),
        fraction=float(meta.get("fraction", 0.0)),
        seconds=float(meta.get("seconds", 0.0)),
        seconds_left=None,
        message=message,
        history=[],
    ).model_dump_json()


def lost_event() -> ServerSentEvent:
    """The `done` of a training whose keys are gone: said in words (it has no id: nothing in Redis holds it)."""
    return ServerSentEvent(raw_data=failed_event({}, LOST), event="done")


async def wait_for_news(news: asyncio.Event, closing: Closing, within: float) -> None:
    """Until ``news`` is set, the server begins to shut down, or ``within`` seconds have passed."""
    waits = [asyncio.ensure_future(news.wait()), asyncio.ensure_future(closing.wait())]
    try:
        await asyncio.wait(waits, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


class Wakeups:
    """Relays waiting for their trainings' next events, woken by the workers' messages (``Keys.wake``).

    One pattern subscription per process and loop (``PatternFanIn``) for all of them. A relay registers once and
    clears its event before each read, so a message that arrives while it reads wakes its next wait. A message lost
    (the subscription was down) costs at most one look's time: a relay looks every ``RELAY_LOOK_SECONDS`` anyway.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._waiting: dict[str, set[asyncio.Event]] = {}
        self._fan_in: PatternFanIn | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def register(self, run_id: str) -> asyncio.Event:
        """An event set whenever ``run_id`` has news; ``unregister`` it when the relay ends."""
        loop = asyncio.get_running_loop()
        if self._fan_in is None or self._loop is not loop:  # a client's connections belong to the loop
            if self._fan_in is not None and self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._fan_in.cancel)  # the old loop's subscription ends there
            self._loop = loop
            self._fan_in = PatternFanIn(self.url, WAKE_PREFIX + "*", self._wake)
        self._fan_in.start()
        event = asyncio.Event()
        self._waiting.setdefault(run_id, set()).add(event)
        return event

    def unregister(self, run_id: str, event: asyncio.Event) -> None:
        waiting = self._waiting.get(run_id, set())
        waiting.discard(event)
        if not waiting:
            self._waiting.pop(run_id, None)

    def _wake(self, channel: str, _: str) -> None:
        for event in self._waiting.get(channel.removeprefix(WAKE_PREFIX), ()):
            event.set()

    async def aclose(self) -> None:
        fan_in, self._fan_in = self._fan_in, None
        if fan_in is not None:
            await fan_in.aclose()


class RedisTrainings:
    """Trainings queued in Redis for ``backprop-lens worker`` processes; progress relayed from their streams."""

    def __init__(self, url: str, settings: Settings) -> None:
        self.settings = settings
        self._redis = sync_client(url)
        self._requeue = self._redis.register_script(REQUEUE_SCRIPT)
        self._set = self._redis.register_script(SET_SCRIPT)  # the writes of a training under way, also when full
        self._stop_queued = self._redis.register_script(STOP_QUEUED_SCRIPT)
        self._ttl = ms(settings.training_ttl_seconds)
        self._runs: LRU[str, Training] = LRU(settings.trainings_kept)  # rebuilt runs, not rebuilt each request
        self._wakeups = Wakeups(url)

    def _call(self, command: Callable[[], T]) -> T:
        try:
            return command()
        except redis.RedisError as e:
            raise unavailable(e) from e

    def _remember(self, run: Training) -> None:
        self._runs.put(run.id, run)

    def _held(self, mine: str) -> int:
        """How many of the trainings in the set ``mine`` are queued or training (the others leave the set)."""
        ids = sorted(str(run_id) for run_id in self._redis.smembers(mine))
        pipe = self._redis.pipeline(transaction=False)
        for run_id in ids:
            pipe.hget(Keys(run_id).meta, "state")
        states = pipe.execute() if ids else []
        ended = [run_id for run_id, state in zip(ids, states, strict=True) if state not in ("queued", *ACTIVE)]
        if ended:
            self._redis.srem(mine, *ended)
        return len(ids) - len(ended)

    def add(self, run: Training, per_client: int) -> str | None:
        """Queue ``run`` for a worker (a training waits for a free worker, in its place), unless its client has
        ``per_client`` trainings queued or training already: each client's are a set, counted over every process."""
        k = Keys(run.id)
        report = run.session.report()
        mine = client_key(run.client)

        held = self._call(lambda: self._held(mine))
        if held >= per_client:
            return client_limit(run.client, held)

        def queue() -> None:
            pipe = self._redis.pipeline()
            pipe.sadd(mine, run.id)
            pipe.pexpire(mine, self._ttl)
            pipe.set(k.config, run.config.model_dump_json(), px=self._ttl)
            pipe.hset(k.meta, mapping={"state": "queued", "epoch": 0, "batch": 0, "epochs": report.epochs,
                                       "batches_per_epoch": report.batches_per_epoch, "fraction": 0.0,
                                       "seconds": 0.0, "queued_at": time.time()})  # fmt: skip
            pipe.pexpire(k.meta, self._ttl)
            pipe.set(k.heartbeat, "1", px=ms(UNOPENED_SECONDS))  # until the page opens the stream
            pipe.rpush(QUEUE, run.id)
            pipe.execute()

        self._call(queue)
        self._remember(run)
        return None

    def get(self, run_id: str) -> Training:
        run = self._runs.get(run_id)
        if run is not None:
            return run
        text = self._call(lambda: self._redis.get(Keys(run_id).config))
        if not isinstance(text, str):
            raise HTTPException(404, f"run_id: no training run {run_id!r}; start a new one at /train")
        try:
            run = build_training(run_id, TrainConfig.model_validate_json(text))
        except (ValidationError, ValueError):  # written under other limits than this process's
            raise HTTPException(404, f"run_id: training run {run_id!r} cannot be rebuilt here") from None
        self._remember(run)
        return run

    async def stream(
        self, run: Training, last_event_id: str | None, closing: Closing, max_seconds: float
    ) -> AsyncIterator[ServerSentEvent]:
        """Relay the training's events from ``last_event_id`` on (the start without it), ending with `done`.

        It reads when the worker says there is news (``Wakeups``), and looks at least every ``RELAY_LOOK_SECONDS``
        (never polling faster than ``RELAY_MIN_SECONDS``). While it waits in the queue, `queue` events give its
        place (1: next). Each look also renews the heartbeat and looks at the worker's lease: an expired one hands
        the training to another worker (it waits in the queue again, first), whose events follow in the same
        stream. A server shutting down ends the relay without `done`: the training goes on in its worker, and the
        page may follow it from any other process. ``max_seconds`` is the worker's to enforce.
        """
        k = Keys(run.id)
        last = last_event_id or "0-0"
        place: int | None = None
        no_worker = False
        unlisted: float | None = None  # since when the training has been queued but not in the queue
        beat = ms(self.settings.training_heartbeat_seconds)

        def poll() -> tuple[Any, dict[str, str], int | None, int, str | None, int]:
            try:
                return look_once()
            except redis.exceptions.NoScriptError:  # Redis restarted: its script cache is empty
                self._redis.script_load(SET_SCRIPT)
                return look_once()

        def look_once() -> tuple[Any, dict[str, str], int | None, int, str | None, int]:
            pipe = self._redis.pipeline(transaction=False)
            # EVALSHA itself: a Script object in a pipeline asks SCRIPT EXISTS first, a round trip per look
            pipe.evalsha(self._set.sha, 1, k.heartbeat, "1", beat)
            pipe.xread({k.events: last}, count=READ_COUNT)
            pipe.hgetall(k.meta)
            pipe.lpos(QUEUE, run.id)
            pipe.exists(k.lease)
            pipe.get(k.picture)
            pipe.zcount(WORKERS, time.time() - WORKER_SILENT_SECONDS, "+inf")
            _, entries, meta, pos, lease, picture, workers = pipe.execute()
            return entries, meta, pos, lease, picture, int(workers)

        look = min(RELAY_LOOK_SECONDS, self.settings.training_heartbeat_seconds / 3)
        news = self._wakeups.register(run.id)
        try:
            while not closing.is_set():
                news.clear()  # before the read: news that comes while it reads wakes the next wait
                read_at = time.monotonic()
                try:
                    entries, meta, pos, lease, picture, workers = await asyncio.to_thread(poll)
                except redis.RedisError:
                    return  # Redis lost mid-stream: the page reconnects (and gets a 503 until it is back)
                for _, items in entries or []:
                    for entry_id, fields in items:
                        last = entry_id
                        data = fields["data"]
                        if fields["event"] == "progress" and picture:
                            data = with_picture(data, picture)
                        yield ServerSentEvent(raw_data=data, event=fields["event"], id=entry_id)
                        if fields["event"] == "done":
                            return
                state = meta.get("state")
                if state is None:
                    yield lost_event()  # expired or evicted: nothing more will come, and the page says why
                    return
                if state == "queued" and pos is not None and (pos + 1 != place or (workers == 0) != no_worker):
                    place, no_worker = pos + 1, workers == 0
                    said = {"position": place, "message": NO_WORKER if no_worker else None}
                    yield ServerSentEvent(data=said, event="queue")
                if state != "queued":
                    place = None  # if it is handed over, its place in the queue is news again
                now = time.monotonic()
                unlisted = (unlisted or now) if state == "queued" and pos is None and not lease else None
                dead = state in ACTIVE and not lease
                if dead or (unlisted is not None and now - unlisted >= self.settings.training_lease_seconds):
                    unlisted = None
                    try:
                        args: list[str | float] = [run.id, time.time()]
                        await asyncio.to_thread(partial(self._requeue, keys=[k.meta, k.lease, QUEUE], args=args))
                    except redis.RedisError:
                        return
                    continue  # its place in the queue is said on the next look
                if sum(len(items) for _, items in entries or []) >= READ_COUNT:
                    continue  # more than one read's worth may be waiting
                await wait_for_news(news, closing, look)
                await asyncio.sleep(max(0.0, read_at + RELAY_MIN_SECONDS - time.monotonic()))
        finally:
            self._wakeups.unregister(run.id, news)

    def control(self, run: Training, action: Action) -> bool:
        """Tell the worker (it looks after each poll of its session); whether the training is paused now."""
        k = Keys(run.id)
        if action == "pause":
            self._call(lambda: self._set(keys=[k.paused], args=["1", self._ttl]))
        elif action == "resume":
            self._call(lambda: self._redis.delete(k.paused))
        elif action == "step":
            self._call(lambda: self._set(keys=[k.step], args=["1", self._ttl]))
        else:
            self._call(lambda: self._set(keys=[k.stop], args=["stopped by you", self._ttl]))

            def stop_queued() -> object:
                meta = self._redis.hgetall(k.meta)
                done = failed_event(meta, STOPPED_QUEUED, "stopped")
                args: list[str | int] = [run.id, done, self.settings.training_events_kept, self._ttl, k.wake]
                return self._stop_queued(keys=[k.meta, k.events, QUEUE], args=args)

            self._call(stop_queued)  # a training still queued ends now (a running one when its worker looks)
        return action in ("pause", "step")

    def set_eta(self, run: Training, eta: float) -> None:
        """Tell the worker the new η (it applies it after its next poll)."""
        k = Keys(run.id)
        self._call(lambda: self._set(keys=[k.eta], args=[repr(eta), self._ttl]))

    def eta(self, run: Training) -> float:
        """The η last set during the run (the worker applies it after its next poll), else the form's."""
        text = self._call(lambda: self._redis.get(Keys(run.id).eta))
        return float(text) if isinstance(text, str) else run.config.eta

    def network(self, run: Training) -> Network:
        """The latest finite weights the worker wrote; the initial network before it starts; a 404 once lost."""
        k = Keys(run.id)

        def read() -> tuple[str | None, list[str | None]]:
            pipe = self._redis.pipeline(transaction=False)
            pipe.get(k.network)
            pipe.hmget(k.meta, ["state", "epoch", "batch"])
            text, meta = pipe.execute()
            return text, meta

        text, (state, epoch, batch) = self._call(read)
        initial = run.session.initial
        if not isinstance(text, str):
            if state in ("queued", *ACTIVE) and epoch in (None, "0") and batch in (None, "0"):
                return initial.copy()  # it has not taken a step yet: the initial weights are its weights
            raise HTTPException(
                404, f"run_id: training run {run.id!r} is lost (its state in Redis expired or was evicted); "
                "start a new one at /train",
            )  # fmt: skip
        saved = json.loads(text)
        return Network(initial.sizes, weights=saved["weights"], biases=saved["biases"], activation=saved["activation"])

    def by_state(self) -> dict[str, int]:
        """The whole queue, and the states of the trainings this process has seen (at most ``trainings_kept``)."""
        runs = self._runs.values()
        pipe = self._redis.pipeline(transaction=False)
        pipe.llen(QUEUE)
        for run in runs:
            pipe.hget(Keys(run.id).meta, "state")
        queued, *states = self._call(pipe.execute)
        counts: dict[str, int] = {"queued": int(queued)}
        for state in states:
            if isinstance(state, str) and state != "queued":
                counts[state] = counts.get(state, 0) + 1
        return counts

    def oldest_wait(self) -> float:
        """Seconds the longest-waiting of the queue's first ``OLDEST_LOOKED_AT`` trainings has waited (0: none).

        New trainings join at the back and handed-over ones at the front, so the longest wait is among the first.
        """

        def read() -> list[list[str | None]]:
            ids = self._redis.lrange(QUEUE, 0, OLDEST_LOOKED_AT - 1)
            pipe = self._redis.pipeline(transaction=False)
            for run_id in ids:
                pipe.hmget(Keys(str(run_id)).meta, ["state", "queued_at"])
            return list(pipe.execute()) if ids else []

        # an entry whose training is no longer queued (a duplicate, left by a hand-over) waits for nothing
        since = [float(t) for state, t in self._call(read) if state == "queued" and t is not None]
        return max(0.0, time.time() - min(since)) if since else 0.0

    def ready(self) -> list[str]:
        """The workers' part of readiness: one must be alive; Redis itself is the shared state's to report."""
        try:
            return [] if workers_alive(self._redis) else [NO_WORKER]
        except redis.RedisError:
            return []

    async def aclose(self) -> None:
        await self._wakeups.aclose()
        self._redis.close()
