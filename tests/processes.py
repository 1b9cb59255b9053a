"""Real processes for the tests: a throwaway ``redis-server``, ``backprop-lens serve`` and ``backprop-lens worker``,
and ``Stream``, which reads one of their event streams over HTTP as a page would.

Each process is started on a free loopback port (or none, for a worker) and stopped by its own PID (a server
by its own process group, which holds its uvicorn workers): never by name. Every wait has a bound that only
a broken start reaches.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
import redis

from backprop_lens.app.cli import REDIS_URL_VARIABLE

ROOT = Path(__file__).resolve().parents[1]
START_WITHIN = 60.0  # seconds for a server to answer; only a broken start takes that long


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A throwaway ``redis-server`` in the foreground: ``start()`` returns once it answers PING, ``stop()`` ends it.

    ``start()`` again after ``stop()`` brings it back on the same port, empty (``--save ""``: nothing on disk);
    with ``persist`` (a directory), with what it held: an append-only file there, written at every command.
    """

    def __init__(self, persist: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.persist = persist
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            pytest.fail("redis-server is missing: apt-get install -y redis-server")
        kept = ["--dir", str(self.persist), "--appendonly", "yes", "--appendfsync", "always"] if self.persist else []
        self._proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", *kept],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis(port=self.port, socket_connect_timeout=1, socket_timeout=1)
        try:
            for _ in range(400):  # up to 20 s for a slow machine; a fast one answers at once
                if self._proc.poll() is not None:
                    pytest.fail(f"redis-server exited with code {self._proc.returncode}")
                try:
                    if client.ping():
                        return
                except redis.ConnectionError:
                    time.sleep(0.05)
            self.stop()
            pytest.fail(f"redis-server did not answer PING on port {self.port} within 20 s")
        finally:
            client.close()

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()  # this PID only
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def tail(log: IO[bytes]) -> str:
    """The end of a process's standard error, for a failure's message."""
    log.seek(0)
    return log.read().decode(errors="replace")[-3000:]


def environment(**variables: str) -> dict[str, str]:
    """This process's environment without a Redis URL of its own, plus ``variables``."""
    env = {name: value for name, value in os.environ.items() if name != REDIS_URL_VARIABLE}
    return {**env, **variables}


@contextmanager
def serving(
    *options: str, port: int | None = None, env: Mapping[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], str, IO[bytes]]]:
    """``backprop-lens serve`` with ``options`` on a free port (or ``port``), in its own process group.

    State in memory unless the options give ``--redis``. Yields the process, its base URL and its standard
    error once it answers; whatever is left of the group is killed at the end.
    """
    port = free_port() if port is None else port
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "backprop_lens.app.cli", "serve", "--port", str(port), *options],
            cwd=ROOT, env=dict(environment() if env is None else env), stdout=subprocess.DEVNULL, stderr=log,
            start_new_session=True,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + START_WITHIN
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"the server exited with code {proc.returncode}:\n{tail(log)}")
                try:
                    with urllib.request.urlopen(f"{url}/api/health", timeout=5):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        pytest.fail(f"the server did not answer within {START_WITHIN} s:\n{tail(log)}")
                    time.sleep(0.1)
            yield proc, url, log
        finally:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # the group is the server's own: it and its workers
            proc.wait(30)


def start_worker(redis_url: str, log: Path, env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    """``backprop-lens worker --redis URL``, its standard error appended to ``log``; the caller stops it by PID."""
    with log.open("ab") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "backprop_lens.app.cli", "worker", "--redis", redis_url],
            cwd=ROOT, env=dict(environment() if env is None else env), stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip


def stop(proc: subprocess.Popen[bytes]) -> None:
    """End ``proc`` by its PID (SIGTERM, so that it ends what it started; SIGKILL if it lingers), and reap it."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """``stop`` a process started with ``start_new_session=True``, then kill whatever is left of its group."""
    stop(proc)
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


class Stream(threading.Thread):
    """Reads one event stream to its end in a thread: ``events`` as (name, data) pairs, ``ids`` beside them."""

    def __init__(self, method: str, url: str, **request: Any) -> None:
        super().__init__(daemon=True)
        self.method, self.url, self.request = method, url, request
        self.events: list[tuple[str, str]] = []
        self.ids: list[str | None] = []  # each event's id, None for one without
        self.status: int | None = None
        self.error: str | None = None
        self.first = threading.Event()  # an event arrived (or the stream ended without any)
        self.ended = threading.Event()
        self._changed = threading.Condition()

    def run(self) -> None:
        try:
            with (
                httpx.Client(timeout=httpx.Timeout(30.0, read=120.0)) as client,
                client.stream(self.method, self.url, **self.request) as response,
            ):
                self.status = response.status_code
                data: list[str]
                name, data, event_id = "message", [], None
                for line in response.iter_lines():
                    if line == "":
                        if data:
                            with self._changed:
                                self.events.append((name, "\n".join(data)))
                                self.ids.append(event_id)
                                self._changed.notify_all()
                            self.first.set()
                        name, data, event_id = "message", [], None
                    elif line.startswith("event:"):
                        name = line[6:].strip()
                    elif line.startswith("id:"):
                        event_id = line[3:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].removeprefix(" "))
        except Exception as exc:  # the test reports it; a thread must not print
            self.error = repr(exc)
        finally:
            self.first.set()
            self.ended.set()
            with self._changed:
                self._changed.notify_all()

    def opened(self) -> Stream:
        self.start()
        assert self.first.wait(START_WITHIN) and self.events, (self.url, self.status, self.error)
        return self

    def wait_for(self, count: int, within: float = START_WITHIN) -> None:
        """Until the stream has ``count`` events; fails if it ends before, or after ``within`` seconds."""
        self.wait_until(lambda events: len(events) >= count, f"{count} events", within)

    def wait_until(
        self, test: Callable[[list[tuple[str, str]]], bool], what: str, within: float = START_WITHIN
    ) -> None:
        """Until ``test`` holds for the events so far; fails if the stream ends before, or after ``within`` s."""
        deadline = time.monotonic() + within
        with self._changed:
            while not test(self.events):
                left = deadline - time.monotonic()
                assert not self.ended.is_set(), (what, self.url, self.status, self.error, self.events[-1:])
                assert left > 0, f"{self.url}: not {what} within {within} s"
                self._changed.wait(left)

    def final(self) -> tuple[str, dict[str, Any]]:
        """The last event, its data as JSON."""
        assert self.error is None, self.error
        name, data = self.events[-1]
        return name, json.loads(data)
