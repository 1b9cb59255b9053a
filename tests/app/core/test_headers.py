"""Security headers on every kind of response; CPU work stays off the event loop."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backprop_lens.app.api import routes as api
from backprop_lens.app.core import gradients as computed
from backprop_lens.app.core.middleware import CSP
from backprop_lens.engine import backprop

WAIT = 60  # seconds; reached only when the test fails, so that it fails instead of hanging


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


def test_health_answers_while_a_gradient_is_being_computed(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ordering, not timing: a gradient above the inline threshold is held inside the engine until health has
    answered (small ones are computed on the event loop, by design).

    Were the engine run on the event loop, health could not answer while it is held; the waits'
    timeouts only keep such a failure from hanging the suite.
    """
    large = {"network": {"sizes": [2, 150, 150, 2], "seed": 0}, "inputs": [[0.5, 0.1]], "targets": [[0.0, 1.0]]}
    assert api.INLINE_WORK < 2 * 150 + 150 + 150 * 150 + 150 + 150 * 2 + 2
    entered, release = threading.Event(), threading.Event()
    answered: dict[str, int] = {}

    def held(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        release.wait(WAIT)
        return backprop(*args, **kwargs)

    def gradients() -> None:
        answered["gradients"] = client.post("/api/gradients", json=large).status_code

    def health() -> None:
        answered["health"] = client.get("/api/health").status_code

    monkeypatch.setattr(computed, "backprop", held)
    heavy = threading.Thread(target=gradients)
    heavy.start()
    try:
        assert entered.wait(WAIT)
        light = threading.Thread(target=health)
        light.start()
        light.join(WAIT)
        assert answered == {"health": 200}  # health answered; the gradient is still inside the engine
    finally:
        release.set()
        heavy.join(WAIT)
    assert answered == {"health": 200, "gradients": 200}
