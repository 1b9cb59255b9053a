"""Shared fixtures for the app's tests: an in-process client (synchronous, no event loop of ours)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
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
