"""A cluster on this machine: Redis, two web processes and two training workers, all real processes.

The page's flows are walked with httpx, each request sent to the other web process than the one before
(as a round-robin proxy would): the step-through page (load, configure, play, step, instruments, next
iteration, download) and the training page (create, stream, pause, resume, inspect, download, stop). Every
status must be the expected one.

Then one web process is sent SIGTERM (by its PID) in the middle of a step stream, and another in the middle
of a training's stream. The client does what the page does: it opens the stream again on the process that
answers, from the last event it saw (``from=``: lens.js the next step, train.js the last event's id), and
loses nothing: every step exactly once, every epoch of the training exactly once and in order.

Every process is stopped by its PID at the end, whatever happened. Every wait waits for an event (a stream's
next event, its end, a process's exit) with a bound that only a broken feature reaches.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from backprop_lens.app.core.lifecycle import RESTARTING
from backprop_lens.app.instruments.registry import INSTRUMENTS
from backprop_lens.app.stepper.form import default_form
from tests.processes import RedisServer, Stream, environment, serving, start_worker, stop

pytestmark = pytest.mark.cluster

WAIT = 60.0  # the bound of every wait: only a broken feature reaches it
HX = {"hx-request": "true"}
SLOW = 3000  # milliseconds between steps: the slowest pace, so that a stream is surely mid-way when it is cut
FAST = 100
TRAINING: dict[str, str] = {
    "dataset": "xor", "points": "40", "noise": "0.1", "test_fraction": "0.25", "hidden": "4",
    "activation": "sigmoid", "output_activation": "sigmoid", "init": "scaled", "cost": "cross_entropy",
    "epochs": "60", "batch": "4", "eta": "2", "seed": "3", "delay_ms": "20", "csv": "",
}  # fmt: skip


@dataclass
class Cluster:
    """The processes, and a client that sends each request to the other web process than the last."""

    redis: RedisServer
    stack: ExitStack
    log: Path
    web: list[tuple[subprocess.Popen[bytes], str]] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=WAIT))
    turn: int = 0

    def start_web(self) -> None:
        proc, url, _ = self.stack.enter_context(serving("--redis", self.redis.url, env=environment()))
        self.web.append((proc, url))

    def two_web_processes(self) -> None:
        """Two live web processes (replacing any a test stopped)."""
        self.web = [(p, u) for p, u in self.web if p.poll() is None]
        while len(self.web) < 2:
            self.start_web()

    def next_url(self) -> str:
        """The base URL of the other web process than the last one asked."""
        self.turn += 1
        return self.web[self.turn % len(self.web)][1]

    def call(self, method: str, path: str, expect: int = 200, **request: Any) -> httpx.Response:
        r = self.http.request(method, self.next_url() + path, **request)
        assert r.status_code == expect, (method, path, r.status_code, r.text[:500])
        return r

    def stream(self, method: str, path: str, first: bool = True, **request: Any) -> Stream:
        """A stream opened on the next process, read in a thread; with ``first``, once its first event has come."""
        stream = Stream(method, self.next_url() + path, **request)
        if first:
            return stream.opened()
        stream.start()
        return stream

    def sigterm(self, url: str) -> None:
        """SIGTERM to the web process at ``url`` (its PID), which must exit."""
        proc = next(p for p, u in self.web if u == url)
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(WAIT) in (0, -signal.SIGTERM)  # uvicorn ends by raising the signal it caught again
        self.web = [(p, u) for p, u in self.web if p is not proc]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    server = RedisServer()
    server.start()
    with ExitStack() as stack:  # the web processes: each its own group, killed on the way out
        c = Cluster(server, stack, tmp_path_factory.mktemp("cluster") / "workers.log")
        try:
            c.two_web_processes()
            c.workers = [start_worker(server.url, c.log) for _ in range(2)]
            yield c
        finally:
            c.http.close()
            for w in c.workers:  # each by its PID
                stop(w)
            stack.close()
            server.stop()


def run_id_of(html: str, pattern: str) -> str:
    match = re.search(pattern, html)
    assert match is not None, html[:500]
    return match.group(1)


def ended(stream: Stream) -> Stream:
    stream.join(WAIT)
    assert not stream.is_alive(), f"{stream.url}: the stream did not end"
    assert stream.error is None and stream.status == 200, (stream.url, stream.status, stream.error)
    return stream


def in_state(state: str) -> Callable[[list[tuple[str, str]]], bool]:
    """Whether the last event of a training's stream is a progress event in ``state``."""

    def test(events: list[tuple[str, str]]) -> bool:
        return bool(events) and events[-1][0] == "progress" and json.loads(events[-1][1])["state"] == state

    return test


def epochs_of(streams: list[Stream]) -> list[int]:
    """The epochs of the training's history, in the order the streams carried them."""
    events = [json.loads(data) for s in streams for name, data in s.events if name in ("progress", "done")]
    return [h["epoch"] for e in events for h in e["history"]]


# --- the page's flows, each request on the other process ------------------------------------------


def test_the_step_through_page_across_two_processes(cluster: Cluster) -> None:
    cluster.two_web_processes()
    assert 'id="run"' in cluster.call("GET", "/").text
    form = {**default_form(), "seed": "5", "weights": "", "biases": ""}
    region = cluster.call("POST", "/runs", data=form, headers=HX).text
    run_id = run_id_of(region, r'data-run-id="([^"]+)"')
    steps = int(run_id_of(region, r'data-steps="(\d+)"'))

    played = ended(cluster.stream("GET", f"/runs/{run_id}/stream?from=0&interval_ms={FAST}"))
    assert played.ids[:-1] == [str(k) for k in range(steps)]
    assert played.final() == ("done", {"step": steps - 1, "steps": steps, "reason": "end"})

    for k in (1, steps - 1, 0):
        assert 'id="mark-0"' in cluster.call("GET", f"/runs/{run_id}/steps/{k}", headers=HX).text
    assert cluster.call("GET", f"/instruments/{run_id}").text
    for instrument in INSTRUMENTS[:2]:
        assert cluster.call("GET", f"/instruments/{run_id}/{instrument.name}").text
    following = cluster.call("POST", f"/runs/{run_id}/next", headers=HX).text
    next_id = run_id_of(following, r'data-run-id="([^"]+)"')
    assert next_id != run_id
    for rid in (run_id, next_id):
        trace = cluster.call("GET", f"/runs/{rid}/trace.json").json()
        assert len(trace["steps"]) == steps


def test_the_training_page_across_two_processes(cluster: Cluster) -> None:
    cluster.two_web_processes()
    assert cluster.call("GET", "/train").text
    created = cluster.call("POST", "/train/runs", data={**TRAINING, "epochs": "10000", "delay_ms": "10"}, headers=HX)
    run_id = run_id_of(created.text, r'data-stream="/train/runs/([A-Za-z0-9_-]+)/events"')
    follow = cluster.stream("GET", f"/train/runs/{run_id}/events")

    follow.wait_until(in_state("running"), "running")
    assert 'id="train-resume"' in cluster.call("POST", f"/train/runs/{run_id}/controls/pause").text
    follow.wait_until(in_state("paused"), "paused")
    assert 'id="train-pause"' in cluster.call("POST", f"/train/runs/{run_id}/controls/resume").text
    follow.wait_until(in_state("running"), "running again")
    example = {"split": "test", "example": "2"}
    assert cluster.call("POST", f"/train/runs/{run_id}/inspect", data=example).text
    weights = cluster.call("GET", f"/train/runs/{run_id}/network.json").json()["weights"]
    assert len(weights) == 2
    cluster.call("POST", f"/train/runs/{run_id}/controls/stop")
    name, done = ended(follow).final()
    assert name == "done" and done["state"] == "stopped" and "stopped by you" in done["message"]
    epochs = epochs_of([follow])
    assert epochs == list(range(1, len(epochs) + 1))
    cluster.call("GET", f"/train/runs/{run_id}/network.json")


# --- a web process shut down mid-stream -----------------------------------------------------------


def test_a_step_stream_cut_by_sigterm_goes_on_from_the_other_process(cluster: Cluster) -> None:
    cluster.two_web_processes()
    region = cluster.call("POST", "/runs", data={**default_form(), "seed": "7"}, headers=HX).text
    run_id = run_id_of(region, r'data-run-id="([^"]+)"')
    steps = int(run_id_of(region, r'data-steps="(\d+)"'))

    cut = cluster.stream("GET", f"/runs/{run_id}/stream?from=0&interval_ms={SLOW}")
    cluster.sigterm(cut.url.split("/runs/", 1)[0])
    assert ended(cut).final()[0] == "done"
    assert json.loads(cut.events[-1][1])["reason"] == RESTARTING
    shown = [int(i) for i in cut.ids if i is not None]

    # as lens.js: the stream again from the step after the one shown, on whichever process answers
    rest = ended(cluster.stream("GET", f"/runs/{run_id}/stream?from={shown[-1] + 1}&interval_ms={FAST}"))
    assert rest.final()[1]["reason"] == "end"
    shown += [int(i) for i in rest.ids if i is not None]
    assert shown == list(range(steps))


def test_a_training_stream_cut_by_sigterm_goes_on_from_the_other_process(cluster: Cluster) -> None:
    cluster.two_web_processes()
    created = cluster.call("POST", "/train/runs", data=TRAINING, headers=HX)
    run_id = run_id_of(created.text, r'data-stream="/train/runs/([A-Za-z0-9_-]+)/events"')
    path = f"/train/runs/{run_id}/events"
    cut = cluster.stream("GET", path)
    # Paused, the training cannot end of itself before the cut: the cut is surely mid-training.
    cluster.call("POST", f"/train/runs/{run_id}/controls/pause")
    cut.wait_until(in_state("paused"), "paused")
    cluster.sigterm(cut.url.split("/train/", 1)[0])
    ended(cut)
    assert "done" not in [n for n, _ in cut.events]  # the relay ended; the training goes on in its worker
    last_id = next(i for i in reversed(cut.ids) if i is not None)

    # as train.js: a new stream from the last event's id, on whichever process answers
    rest = cluster.stream("GET", f"{path}?from={last_id}", first=False)  # paused: nothing new comes yet
    cluster.call("POST", f"/train/runs/{run_id}/controls/resume")
    name, done = ended(rest).final()
    assert name == "done" and done["state"] == "finished", done
    assert epochs_of([cut, rest]) == list(range(1, int(TRAINING["epochs"]) + 1))
    ids = [i for i in cut.ids + rest.ids if i is not None]
    assert len(ids) == len(set(ids))  # no event twice

    # and the same through the header a browser's own reconnection sends
    again = ended(cluster.stream("GET", path, headers={"last-event-id": last_id}))
    assert again.ids == rest.ids[len(rest.ids) - len(again.ids) :] and again.events[-1][0] == "done"
