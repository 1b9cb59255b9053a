"""Issue 10.1 through the API: a saturated sigmoid output with cross-entropy, in every route that shows δ^L.

One neuron, w = 40, x = 1, y = 0: z = 40, a rounds to 1.0. The exact answers, from the textbook
(chapter 3): C = ln(1 + e^40) = 40 + ln(1 + e^−40) and δ^L = a − y = 1, so ∂C/∂b = ∂C/∂w = 1.
Before the fix the API said C = 690.78 and ∂C/∂b = 0.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from fastapi.testclient import TestClient

C_EXACT = 40.0 + math.log1p(math.exp(-40.0))
NET: dict[str, Any] = {"sizes": [1, 1], "weights": [[[40.0]]], "biases": [[0.0]]}
BODY: dict[str, Any] = {"network": NET, "cost_function": "cross_entropy", "inputs": [[1.0]], "targets": [[0.0]]}
DEEP: dict[str, Any] = {
    "network": {"sizes": [1, 2, 1], "weights": [[[1.0], [-1.0]], [[30.0, 30.0]]], "biases": [[0.0, 0.0], [10.0]]},
    "cost_function": "cross_entropy", "inputs": [[1.0]], "targets": [[0.0]],
}  # fmt: skip


def test_gradients(client: TestClient) -> None:
    r = client.post("/api/gradients", json=BODY)
    assert r.status_code == 200
    assert r.json()["cost"] == pytest.approx(C_EXACT, rel=1e-15)
    assert r.json()["nabla_b"] == [[1.0]] and r.json()["nabla_w"] == [[[1.0]]]


def test_trace_bp1_step_and_update(client: TestClient) -> None:
    r = client.post("/api/trace", json={**BODY, "eta": 0.5})
    assert r.status_code == 200
    steps = {s["kind"]: s for s in r.json()["steps"]}
    assert steps["output_error"]["values"]["delta"] == [[1.0]]
    assert r.json()["cost_before"] == pytest.approx(C_EXACT, rel=1e-15)
    # one step of η = 0.5 moves w to 39.5 and b to −0.5: z = 39, C = ln(1 + e^39)
    assert r.json()["cost_after"] == pytest.approx(39.0 + math.log1p(math.exp(-39.0)), rel=1e-15)


def test_cost_comparison_instrument(client: TestClient) -> None:
    r = client.post("/api/instruments/cost-comparison", json=BODY)
    assert r.status_code == 200
    ce, quad = r.json()["cross_entropy"], r.json()["quadratic"]
    assert ce["delta"] == [1.0] and ce["cost"] == pytest.approx(C_EXACT, rel=1e-15)
    # the quadratic cost's δ^L = (a − y) σ'(40) = e^−40 / (1 + e^−40)²: tiny, the learning slowdown
    assert quad["delta"][0] == pytest.approx(math.exp(-40.0) / (1 + math.exp(-40.0)) ** 2, rel=1e-13)
    # ∇_aC = 1/(1 − a) = 1 + e^40, finite and exact
    assert ce["nabla_a"][0] == pytest.approx(1.0 + math.exp(40.0), rel=1e-13)


def test_demon_instrument(client: TestClient) -> None:
    r = client.post("/api/instruments/demon", json={**BODY, "layer": 2, "neuron": 1, "nudges": [-0.01, 0.01]})
    assert r.status_code == 200
    d = r.json()
    assert d["delta"] == 1.0
    for n in d["nudges"]:  # ln(1 + e^{40 + Δz}) − ln(1 + e^40) = Δz to 1e-17
        assert n["actual"] == pytest.approx(n["dz"], rel=1e-9)


def test_modified_neuron_instrument(client: TestClient) -> None:
    """A hidden neuron made linear in a network whose output is saturated (z^L = 10 + 30 a₁ + 30 a₂ ≈ 40)."""
    r = client.post("/api/instruments/modified-neuron", json={**DEEP, "layer": 2, "neuron": 1, "f": "linear"})
    assert r.status_code == 200
    a1, a2 = 1.0, 1.0 / (1.0 + math.exp(1.0))  # f(z) = z for the modified neuron; σ(−1) for the other
    z_L = 10.0 + 30.0 * a1 + 30.0 * a2
    delta_L = 1.0 / (1.0 + math.exp(-z_L))  # a − y with y = 0
    assert r.json()["deltas"][-1] == [[pytest.approx(delta_L, rel=1e-15)]]
    assert r.json()["cost"] == pytest.approx(z_L + math.log1p(math.exp(-z_L)), rel=1e-15)
