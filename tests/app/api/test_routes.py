"""The JSON API: gradients against an independent autograd, the trace and its stream, health."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from backprop_lens.engine import Network
from tests.autograd import reference_gradients

ACTS = ["sigmoid", "tanh", "relu", "linear"]


def test_worked_example_reproduces_the_hand_computation(client: TestClient, worked: dict[str, Any]) -> None:
    r = client.post("/api/gradients", json=worked)
    assert r.status_code == 200
    body = r.json()
    assert body["cost"] == pytest.approx(0.298371109, abs=5e-10)
    assert body["nabla_w"][1][0][0] == pytest.approx(0.082167041, abs=5e-10)
    assert body["nabla_w"][0][0][0] == pytest.approx(0.000438568, abs=5e-10)
    assert body["layers"] is None


def random_request(seed: int, cost: str) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    n_layers = int(rng.integers(1, 5))
    sizes = [int(n) for n in rng.integers(1, 9, size=n_layers + 1)]
    acts = [ACTS[int(i)] for i in rng.integers(0, 4, size=n_layers)]
    if cost == "cross_entropy":
        acts[-1] = "sigmoid"
    m = int(rng.integers(1, 5))
    return {
        "network": {"sizes": sizes, "activation": acts, "seed": seed, "init": "scaled"},
        "cost_function": cost,
        "inputs": rng.normal(size=(m, sizes[0])).tolist(),
        "targets": rng.uniform(0.05, 0.95, size=(m, sizes[-1])).tolist(),
        "trace": True,
    }


@pytest.mark.parametrize("cost", ["quadratic", "cross_entropy"])
@pytest.mark.parametrize("seed", range(6))
def test_served_gradients_equal_independent_autograd(client: TestClient, seed: int, cost: str) -> None:
    req = random_request(seed, cost)
    r = client.post("/api/gradients", json=req)
    assert r.status_code == 200, r.text
    body = r.json()
    spec = req["network"]
    net = Network(spec["sizes"], activation=spec["activation"], seed=spec["seed"], init="scaled")
    c, ref_w, ref_b = reference_gradients(
        [w.tolist() for w in net.weights],
        [b.tolist() for b in net.biases],
        spec["activation"],
        cost,
        req["inputs"],
        req["targets"],
    )
    assert body["cost"] == pytest.approx(c, rel=1e-12)
    refs: list[Any] = [*ref_w, *ref_b]
    scale = max(np.max(np.abs(np.array(w))) for w in refs) or 1.0
    for got, ref in zip(body["nabla_w"] + body["nabla_b"], refs, strict=True):
        np.testing.assert_allclose(np.array(got), np.array(ref), rtol=1e-9, atol=1e-12 * scale)
    # trace: δ of each layer, averaged over the examples, is ∂C/∂b (BP3)
    assert [layer["layer"] for layer in body["layers"]] == list(range(2, len(spec["sizes"]) + 1))
    for layer, nb in zip(body["layers"], body["nabla_b"], strict=True):
        np.testing.assert_allclose(np.mean(layer["delta"], axis=0), nb, atol=1e-14)
        assert np.array(layer["z"]).shape == (len(req["inputs"]), spec["sizes"][layer["layer"] - 1])


def test_explicit_weights_and_activation_list(client: TestClient, worked: dict[str, Any]) -> None:
    worked["network"]["activation"] = ["tanh", "sigmoid"]
    r = client.post("/api/gradients", json=worked)
    assert r.status_code == 200
    assert r.json()["cost"] != pytest.approx(0.298371109, abs=1e-6)


def test_trace_is_in_the_books_order_and_consistent(client: TestClient, worked: dict[str, Any]) -> None:
    worked["eta"] = 0.5
    r = client.post("/api/trace", json=worked)
    assert r.status_code == 200
    t = r.json()
    kinds = [(s["kind"], s["equation"], s["layer"]) for s in t["steps"]]
    assert kinds == [
        ("input", "input", 1),
        ("feedforward", "eq. 25", 2),
        ("feedforward", "eq. 25", 3),
        ("output_error", "BP1", 3),
        ("backpropagate", "BP2", 2),
        ("gradients", "BP3, BP4", 3),
        ("gradients", "BP3, BP4", 2),
        ("update", "eqs. 20–21", None),
    ]
    grads = client.post("/api/gradients", json={k: v for k, v in worked.items() if k != "eta"}).json()
    by_layer = {s["layer"]: s for s in t["steps"] if s["kind"] == "gradients"}
    deltas = {s["layer"]: s["values"]["delta"][0] for s in t["steps"] if "delta" in s["values"]}
    for layer in (2, 3):
        assert by_layer[layer]["values"]["nabla_w"] == grads["nabla_w"][layer - 2]
        assert deltas[layer] == pytest.approx(grads["nabla_b"][layer - 2], abs=1e-16)
    update = t["steps"][-1]
    w3 = update["values"]["weights"][1]
    assert w3[0][0] == pytest.approx(0.40 - 0.5 * grads["nabla_w"][1][0][0], abs=1e-16)
    assert w3[0][0] == pytest.approx(0.35891648, abs=5e-9)  # Mazur's w5+
    assert t["cost_after"] < t["cost_before"] == pytest.approx(0.298371109, abs=5e-10)


def read_events(client: TestClient, body: dict[str, Any]) -> list[tuple[str, str, Any]]:
    events: list[tuple[str, str, Any]] = []
    with client.stream("POST", "/api/trace/stream", json=body) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        name, ident, data = "message", "", ""
        for line in r.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("id: "):
                ident = line[4:]
            elif line.startswith("data: "):
                data += line[6:]
            elif line == "" and data:
                events.append((name, ident, json.loads(data)))
                name, ident, data = "message", "", ""
    return events


def test_stream_sends_every_step_then_done(client: TestClient, worked: dict[str, Any]) -> None:
    worked["eta"] = 0.5
    events = read_events(client, worked)
    whole = client.post("/api/trace", json=worked).json()
    assert [e[0] for e in events] == ["step"] * len(whole["steps"]) + ["done"]
    assert [e[2] for e in events[:-1]] == whole["steps"]
    assert [e[1] for e in events[:-1]] == [str(i) for i in range(len(whole["steps"]))]
    done = events[-1][2]
    assert done == {
        "steps": len(whole["steps"]),
        "cost_before": whole["cost_before"],
        "cost_after": whole["cost_after"],
    }


def test_stream_rejects_bad_input_before_streaming(client: TestClient, worked: dict[str, Any]) -> None:
    worked["inputs"] = [[0.1]]
    r = client.post("/api/trace/stream", json=worked)
    assert r.status_code == 422
    assert r.json()["message"].startswith("inputs[0]")


def test_health(client: TestClient) -> None:
    r = client.get("/api/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


def test_openapi_documents_the_worked_example(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    example = spec["components"]["schemas"]["GradientRequest"]["examples"][0]
    assert example["network"]["weights"][1] == [[0.40, 0.45], [0.50, 0.55]]
    assert "422" in spec["paths"]["/api/gradients"]["post"]["responses"]
    assert "text/event-stream" in json.dumps(spec["paths"]["/api/trace/stream"])
    assert client.get("/docs").status_code == 200
