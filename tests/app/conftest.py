"""Shared fixtures for the app's tests: an in-process client (synchronous, no event loop of ours), and a real
``redis-server`` on a free loopback port (Debian's package; nothing saved to disk), stopped by its PID."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from app.core.schemas import WORKED_EXAMPLE
from app.main import app


@pytest.fixture(scope="session")
def client() -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def worked() -> dict[str, Any]:
    """A fresh deep copy of the 2-2-2 worked example request."""
    import copy

    return copy.deepcopy(WORKED_EXAMPLE)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A throwaway ``redis-server`` in the foreground: ``start()`` returns once it answers PING, ``stop()`` ends it.

    ``start()`` again after ``stop()`` brings it back on the same port, empty (``--save ""``: nothing on disk).
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            pytest.fail("redis-server is missing: apt-get install -y redis-server")
        self._proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
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


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The URL of a Redis shared by the session's tests (run ids are random, so tests do not collide)."""
    server = RedisServer()
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A Redis of the test's own, which it may stop and start again; stopped at the end."""
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
