"""Security headers on every kind of response; CPU work stays off the event loop."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.middleware import CSP


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/health", None),
        ("POST", "/api/gradients", "worked"),
        ("POST", "/api/gradients", {"bad": 1}),
        ("GET", "/static/vendor/htmx.min.js", None),
        ("GET", "/static/missing.js", None),
        ("GET", "/nowhere", None),
        ("DELETE", "/api/health", None),
        ("GET", "/openapi.json", None),
    ],
)
def test_every_response_carries_the_security_headers(
    client: TestClient, worked: dict[str, Any], method: str, path: str, body: Any
) -> None:
    r = client.request(method, path, json=worked if body == "worked" else body)
    assert r.headers["content-security-policy"] == CSP
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in CSP and "frame-ancestors 'none'" in CSP


def test_health_answers_while_a_large_gradient_runs(client: TestClient) -> None:
    """Ordering, not timing: health returns while the big request is still being computed."""
    n = 300
    big = {
        "network": {"sizes": [n, n, n, 10], "seed": 1},
        "inputs": [[0.5] * n] * 1000,
        "targets": [[0.0] * 10] * 1000,
        "trace": True,
    }
    finished = threading.Event()
    started = threading.Event()

    def heavy() -> None:
        started.set()
        client.post("/api/gradients", json=big)
        finished.set()

    worker = threading.Thread(target=heavy)
    worker.start()
    started.wait()
    time.sleep(0.2)  # let the big body be parsed and the engine start
    r = client.get("/api/health")
    health_first = not finished.is_set()
    worker.join(timeout=120)
    assert r.status_code == 200
    assert health_first
