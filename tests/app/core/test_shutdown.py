"""Shutting down: on SIGTERM every open event stream ends with its final event, and the server exits.

The first tests check ``app.core.lifecycle`` in this process (a real signal raised at this process, a
real second thread). The last two start ``backprop-lens serve`` in a subprocess on a free loopback
port, once with one process and once with ``--workers 2``, open slow streams (3 s between steps, so
that none would end of itself for minutes), send SIGTERM to the process by its id and wait: for each
stream's end at most ``FINAL_EVENT_WITHIN`` seconds, for the process's exit at most ``EXIT_WITHIN``
seconds. Those are the promise (issue 12), used only as the bounds of waits: the assertions are about
which event came last and whether the process has gone.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from types import FrameType
from typing import IO

import anyio
import httpx
import pytest

from backprop_lens.app.core.lifecycle import RESTARTING, Closing, closing_on_signals
from backprop_lens.app.core.schemas import WORKED_EXAMPLE
from backprop_lens.app.stepper.runs import EXAMPLE_ID
from tests.processes import Stream, serving, tail

FINAL_EVENT_WITHIN = 2.0  # seconds from SIGTERM to each stream's final event
EXIT_WITHIN = 5.0  # seconds from SIGTERM to the process's exit
SLOW = 3000  # milliseconds between steps: the slowest pace the streams accept


# --- in this process ------------------------------------------------------------------------------


def test_a_signal_sets_closing_then_runs_the_handler_it_had() -> None:
    closing = Closing()
    seen: list[tuple[int, bool]] = []

    def theirs(signum: int, frame: FrameType | None) -> None:
        seen.append((signum, closing.is_set()))

    before = signal.signal(signal.SIGTERM, theirs)
    try:
        with closing_on_signals(closing, [signal.SIGTERM]):
            assert signal.getsignal(signal.SIGTERM) is not theirs
            signal.raise_signal(signal.SIGTERM)
        assert signal.getsignal(signal.SIGTERM) is theirs  # put back on the way out
    finally:
        signal.signal(signal.SIGTERM, before)
    assert seen == [(signal.SIGTERM, True)]  # closing was set before the server's own handler ran


def test_default_handlers_and_other_threads_are_left_alone() -> None:
    closing = Closing()
    before = signal.signal(signal.SIGUSR1, signal.SIG_DFL)
    try:
        with closing_on_signals(closing, [signal.SIGUSR1]):
            assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL  # nothing of the server's to run after
    finally:
        signal.signal(signal.SIGUSR1, before)

    handlers: list[object] = []

    def elsewhere() -> None:
        with closing_on_signals(closing):  # a test client's thread: signal.signal would raise there
            handlers.append(signal.getsignal(signal.SIGTERM))

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    assert handlers == [signal.getsignal(signal.SIGTERM)]
    assert not closing.is_set()


def test_closing_wakes_waiters_on_each_loop_from_any_thread() -> None:
    closing = Closing()

    async def woken_from_another_thread() -> bool:
        waiter = asyncio.create_task(closing.wait())
        await asyncio.sleep(0)  # the waiter has registered and sleeps
        await anyio.to_thread.run_sync(closing.set)
        with anyio.fail_after(30):  # a bound only: the wake-up is immediate
            await waiter
        return closing.is_set()

    async def already_set() -> None:
        with anyio.fail_after(30):
            await closing.wait()

    assert asyncio.run(woken_from_another_thread())
    asyncio.run(already_set())  # a second loop, after the first has closed


# --- real servers ---------------------------------------------------------------------------------


def _sigterm_and_wait(proc: subprocess.Popen[bytes], streams: list[Stream], log: IO[bytes]) -> None:
    """SIGTERM to ``proc``; then every stream must end within FINAL_EVENT_WITHIN, the process within EXIT_WITHIN."""
    os.kill(proc.pid, signal.SIGTERM)
    sent = time.monotonic()
    for stream in streams:
        assert stream.ended.wait(max(0.0, sent + FINAL_EVENT_WITHIN - time.monotonic())), (
            f"{stream.url}: still open {FINAL_EVENT_WITHIN} s after SIGTERM"
        )
    try:
        proc.wait(max(0.0, sent + EXIT_WITHIN - time.monotonic()))
    except subprocess.TimeoutExpired:
        pytest.fail(f"the server still runs {EXIT_WITHIN} s after SIGTERM:\n{tail(log)}")


@pytest.mark.slow
def test_sigterm_ends_every_stream_with_its_final_event_and_the_server_exits() -> None:
    with serving() as (proc, url, log):
        page = Stream("GET", f"{url}/runs/{EXAMPLE_ID}/stream?interval_ms={SLOW}").opened()
        api = Stream("POST", f"{url}/api/trace/stream?interval_ms={SLOW}", json=WORKED_EXAMPLE).opened()
        created = httpx.post(f"{url}/train/runs", data={"epochs": "300", "delay_ms": "1000"}, timeout=30)
        assert created.status_code == 200, created.text[:500]
        run_id = created.text.split('data-stream="/train/runs/', 1)[1].split("/", 1)[0]
        training = Stream("GET", f"{url}/train/runs/{run_id}/events").opened()

        _sigterm_and_wait(proc, [page, api, training], log)

    assert page.events[0][0] == "message"  # a step (HTML) came before the signal
    assert page.final() == ("done", {"reason": RESTARTING})
    assert api.events[0][0] == "step"
    assert api.final() == ("done", {"reason": RESTARTING})
    name, progress = training.final()
    assert name == "done" and progress["state"] == "stopped"
    assert "restarting" in progress["message"]  # what the training page shows
    assert progress["epoch"] < progress["epochs"]  # it was interrupted, not finished


# Which worker holds which connection, from Linux's /proc: the test must see a stream on every worker.


def _sockets_of(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def _tcp_states(port: int) -> dict[str, str]:
    """Inode → state (0A listening, 01 established) of the loopback TCP sockets whose local port is ``port``."""
    states = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port:
            states[fields[9]] = fields[3]
    return states


def _streams_per_worker(supervisor: int, port: int) -> dict[int, int]:
    """Each worker process (a child listening on ``port``) and the connections it serves."""
    children = [int(c) for c in Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()]
    states = _tcp_states(port)
    served = {}
    for child in children:
        mine = [states[inode] for inode in _sockets_of(child) if inode in states]
        if "0A" in mine:
            served[child] = mine.count("01")
    return served


@pytest.mark.slow
def test_sigterm_to_the_supervisor_ends_the_streams_of_every_worker() -> None:
    with serving("--workers", "2") as (proc, url, log):
        port = int(url.rsplit(":", 1)[1])
        streams: list[Stream] = []
        served = _streams_per_worker(proc.pid, port)
        for _ in range(40):  # the kernel picks the worker that accepts; open streams until both serve one
            if len(served) == 2 and all(served.values()):
                break
            streams.append(Stream("GET", f"{url}/runs/{EXAMPLE_ID}/stream?interval_ms={SLOW}").opened())
            served = _streams_per_worker(proc.pid, port)
        assert len(served) == 2 and all(served.values()), served

        _sigterm_and_wait(proc, streams, log)

    for stream in streams:
        assert stream.events[0][0] == "message"
        assert stream.final() == ("done", {"reason": RESTARTING})
