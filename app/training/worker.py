"""``backprop-lens worker --redis URL``: train the runs queued in Redis, one at a time, until told to stop.

Run several per machine and on several machines; each takes the next training from the queue
(BLPOP, then ``CLAIM_SCRIPT``: exactly one worker trains it), goes on from its checkpoint if it has
one (another worker died training it: ``app.training.redis_store`` describes the hand-over), trains
it with ``engine.training.TrainingSession`` in a thread, and meanwhile, every ``POLL_SECONDS``:
appends a ``progress`` event to the training's stream when the session has a new report, applies
the page's controls (pause, resume, stop, one mini-batch while paused, a new η), renews its lease,
stops a training that no page follows any more (the heartbeat expired) or that ran past
``max_training_seconds`` (counted from its first start), and writes the last finished epoch's
checkpoint at most every ``CHECKPOINT_SECONDS``. The final report becomes the one ``done`` event
(``app.training.redis_store`` describes the keys).

SIGTERM or SIGINT: the worker takes no more work, stops the training under way after its current
mini-batch, marks it failed ("the worker was shut down in epoch N", so the page says to start it again;
handing it over as a killed worker's is left out), and
exits. A worker killed outright cannot say so: its lease expires and the page's relay hands the training
to another worker, which goes on from the checkpoint.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from types import FrameType

import redis
from pydantic import ValidationError

from backprop_lens.app.cli import REDIS_URL_VARIABLE, command, operations_args, redis_from_file
from backprop_lens.app.core.logs import configure
from backprop_lens.app.core.redis_client import SET_SCRIPT, sync_client
from backprop_lens.app.core.settings import Settings
from backprop_lens.app.core.state import redacted
from backprop_lens.app.training.redis_store import (
    ACTIVE,
    ALIVE_SCRIPT,
    CHECKPOINT_SECONDS,
    CLAIM_SCRIPT,
    END_SCRIPT,
    LOST,
    PICTURE,
    PROGRESS_SCRIPT,
    QUEUE,
    REQUEUE_SCRIPT,
    WORKERS,
    Keys,
    failed_event,
    ms,
)
from backprop_lens.app.training.schemas import TrainConfig
from backprop_lens.app.training.store import PAGE_CLOSED, TIME_LIMIT, Training, build_training, progress_event
from backprop_lens.engine.training import Checkpoint, Report

POLL_SECONDS = 0.05
ALIVE_EVERY = 1.0  # seconds between a training worker's "alive" (well under redis_store.WORKER_SILENT_SECONDS)
TAKE_TIMEOUT = 1  # seconds a worker blocks on an empty queue before it looks at its stop flag again
log = logging.getLogger("backprop_lens.worker")


def shutdown_message(epoch: int) -> str:
    return f"Training failed: its worker was shut down in epoch {epoch}. Press Train to start again."


class Worker:
    """Takes trainings from the queue of the Redis at ``url`` until ``stopping`` is set."""

    def __init__(self, url: str, settings: Settings, stopping: threading.Event) -> None:
        self.settings = settings
        self.stopping = stopping
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self._redis = sync_client(url)
        self._end = self._redis.register_script(END_SCRIPT)
        self._claim = self._redis.register_script(CLAIM_SCRIPT)
        self._requeue = self._redis.register_script(REQUEUE_SCRIPT)
        self._progress = self._redis.register_script(PROGRESS_SCRIPT)
        self._alive = self._redis.register_script(ALIVE_SCRIPT)
        self._set = self._redis.register_script(SET_SCRIPT)  # a training's writes go on when Redis is full
        self._ttl = ms(settings.training_ttl_seconds)

    def alive(self) -> None:
        """Say this worker is alive (readiness, and a queued training's page, count the workers that said so)."""
        self._alive(keys=[WORKERS], args=[self.name, time.time()])

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.alive()
                taken = self._redis.blpop([QUEUE], timeout=TAKE_TIMEOUT)
            except redis.RedisError as e:
                log.warning("Redis unavailable (%s); retrying", e)
                self.stopping.wait(1.0)
                continue
            if taken is not None:
                try:
                    self.train(str(taken[1]))
                except redis.RedisError as e:  # its lease expires: a relay hands the training to another worker
                    log.warning("Redis lost while training %s: %s", taken[1], e)
        with contextlib.suppress(redis.RedisError):
            self._redis.zrem(WORKERS, self.name)  # gone: no page waits for it
        self._redis.close()

    def _finish(self, k: Keys, state: str, data: str) -> None:
        args: list[str | int] = [state, data, self.settings.training_events_kept, self._ttl, self.name, k.wake]
        self._end(keys=[k.meta, k.events, k.lease], args=args)

    def train(self, run_id: str) -> None:
        k = Keys(run_id)
        lease = ms(self.settings.training_lease_seconds)
        if not self._claim(keys=[k.meta, k.lease], args=[self.name, lease, time.time()]):
            return  # ended, expired, or another worker has it (it was queued twice)
        pipe = self._redis.pipeline(transaction=False)
        pipe.get(k.config)
        pipe.get(k.checkpoint)
        pipe.hgetall(k.meta)
        text, saved, meta = pipe.execute()
        if not isinstance(text, str):
            self._finish(k, "failed", failed_event(meta, LOST))
            return
        try:
            run = build_training(run_id, TrainConfig.model_validate_json(text))
            if isinstance(saved, str):
                run.session.restore(Checkpoint.from_dict(json.loads(saved), run.session.initial))
        except (ValidationError, ValueError, KeyError) as e:  # this worker's limits are not the web process's
            message = f"Training failed: this worker cannot build the run ({e}). Check that it has the web's settings."
            self._finish(k, "failed", failed_event(meta, message))
            return
        session = run.session
        if not self._redis.exists(k.heartbeat):
            session.stop(PAGE_CLOSED)  # nobody is watching: end it without training
            report = session.run()
            self._finish(k, report.state, progress_event(run, report, []).model_dump_json())
            return
        if self._redis.exists(k.paused):
            session.pause()  # handed over while paused: it stays paused
        resumed = session.report().epoch
        said = f"resumed after epoch {resumed} (handed over)" if isinstance(saved, str) else "started"
        log.info("training %s %s: %s", run_id, said, run.config.model_dump_json(exclude={"csv"}))
        started = float(meta.get("started", time.time()))
        streamed = int(meta.get("streamed", resumed))  # epochs its events carried already
        crashed: list[BaseException] = []

        def train() -> None:
            try:
                session.run()
            except BaseException as e:  # an engine bug: said in the training's `done`, not lost in a dead thread
                crashed.append(e)

        thread = threading.Thread(target=train, name=f"training-{run_id}", daemon=True)
        thread.start()
        try:
            self._follow(run, k, thread, crashed, started, streamed)
        finally:  # Redis lost (or this loop failed): the session must not train on for nobody
            session.stop("stopped because its worker lost Redis")
            thread.join()

    def _follow(
        self, run: Training, k: Keys, thread: threading.Thread, crashed: list[BaseException], started: float,
        seen: int,
    ) -> None:  # fmt: skip
        session = run.session
        network_every = 1.0  # seconds between writes of the weights (a large network is ~0.5 MB of JSON)
        next_network = next_checkpoint = 0.0
        checkpointed = session.report().epoch
        lease_every = self.settings.training_lease_seconds / 3
        deadline = time.monotonic() + self.settings.max_training_seconds - (time.time() - started)
        next_lease = time.monotonic() + lease_every
        next_alive = time.monotonic()
        version = -1
        shut_down = False
        while True:
            alive = thread.is_alive()  # before the report: a thread that ended has published its last one
            report = session.report()
            if not alive and not report.final:
                error = type(crashed[0]).__name__ if crashed else "an error"
                message = f"Training failed in epoch {report.epoch}: {error} in the worker."
                self._finish(k, "failed", failed_event(self._redis.hgetall(k.meta), message))
                return
            if report.version != version:
                version = report.version
                history = session.history_since(seen)
                seen += len(history)
                event = progress_event(run, report, history)
                if report.final:
                    if shut_down:
                        event = event.model_copy(update={"state": "failed", "message": shutdown_message(report.epoch)})
                    self._set(keys=[k.network], args=[_json(report), self._ttl])
                    self._finish(k, event.state, event.model_dump_json())
                    log.info("training %s ended: %s after %d epochs", run.id, event.state, report.epoch)
                    return
                network = saved = ""
                if time.monotonic() >= next_network:
                    network = _json(report)
                    next_network = time.monotonic() + network_every
                checkpoint = session.checkpoint()
                if checkpoint is not None and checkpoint.epoch != checkpointed and time.monotonic() >= next_checkpoint:
                    saved = json.dumps(checkpoint.to_dict())
                    checkpointed, next_checkpoint = checkpoint.epoch, time.monotonic() + CHECKPOINT_SECONDS
                meta = {
                    "state": "paused" if report.state == "paused" else "running",
                    "epoch": report.epoch,
                    "batch": report.batch,
                    "streamed": seen,
                    "fraction": report.fraction,
                    "seconds": report.seconds,
                }
                args = [event.model_dump_json(include=set(PICTURE)), event.model_dump_json(exclude=set(PICTURE)),
                        self.settings.training_events_kept, self._ttl, k.wake, network, saved,
                        *[x for field in meta.items() for x in field]]  # fmt: skip
                self._progress(keys=[k.picture, k.events, k.meta, k.network, k.checkpoint], args=args)
            now = time.monotonic()
            pipe = self._redis.pipeline(transaction=False)
            pipe.get(k.paused)
            pipe.get(k.stop)
            pipe.exists(k.heartbeat)
            pipe.hmget(k.meta, ["state", "worker"])
            pipe.getdel(k.step)
            pipe.get(k.eta)
            paused, stop, heartbeat, (state, owner), step, eta = pipe.execute()
            if eta is not None and float(eta) != session.eta:
                session.set_eta(float(eta))  # the web process validated it
            if state not in ACTIVE or owner != self.name:
                # Handed over (its lease ran out: this worker was too slow to renew it, or lost Redis for a while),
                # or its keys are gone: the training is another worker's, or no one's, now.
                log.warning("training %s given up: it is %s, by %s now", run.id, state or "lost", owner or "nobody")
                session.stop("given up")
                session.join()
                return
            if now >= next_lease:  # after the look at its owner: a lease renewed for another worker would block it
                self._set(keys=[k.lease], args=[self.name, ms(self.settings.training_lease_seconds)])
            if now >= next_alive:
                self.alive()
                next_alive = now + ALIVE_EVERY
                next_lease = now + lease_every
            if stop:
                session.stop(stop)
            elif not heartbeat:
                session.stop(PAGE_CLOSED)
            elif now > deadline:
                session.stop(TIME_LIMIT)
            elif self.stopping.is_set() and not shut_down:
                # Shut down (SIGTERM): hand the training over as a dead worker's is, from its last checkpoint,
                # at once rather than after its lease runs out; another worker (or this one, restarted) resumes it.
                session.stop("handed over: its worker was shut down")
                session.join()
                checkpoint = session.checkpoint()
                pipe = self._redis.pipeline()
                if checkpoint is not None:
                    self._set(keys=[k.checkpoint], args=[json.dumps(checkpoint.to_dict()), self._ttl], client=pipe)
                pipe.delete(k.lease)
                pipe.execute()
                if self._requeue(keys=[k.meta, k.lease, QUEUE], args=[run.id, time.time()]):
                    log.info("training %s handed over at epoch %d: its worker is shutting down", run.id, report.epoch)
                    return
                shut_down = True  # not running any more (it ended meanwhile): end it as before
            elif paused:
                session.pause()
                if step:
                    session.step()
            else:
                session.resume()
            time.sleep(POLL_SECONDS)


def _json(report: Report) -> str:
    """The report's weights as ``GET …/network.json`` serves them."""
    return json.dumps(report.network.to_dict())


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--redis", help=f"the Redis URL the web processes use (default: ${REDIS_URL_VARIABLE})")
    operations_args(p)


@command("worker", "train the runs the web processes queue in Redis (run several)", _args)
def worker(args: argparse.Namespace) -> int:
    try:
        from_file = redis_from_file(args.redis_file)
    except OSError as e:
        print(f"backprop-lens worker: cannot read the Redis URL from {e.filename}: {e.strerror}", file=sys.stderr)
        return 2
    url = args.redis or from_file or os.environ.get(REDIS_URL_VARIABLE)
    if not url:
        print(f"backprop-lens worker: give --redis URL (or set {REDIS_URL_VARIABLE})", file=sys.stderr)
        return 2
    settings = Settings()
    try:
        sync_client(url).ping()
    except (redis.RedisError, ValueError) as e:
        print(f"backprop-lens worker: Redis at {redacted(url)} is unreachable: {e}", file=sys.stderr)
        return 1
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    configure(args.log_format)  # once it is sure to run: the lines above speak to the operator directly
    work = Worker(url, settings, stopping)
    log.info("worker %s started on Redis at %s", work.name, redacted(url))
    work.run()
    log.info("worker %s stopped", work.name)
    return 0
