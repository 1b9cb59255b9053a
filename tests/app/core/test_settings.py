"""One source of settings: two apps with different settings in one process each enforce their own limits."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from backprop_lens.app.core.settings import Settings
from backprop_lens.app.main import create_app

FOUR_LAYERS: dict[str, Any] = {
    "network": {"sizes": [2, 3, 3, 2]}, "inputs": [[0.1, 0.2]], "targets": [[0.0, 1.0]],
}  # fmt: skip


def test_two_apps_enforce_their_own_limits() -> None:
    small = create_app(Settings(max_layers=3, max_nudges=2, max_epochs=5))
    large = create_app(Settings(max_layers=8))
    with TestClient(small) as s, TestClient(large) as big:
        r = s.post("/api/gradients", json=FOUR_LAYERS)
        assert r.status_code == 422
        assert r.json()["message"] == "network.sizes: List should have at most 3 items after validation, not 4"
        assert big.post("/api/gradients", json=FOUR_LAYERS).status_code == 200
        # interleaved: the first app's limit did not leak into the second's request, nor back
        assert s.post("/api/gradients", json=FOUR_LAYERS).status_code == 422

        demon = {**FOUR_LAYERS, "network": {"sizes": [2, 2]}, "layer": 2, "neuron": 1, "nudges": [0.1, 0.2, 0.3]}
        assert s.post("/api/instruments/demon", json=demon).json()["message"].startswith("nudges: List should")
        assert big.post("/api/instruments/demon", json=demon).status_code == 200

        form = {"dataset": "xor", "hidden": "4", "epochs": "6"}
        assert "Epochs: give a whole number from 1 to 5" in s.post("/train/runs", data=form).text

        # each app's OpenAPI document states its own bounds
        def sizes_bound(client: TestClient) -> int:
            spec = client.get("/openapi.json").json()["components"]["schemas"]["NetworkSpec"]
            bound: int = spec["properties"]["sizes"]["maxItems"]
            return bound

        assert (sizes_bound(s), sizes_bound(big)) == (3, 8)


def test_each_app_holds_its_own_stores() -> None:
    a, b = create_app(Settings(max_runs=2)), create_app(Settings(max_runs=5))
    assert a.state.runs is not b.state.runs and a.state.trainings is not b.state.trainings
    with TestClient(a) as ca:
        assert ca.get("/?sizes=1,1&x=1&y=0").status_code == 200  # a permalink stores a run; "/" stores none
    assert len(a.state.runs) == 1 and len(b.state.runs) == 0
