"""Shared fixtures for the app's tests: an in-process client (synchronous, no event loop of ours), and a real
``redis-server`` on a free loopback port (``tests.processes.RedisServer``: nothing saved to disk, stopped by
its PID)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backprop_lens.app.core.schemas import WORKED_EXAMPLE
from tests.default_app import app
from tests.processes import RedisServer


@pytest.fixture(scope="session")
def client() -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def worked() -> dict[str, Any]:
    """A fresh deep copy of the 2-2-2 worked example request."""
    import copy

    return copy.deepcopy(WORKED_EXAMPLE)


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
