"""Trainings in worker processes through Redis: real processes, no mocks.

One real ``redis-server`` (``tests.processes.RedisServer``), two ``backprop-lens worker`` subprocesses and
two apps on that Redis (in-process ``TestClient``s standing for two web processes, A and B). Each flow
sends consecutive requests to alternate apps: a training made on A is followed from B, controlled from
either, inspected and downloaded from both. Then the faults: a worker killed with SIGKILL mid-training
(its lease runs out, the relay re-queues the training and the other worker ends it from the checkpoint),
a training whose keys are gone, a worker sent SIGTERM (it marks its training
failed and exits), a closed page (its heartbeat runs out and the worker stops the training).

Every wait waits for an event (a stream's next event, a process's exit, a Redis key's change) with a
generous bound that only a broken feature reaches; no assertion depends on how fast the machine is.
Every process is stopped by its PID.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis
from fastapi.testclient import TestClient

from backprop_lens.app.cli import REDIS_URL_VARIABLE
from backprop_lens.app.cli import main as cli_main
from backprop_lens.app.core.settings import Settings
from backprop_lens.app.main import create_app
from backprop_lens.app.training.redis_store import (
    LOST,
    NO_WORKER,
    PICTURE,
    QUEUE,
    STOPPED_QUEUED,
    Keys,
    failed_event,
)
from backprop_lens.app.training.schemas import TrainConfig
from backprop_lens.app.training.store import build_training, client_limit
from backprop_lens.engine import Network
from backprop_lens.engine.datasets import generated
from backprop_lens.engine.sgd import SGD
from tests.app.core.test_metrics import scrape
from tests.app.training.test_routes import cost_after_one_step, inspected_costs
from tests.processes import RedisServer, environment, free_port, start_worker, stop

LEASE = 2.0  # seconds: short, so that a killed worker is noticed soon
HEARTBEAT = 2.0
WAIT = 60.0  # the bound of every wait: only a broken feature reaches it
HX = {"hx-request": "true"}
FORM: dict[str, str] = {
    "dataset": "xor", "points": "40", "noise": "0.1", "test_fraction": "0.25", "hidden": "4",
    "activation": "sigmoid", "output_activation": "sigmoid", "init": "scaled", "cost": "cross_entropy",
    "epochs": "20", "batch": "4", "eta": "2", "seed": "3", "delay_ms": "0", "csv": "",
}  # fmt: skip
LONG = {"epochs": "10000", "delay_ms": "10"}  # runs until it is stopped
Event = tuple[str, dict[str, Any], str | None]  # name, data, id


@dataclass
class Cluster:
    redis: RedisServer
    a: TestClient
    b: TestClient
    log: Path
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_worker(self) -> subprocess.Popen[bytes]:
        proc = start_worker(self.redis.url, self.log, environment(BACKPROP_LENS_TRAINING_LEASE_SECONDS=str(LEASE)))
        self.workers.append(proc)
        return proc

    def two_workers(self) -> None:
        """Two live workers (replacing any a test stopped)."""
        self.workers = [w for w in self.workers if w.poll() is None]
        while len(self.workers) < 2:
            self.start_worker()

    def worker_of(self, run_id: str) -> subprocess.Popen[bytes]:
        """The worker process training ``run_id`` (its name in the training's meta hash ends with its PID)."""
        with redis.Redis.from_url(self.redis.url, decode_responses=True) as r:
            name = r.hget(Keys(run_id).meta, "worker")
        assert isinstance(name, str)
        pid = int(name.rsplit(":", 1)[1])
        return next(w for w in self.workers if w.pid == pid)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    server = RedisServer()
    server.start()
    settings = Settings(redis_url=server.url, training_heartbeat_seconds=HEARTBEAT, training_lease_seconds=LEASE)
    c = Cluster(server, TestClient(create_app(settings)), TestClient(create_app(settings)),
                tmp_path_factory.mktemp("workers") / "workers.log")  # fmt: skip
    try:
        with c.a, c.b:
            c.two_workers()
            yield c
    finally:
        for w in c.workers:  # each by its PID
            stop(w)
        server.stop()


def start(client: TestClient, **changes: str) -> str:
    r = client.post("/train/runs", data={**FORM, **changes}, headers=HX)
    assert r.status_code == 200, r.text
    match = re.search(r'data-stream="/train/runs/([A-Za-z0-9_-]+)/events"', r.text)
    assert match is not None and 'id="train-queue"' in r.text
    return match.group(1)


def read_events(client: TestClient, run_id: str, last_id: str | None = None) -> list[Event]:
    """The stream to its end (from after ``last_id``, if given)."""
    follower = Follower(client, run_id, last_id)
    follower.run()
    return follower.events


class Follower:
    """Reads a training's stream in a thread; ``wait_for`` blocks until an event matches."""

    def __init__(self, client: TestClient, run_id: str, last_id: str | None = None) -> None:
        self.client, self.run_id, self.last_id = client, run_id, last_id
        self.events: list[Event] = []
        self._changed = threading.Condition()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        headers = {"last-event-id": self.last_id} if self.last_id else {}
        name, data, event_id = "", "", None
        with self.client.stream("GET", f"/train/runs/{self.run_id}/events", headers=headers) as r:
            assert r.status_code == 200
            for line in r.iter_lines():
                field_name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if field_name == "event":
                    name = value
                elif field_name == "id":
                    event_id = value
                elif field_name == "data":
                    data = value  # one line: the events are JSON
                elif not line and data:  # a blank line ends an event
                    with self._changed:
                        self.events.append((name, json.loads(data), event_id))
                        self._changed.notify_all()
                    name, data, event_id = "", "", None
        with self._changed:
            self._changed.notify_all()

    def __enter__(self) -> Follower:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), "the stream did not end"

    def wait_for(self, name: str, state: str | None = None, after: int = 0) -> int:
        """The index of the first event from ``after`` on named ``name`` (and in ``state``)."""
        deadline = time.monotonic() + WAIT
        with self._changed:
            while True:
                for i, (n, data, _) in enumerate(self.events[after:], after):
                    if n == name and (state is None or data.get("state") == state):
                        return i
                if not self.thread.is_alive() and self.thread.ident is not None:
                    pytest.fail(f"the stream ended without a {name} {state or ''} event: {self.events[-1:]}")
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"no {name} {state or ''} event within {WAIT} s")
                self._changed.wait(left)


def test_a_training_made_on_one_app_is_followed_inspected_and_downloaded_from_the_other(cluster: Cluster) -> None:
    cluster.two_workers()
    run_id = start(cluster.a, delay_ms="20")  # paced, so that there are events before `done` to resume from
    events = read_events(cluster.b, run_id)
    names = [n for n, _, _ in events]
    assert names[-1] == "done" and set(names[:-1]) <= {"progress", "queue"}
    done = events[-1][1]
    assert done["state"] == "finished" and done["fraction"] == 1.0
    assert [h["epoch"] for n, e, _ in events if n != "queue" for h in e["history"]] == list(range(1, 21))

    # the worker trained bit for bit as the engine's SGD on the same data and network (as in test_routes)
    data = generated("xor", 40, 0.1, 0.25, 3)
    net = SGD(Network([2, 4, 1], seed=3, init="scaled"), data.x_train, data.y_train, 20, 4, 2.0, "cross_entropy", 3)
    for client in (cluster.a, cluster.b):
        assert client.get(f"/train/runs/{run_id}/network.json").json()["weights"] == [w.tolist() for w in net.weights]
    example = {"split": "test", "example": "2"}
    inspected = [c.post(f"/train/runs/{run_id}/inspect", data=example) for c in (cluster.b, cluster.a)]
    assert [r.status_code for r in inspected] == [200, 200] and inspected[0].text == inspected[1].text

    # Last-Event-ID: a page reconnecting to the other app gets exactly the events after the last one it saw
    ids = [i for _, _, i in events if i is not None]
    assert len(ids) >= 2 and ids == sorted(ids, key=lambda i: tuple(int(p) for p in i.split("-")))
    again = read_events(cluster.a, run_id, last_id=ids[0])
    assert [i for _, _, i in again] == ids[1:]


def test_pause_resume_and_stop_from_alternate_apps(cluster: Cluster) -> None:
    cluster.two_workers()
    run_id = start(cluster.a, **LONG)
    with Follower(cluster.b, run_id) as f:
        seen = f.wait_for("progress", "running")
        r = cluster.a.post(f"/train/runs/{run_id}/controls/pause")
        assert r.status_code == 200 and 'id="train-resume"' in r.text
        seen = f.wait_for("progress", "paused", seen)
        r = cluster.b.post(f"/train/runs/{run_id}/controls/resume")
        assert r.status_code == 200 and 'id="train-pause"' in r.text
        seen = f.wait_for("progress", "running", seen)
        assert cluster.a.post(f"/train/runs/{run_id}/inspect", data={"example": "1"}).status_code == 200
        assert cluster.b.post(f"/train/runs/{run_id}/controls/stop").status_code == 200
        last = f.wait_for("done", after=seen)
    name, done, _ = f.events[-1]
    assert last == len(f.events) - 1 and name == "done"
    assert done["state"] == "stopped" and "stopped by you" in done["message"]
    assert cluster.a.get(f"/train/runs/{run_id}/network.json").status_code == 200


def test_a_training_waiting_for_a_free_worker_shows_its_place(cluster: Cluster) -> None:
    cluster.two_workers()
    busy = [start(cluster.a, **LONG), start(cluster.b, **LONG)]
    with Follower(cluster.a, busy[0]) as f0, Follower(cluster.b, busy[1]) as f1:
        f0.wait_for("progress")
        f1.wait_for("progress")  # both workers are busy now
        waiting = start(cluster.b, epochs="3")
        with Follower(cluster.a, waiting) as f:
            f.wait_for("queue")
            assert f.events[0][1] == {"position": 1, "message": None}  # workers are alive, both busy
            assert f.events[0][2] is None  # no id: not a progress event
            cluster.b.post(f"/train/runs/{busy[0]}/controls/stop")  # frees a worker
            f.wait_for("done", "finished")
        cluster.a.post(f"/train/runs/{busy[1]}/controls/stop")
    assert {f0.events[-1][1]["state"], f1.events[-1][1]["state"]} == {"stopped"}


def test_one_address_may_queue_so_many_trainings_over_every_process(cluster: Cluster) -> None:
    """Counted in Redis: two trainings from one address on two processes fill its share, a third gets the form's
    429 naming the limit while another address still trains; once they end, the address may train again."""
    cluster.two_workers()
    settings = Settings(redis_url=cluster.redis.url, max_queued_trainings_per_client=2)
    app_a, app_b = create_app(settings), create_app(settings)
    greedy_a, greedy_b = TestClient(app_a, client=("10.0.0.7", 5000)), TestClient(app_b, client=("10.0.0.7", 5001))
    other = TestClient(app_a, client=("10.0.0.8", 5000))
    with greedy_a, greedy_b, other:
        mine = [start(greedy_a, **LONG), start(greedy_b, **LONG)]
        refused = greedy_a.post("/train/runs", data={**FORM, **LONG}, headers=HX)
        assert refused.status_code == 429
        assert client_limit("10.0.0.7", 2).removeprefix("training: ") in unescape(refused.text)
        theirs = start(other, epochs="2")  # taken (queued: both workers train the greedy address's)
        for run_id in mine:
            greedy_b.post(f"/train/runs/{run_id}/controls/stop")
            assert read_events(greedy_a, run_id)[-1][1]["state"] == "stopped"
        assert read_events(other, theirs)[-1][1]["state"] == "finished"
        assert read_events(greedy_b, start(greedy_b, epochs="2"))[-1][1]["state"] == "finished"


def test_with_no_worker_a_queued_training_says_so_and_starts_when_one_does(cluster: Cluster) -> None:
    for worker in cluster.workers:
        stop(worker)  # SIGTERM: each takes its name off the list of live workers as it exits
    cluster.workers = []
    not_ready = cluster.a.get("/api/ready")
    assert not_ready.status_code == 503 and not_ready.json() == {"status": "not ready", "reasons": [NO_WORKER]}
    before = time.time()
    run_id = start(cluster.b, epochs="3")
    after = time.time()
    with Follower(cluster.a, run_id) as f:
        f.wait_for("queue")
        time.sleep(0.3)  # a wait to measure: the gauge is the queue's oldest wait, in seconds
        scrape_from, samples, scrape_to = time.time(), scrape(cluster.a), time.time()
        waited = samples[("backprop_lens_training_queue_oldest_wait_seconds", ())]
        assert scrape_from - after - 0.05 <= waited <= scrape_to - before + 0.05
        assert samples[("backprop_lens_trainings", (("state", "queued"),))] == 1
        # a worker is taken for dead WORKER_SILENT_SECONDS (5) after it last said it was alive, and the relay
        # looks every 0.1 s: the page says so within 10 s of the last worker's going
        assert f.events[0][1] == {"position": 1, "message": NO_WORKER}
        cluster.two_workers()
        f.wait_for("done", "finished")
    assert cluster.b.get("/api/ready").json() == {"status": "ready", "reasons": []}


def test_a_worker_killed_mid_training_hands_it_to_another_that_ends_with_the_uninterrupted_weights(
    cluster: Cluster,
) -> None:
    """SIGKILL after epoch 20: the relay finds the lease expired and re-queues the training at the front; the
    other worker goes on from the checkpoint in Redis, in the same stream. The final weights are those of the
    same configuration trained without a stop in this process (the engine's TrainingSession), to 1e-12."""
    cluster.two_workers()
    changes = {"epochs": "150", "delay_ms": "10"}
    run_id = start(cluster.a, **changes)
    with Follower(cluster.b, run_id) as f:
        seen = f.wait_for("progress", "running")
        while not any(h["epoch"] >= 20 for _, e, _ in f.events for h in e.get("history", [])):
            seen = f.wait_for("progress", after=seen + 1)
        killed = cluster.worker_of(run_id)
        killed.send_signal(signal.SIGKILL)
        killed.wait(WAIT)
        f.wait_for("done")
    name, done, _ = f.events[-1]
    assert name == "done" and done["state"] == "finished" and done["epoch"] == 150
    assert cluster.worker_of(run_id).pid != killed.pid
    epochs = [h["epoch"] for n, e, _ in f.events if n != "queue" for h in e["history"]]
    assert epochs == list(range(1, 151))  # each epoch once, across the hand-over
    ids = [i for _, _, i in f.events if i is not None]
    assert ids == sorted(ids, key=lambda i: tuple(int(p) for p in i.split("-"))) and len(set(ids)) == len(ids)
    with redis.Redis.from_url(cluster.redis.url, decode_responses=True) as db:
        assert db.hget(Keys(run_id).meta, "handovers") == "1"
    uninterrupted = build_training("x" * 8, TrainConfig.model_validate({**FORM, **changes})).session
    uninterrupted.epoch_delay = 0.0
    expected = uninterrupted.run().network
    for client in (cluster.a, cluster.b):
        got = client.get(f"/train/runs/{run_id}/network.json").json()
        for w, want in zip(got["weights"], expected.weights, strict=True):
            np.testing.assert_allclose(np.array(w), want, rtol=1e-12, atol=0)
        for b, want in zip(got["biases"], expected.biases, strict=True):
            np.testing.assert_allclose(np.array(b), want, rtol=1e-12, atol=0)
    assert [n for n, _, _ in read_events(cluster.a, run_id)].count("done") == 1  # ended once, seen from anywhere


def test_a_lost_training_ends_its_stream_in_words_and_its_weights_are_a_404_everywhere(cluster: Cluster) -> None:
    """Its keys evicted (deleted here): both apps, also the one that keeps the run in memory, answer 404 for its
    weights and Inspect, never the untrained weights; its stream ends with a `done` saying why."""
    cluster.two_workers()
    run_id = start(cluster.a, epochs="3")
    assert read_events(cluster.b, run_id)[-1][1]["state"] == "finished"
    assert all(c.get(f"/train/runs/{run_id}/network.json").status_code == 200 for c in (cluster.a, cluster.b))
    with redis.Redis.from_url(cluster.redis.url, decode_responses=True) as db:
        keys = list(db.scan_iter(f"{Keys(run_id).meta.rsplit(':', 1)[0]}:*"))
        assert Keys(run_id).meta in keys and db.delete(*keys) == len(keys)
    for client in (cluster.a, cluster.b):
        r = client.get(f"/train/runs/{run_id}/network.json")
        assert r.status_code == 404 and "is lost" in r.json()["message"]
        assert client.post(f"/train/runs/{run_id}/inspect", data={"example": "1"}).status_code == 404
    queued = start(cluster.b, **LONG)  # waiting or running: its keys go while a page follows it
    with Follower(cluster.a, queued) as f:
        f.wait_for("progress")
        with redis.Redis.from_url(cluster.redis.url, decode_responses=True) as db:
            db.delete(*db.scan_iter(f"{Keys(queued).meta.rsplit(':', 1)[0]}:*"))
        f.wait_for("done")
    name, done, _ = f.events[-1]
    assert name == "done" and done["state"] == "failed" and done["message"] == LOST


def test_a_worker_sent_sigterm_hands_its_training_over_and_exits(cluster: Cluster) -> None:
    cluster.two_workers()
    run_id = start(cluster.b, **LONG)
    with Follower(cluster.a, run_id) as f:
        f.wait_for("progress", "running")
        worker = cluster.worker_of(run_id)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(WAIT) == 0
        cluster.workers.remove(worker)
        cluster.two_workers()  # a restarted worker, as systemd would start one
        with redis.Redis.from_url(cluster.redis.url, decode_responses=True) as db:
            deadline = time.monotonic() + WAIT
            while db.hget(Keys(run_id).meta, "worker") == f"{socket.gethostname()}:{worker.pid}":
                assert time.monotonic() < deadline, "no worker took the training over"
                time.sleep(0.05)
            assert db.hget(Keys(run_id).meta, "handovers") == "1"
        seen = f.wait_for("progress", "running", after=len(f.events))  # it goes on, in the same stream
        assert cluster.a.post(f"/train/runs/{run_id}/controls/stop").status_code == 200
        f.wait_for("done", after=seen)
    done = f.events[-1][1]
    assert done["state"] == "stopped" and "stopped by you" in done["message"]
    epochs = [h["epoch"] for n, e, _ in f.events if n != "queue" for h in e["history"]]
    assert epochs == sorted(set(epochs))  # every epoch once, in order, across the hand-over


def test_closing_the_page_stops_the_training_when_its_heartbeat_runs_out(cluster: Cluster) -> None:
    cluster.two_workers()
    run_id = start(cluster.a, **LONG)
    with cluster.b.stream("GET", f"/train/runs/{run_id}/events") as r:
        for line in r.iter_lines():
            if line.startswith("event:") and line.removeprefix("event:").strip() == "progress":
                break  # leaving the block closes the stream: no page follows the training any more
    with redis.Redis.from_url(cluster.redis.url, decode_responses=True) as db:
        deadline = time.monotonic() + WAIT
        while db.hget(Keys(run_id).meta, "state") in ("queued", "running", "paused"):
            assert time.monotonic() < deadline, "the training outlived its heartbeat"
            time.sleep(0.1)
    name, done, _ = read_events(cluster.a, run_id)[-1]
    assert name == "done" and done["state"] == "stopped" and "page was closed" in done["message"]


def test_redis_lost_is_a_503_and_the_trainings_come_back_with_it(own_redis: RedisServer) -> None:
    with (
        TestClient(create_app(Settings(redis_url=own_redis.url))) as a,
        TestClient(create_app(Settings(redis_url=own_redis.url))) as b,
    ):
        run_id = start(a)  # queued: no worker runs in this test
        own_redis.stop()
        for r in (
            b.post("/train/runs", data=FORM, headers=HX),
            b.get(f"/train/runs/{run_id}/network.json"),  # b has never seen the run: it asks Redis
            a.post(f"/train/runs/{run_id}/controls/pause"),
        ):
            assert r.status_code == 503 and "Redis is unavailable" in r.json()["message"]
            assert r.headers["retry-after"] == "5"
        own_redis.start()  # empty: the queued run is gone with the old server, new ones are taken again
        assert b.get(f"/train/runs/{run_id}/network.json").status_code == 404
        assert start(b) != run_id


def test_a_worker_without_redis_says_which_url_and_exits(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    assert cli_main(["worker", "--redis", url]) == 1
    assert f"Redis at {url} is unreachable" in capsys.readouterr().err
    assert REDIS_URL_VARIABLE not in os.environ or os.environ[REDIS_URL_VARIABLE] != url  # nothing leaks
    env = os.environ.pop(REDIS_URL_VARIABLE, None)
    try:
        assert cli_main(["worker"]) == 2
    finally:
        if env is not None:
            os.environ[REDIS_URL_VARIABLE] = env
    assert "give --redis URL" in capsys.readouterr().err


def _position(event: dict[str, Any]) -> int:
    """Mini-batches done, as an event says."""
    return (int(event["epoch"]) - 1) * int(event["batches_per_epoch"]) + int(event["batch"])


def test_a_worker_sends_the_numbers_a_thread_sends(cluster: Cluster) -> None:
    """L2, test cost, layer speeds, η, the mean ∂C/∂w and the heat maps of every hidden neuron: the events a worker
    writes to Redis carry what a training in a thread of one web process sends (test_routes checks those numbers
    against network2's loop), epoch by epoch."""
    cluster.two_workers()
    changes = {"hidden": "3,2", "epochs": "6", "lmbda": "3", "eta": "1.5"}
    worker_events = read_events(cluster.b, start(cluster.a, **changes))
    with TestClient(create_app(Settings())) as alone:  # no Redis: a thread of this process trains
        r = alone.post("/train/runs", data={**FORM, **changes}, headers=HX)
        run_id = re.search(r"/train/runs/([A-Za-z0-9_-]+)/events", r.text).group(1)  # type: ignore[union-attr]
        with alone.stream("GET", f"/train/runs/{run_id}/events") as stream:
            lines = [line for line in stream.iter_lines() if line.startswith("data:")]
    thread_events = [json.loads(line.removeprefix("data:")) for line in lines]

    def history(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [h for e in events for h in e.get("history", [])]

    from_worker = history([e for n, e, _ in worker_events if n != "queue"])
    assert [h["epoch"] for h in from_worker] == list(range(1, 7))
    assert from_worker == history(thread_events)
    assert all(h["test_cost"] is not None and len(h["speeds"]) == 3 and h["eta"] == 1.5 for h in from_worker)
    done_worker, done_thread = worker_events[-1][1], thread_events[-1]
    for key in ("network", "mean_nabla_w", "neurons", "grid"):
        assert done_worker[key] == done_thread[key] and done_worker[key] is not None, key


def test_redis_keeps_one_picture_per_training_and_every_relayed_event_carries_it(cluster: Cluster) -> None:
    """The stream in Redis holds each event's epochs without its picture (grid, weights, mean ∂C/∂w, the neurons'
    maps: up to ~200 KB an event); the relay puts the newest picture into every progress event it sends."""
    cluster.two_workers()
    run_id = start(cluster.a, hidden="3,2", epochs="5", delay_ms="20")  # events between the epochs
    events = [e for n, e, _ in read_events(cluster.b, run_id) if n == "progress"]
    assert events
    for e in events:
        assert [len(layer) for layer in e["neurons"]] == [3, 2] and e["grid"] is not None
        assert e["network"] is not None
    client = redis.Redis.from_url(cluster.redis.url, decode_responses=True)
    try:
        entries: list[tuple[str, dict[str, str]]] = client.xrange(Keys(run_id).events)  # type: ignore[assignment]
        stored = [json.loads(f["data"]) for _, f in entries if f["event"] == "progress"]
        picture = json.loads(str(client.get(Keys(run_id).picture) or "{}"))
    finally:
        client.close()
    assert len(stored) == len(events)
    assert all(not PICTURE & set(e) for e in stored)
    assert set(picture) == PICTURE and picture["neurons"] == events[-1]["neurons"]


def test_one_mini_batch_and_eta_through_redis(cluster: Cluster) -> None:
    cluster.two_workers()
    run_id = start(cluster.a, **LONG)
    with Follower(cluster.b, run_id) as f:
        seen = f.wait_for("progress", "running")
        cluster.a.post(f"/train/runs/{run_id}/controls/pause")
        seen = f.wait_for("progress", "paused", seen)
        at = _position(f.events[seen][1])
        for press in range(1, 3):  # each press, on either app, is one mini-batch
            r = (cluster.b, cluster.a)[press % 2].post(f"/train/runs/{run_id}/controls/step")
            assert r.status_code == 200 and 'id="train-step"' in r.text
            seen = f.wait_for("progress", "paused", seen + 1)
            assert _position(f.events[seen][1]) == at + press
        r = cluster.b.post(f"/train/runs/{run_id}/eta", data={"eta": "0.25"})
        assert r.status_code == 200 and "η = 0.25 from the next mini-batch" in r.text
        assert '<span id="train-run-eta" hx-swap-oob="true">η = 0.25 (from 2 at the start)</span>' in r.text
        # the other app's Inspect reads the η set (the `eta` key) and steps with it
        html = cluster.a.post(f"/train/runs/{run_id}/inspect", data={"split": "train", "example": "2"}).text
        network = cluster.a.get(f"/train/runs/{run_id}/network.json").json()
        data = generated("xor", 40, 0.1, 0.25, 3)
        expected = cost_after_one_step(network, data.x_train[1], data.y_train[1], 0.25)
        eta_shown, *costs = inspected_costs(html)
        assert eta_shown == "0.25" and costs == pytest.approx(expected, rel=1e-9)
        epoch = int(f.events[seen][1]["epoch"])
        cluster.a.post(f"/train/runs/{run_id}/controls/resume")
        deadline = time.monotonic() + WAIT
        while not any(h["epoch"] > epoch + 1 for _, e, _ in f.events[seen:] for h in e.get("history", [])):
            assert time.monotonic() < deadline, "no epoch after the change of η"
            seen = f.wait_for("progress", after=len(f.events))
        cluster.b.post(f"/train/runs/{run_id}/controls/stop")
        f.wait_for("done")
    etas = {h["epoch"]: h["eta"] for _, e, _ in f.events for h in e.get("history", [])}
    assert all(etas[e] == 2.0 for e in etas if e < epoch) and all(etas[e] == 0.25 for e in etas if e > epoch)


def test_a_relay_reads_when_the_worker_publishes_and_otherwise_looks_once_a_second(own_redis: RedisServer) -> None:
    """No polling: over two quiet seconds a relay reads its training's events about twice (it was 20 times at 0.1 s),
    and an event added and published (as a worker does) reaches the page, here the `done` that ends it."""
    with TestClient(create_app(Settings(redis_url=own_redis.url))) as a:
        run_id = start(a)  # queued: no worker runs in this test
        with Follower(a, run_id) as f, redis.Redis.from_url(own_redis.url, decode_responses=True) as db:
            f.wait_for("queue")
            db.config_resetstat()
            time.sleep(2.0)
            reads = db.info("commandstats").get("cmdstat_xread", {}).get("calls", 0)
            assert 1 <= reads <= 4, reads
            done = failed_event({}, "ended by the test")
            db.xadd(Keys(run_id).events, {"event": "done", "data": done})
            db.publish(Keys(run_id).wake, "done")
            f.wait_for("done")
        assert f.events[-1][1]["message"] == "ended by the test"


def test_a_training_stopped_while_queued_ends_at_once_and_frees_its_place(own_redis: RedisServer) -> None:
    """No worker runs: Stop ends the queued training with a `done` in words, takes it out of the queue, and its
    client's place counts no more."""
    settings = Settings(redis_url=own_redis.url, max_queued_trainings_per_client=1)
    with TestClient(create_app(settings)) as a, redis.Redis.from_url(own_redis.url, decode_responses=True) as db:
        run_id = start(a)
        assert a.post("/train/runs", data=FORM, headers=HX).status_code == 429  # its one place is taken
        with Follower(a, run_id) as f:
            f.wait_for("queue")
            assert a.post(f"/train/runs/{run_id}/controls/stop").status_code == 200
            f.wait_for("done", "stopped")
        assert f.events[-1][1]["message"] == STOPPED_QUEUED
        assert db.lpos(QUEUE, run_id) is None and db.hget(Keys(run_id).meta, "state") == "stopped"
        assert start(a) != run_id  # the place is free again
