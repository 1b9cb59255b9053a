"""Bad input gets a 4xx whose message names the field; never a 5xx, never a traceback."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backprop_lens.app.core.schemas import WORKED_EXAMPLE
from backprop_lens.app.core.settings import get_settings

S = get_settings()
Edit = Callable[[dict[str, Any]], None]


def net(**changes: Any) -> Edit:
    return lambda body: body["network"].update(changes)


def top(**changes: Any) -> Edit:
    return lambda body: body.update(changes)


def drop(*keys: str) -> Edit:
    def edit(body: dict[str, Any]) -> None:
        for key in keys:
            body["network"].pop(key)

    return edit


def both(first: Edit, second: Edit) -> Edit:
    def edit(body: dict[str, Any]) -> None:
        first(body)
        second(body)

    return edit


WIDE = S.max_width + 1
BAD: list[tuple[str, Edit, str]] = [
    ("one layer", net(sizes=[2]), "network.sizes"),
    ("too many layers", net(sizes=[2] * (S.max_layers + 1)), "network.sizes"),
    ("zero width", net(sizes=[2, 0, 2]), "network.sizes[1]"),
    ("too wide", net(sizes=[2, WIDE, 2]), "network.sizes[1]"),
    ("too many parameters", net(sizes=[1000, 1000, 2]), "network.sizes: [1000, 1000, 2] has"),
    ("sizes not a list", net(sizes="2,2,2"), "network.sizes"),
    ("bool as size", net(sizes=[2, True, 2]), "network.sizes[1]"),
    ("float size", net(sizes=[2, 2.5, 2]), "network.sizes[1]"),
    ("unknown activation", net(activation="softmax"), "network.activation"),
    ("wrong number of activations", net(activation=["tanh"] * 3), "network.activation: expected one name or 2"),
    ("weights without biases", drop("biases"), "network.biases: give weights and biases together"),
    ("too few weight matrices", net(weights=[[[0.1, 0.2], [0.3, 0.4]]]), "network.weights: expected 2 matrices"),
    (
        "wrong weight shape",
        net(weights=[[[0.1, 0.2, 0.3], [0.3, 0.4, 0.5]], [[0.4, 0.45], [0.5, 0.55]]]),
        "network.weights[0]: w^2 must be 2×2",
    ),
    (
        "ragged weight rows",
        net(weights=[[[0.1, 0.2], [0.3]], [[0.4, 0.45], [0.5, 0.55]]]),
        "network.weights[0]: w^2 must be 2×2",
    ),
    ("wrong bias length", net(biases=[[0.35], [0.6, 0.6]]), "network.biases[0]: b^2 must have 2 numbers"),
    ("huge weight", net(weights=[[[1e300, 0.2], [0.3, 0.4]], [[0.4, 0.45], [0.5, 0.55]]]), "network.weights[0][0][0]"),
    (
        "string weight",
        net(weights=[[["0.1", 0.2], [0.3, 0.4]], [[0.4, 0.45], [0.5, 0.55]]]),
        "network.weights[0][0][0]",
    ),
    ("negative seed", net(seed=-1), "network.seed"),
    ("bool seed", net(seed=True), "network.seed"),
    ("unknown init", net(init="xavier"), "network.init"),
    ("unknown network field", net(dropout=0.5), "network.dropout"),
    ("unknown cost", top(cost_function="hinge"), "cost_function"),
    ("missing inputs", lambda b: b.pop("inputs"), "inputs: Field required"),
    ("empty batch", top(inputs=[], targets=[]), "inputs"),
    ("input of wrong width", top(inputs=[[0.05, 0.1, 0.2]]), "inputs[0]: expected 2 numbers"),
    ("target of wrong width", top(targets=[[0.01]]), "targets[0]: expected 2 numbers"),
    ("fewer targets than inputs", top(inputs=[[0.05, 0.1], [0.2, 0.3]]), "targets: expected 2 rows"),
    (
        "batch too large",
        top(inputs=[[0.0, 0.0]] * (S.max_batch + 1), targets=[[0.0, 0.0]] * (S.max_batch + 1)),
        "inputs",
    ),
    ("input is a string", top(inputs="0.05, 0.10"), "inputs"),
    ("null input", top(inputs=[[None, 0.1]]), "inputs[0][0]"),
    ("trace not a bool", top(trace="yes"), "trace"),
    (
        "cross-entropy with a tanh output",
        both(top(cost_function="cross_entropy"), net(activation="tanh")),
        "network.activation: cross_entropy needs a sigmoid output layer",
    ),
    (
        "cross-entropy target outside [0, 1]",
        top(cost_function="cross_entropy", targets=[[1.5, 0.0]]),
        "targets[0]: cross_entropy needs targets between 0 and 1",
    ),
    ("unknown top-level field", top(eta=0.5), "eta"),
]


@pytest.mark.parametrize(("case", "edit", "field"), BAD, ids=[c[0] for c in BAD])
def test_bad_gradient_request_names_the_field(client: TestClient, case: str, edit: Edit, field: str) -> None:
    body = copy.deepcopy(WORKED_EXAMPLE)
    edit(body)
    r = client.post("/api/gradients", json=body)
    assert r.status_code == 422, r.text
    err = r.json()
    assert err["message"].startswith(field), err["message"]
    assert "Traceback" not in r.text


@pytest.mark.parametrize("eta", [0, -1, S.max_eta * 2, "0.5", True])
def test_bad_eta(client: TestClient, eta: Any) -> None:
    body = {**copy.deepcopy(WORKED_EXAMPLE), "eta": eta}
    r = client.post("/api/trace", json=body)
    assert r.status_code == 422
    assert r.json()["message"].startswith("eta")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("where", ["inputs", "weights", "eta"])
def test_non_finite_literals_are_rejected(client: TestClient, literal: str, where: str) -> None:
    body = copy.deepcopy(WORKED_EXAMPLE)
    body["eta"] = 0.5
    if where == "inputs":
        body["inputs"] = [["__X__", 0.1]]
    elif where == "weights":
        body["network"]["weights"][1][1][0] = "__X__"
    else:
        body["eta"] = "__X__"
    raw = json.dumps(body).replace('"__X__"', literal)
    r = client.post("/api/trace", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert "finite" in r.json()["message"]
    assert literal not in r.text.replace("Infinity or NaN", "")


@pytest.mark.parametrize("raw", [b"", b"{", b"not json", b"[1, 2]", b"null", b'{"network": ', b"\xff\xfe"])
def test_malformed_bodies(client: TestClient, raw: bytes) -> None:
    r = client.post("/api/gradients", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["message"].startswith("body")


def test_body_that_is_not_utf8(client: TestClient) -> None:
    r = client.post("/api/trace", content=b"\xd4\xdc\xa49G\x01\xe9", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["message"].startswith("body: could not be read as JSON text")


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", None])
def test_wrong_content_type_is_415(client: TestClient, ctype: str | None) -> None:
    headers = {"content-type": ctype} if ctype else {}
    r = client.post("/api/gradients", content=json.dumps(WORKED_EXAMPLE), headers=headers)
    assert r.status_code == 415
    assert r.json()["message"].startswith("content-type: expected application/json")


def test_unknown_method_and_route(client: TestClient) -> None:
    r = client.put("/api/gradients", json=WORKED_EXAMPLE)
    assert r.status_code == 405
    assert r.json()["message"]
    r = client.get("/api/nothing-here")
    assert r.status_code == 404


def test_body_over_the_limit_is_413_with_content_length(client: TestClient) -> None:
    raw = b'{"pad": "' + b"x" * S.max_body_bytes + b'"}'
    r = client.post("/api/gradients", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["message"].startswith("body: larger than the limit")


def test_body_over_the_limit_is_413_when_chunked(client: TestClient) -> None:
    chunk = b"x" * 65536

    def chunks() -> Iterator[bytes]:
        yield b'{"pad": "'
        for _ in range(S.max_body_bytes // len(chunk) + 2):
            yield chunk
        yield b'"}'

    r = client.post("/api/gradients", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in r.request.headers
    assert r.status_code == 413


@pytest.mark.slow
def test_numbers_that_overflow_get_a_422_not_a_nan() -> None:
    """With the magnitude limit raised from the environment, a deep linear net overflows float64."""
    body = {
        "network": {
            "sizes": [1, 1, 1, 1, 1],
            "activation": "linear",
            "weights": [[[1e100]], [[1e100]], [[1e100]], [[1e100]]],
            "biases": [[0.0], [0.0], [0.0], [0.0]],
        },
        "inputs": [[1e100]],
        "targets": [[0.0]],
    }
    script = (
        "import json, sys\n"
        "from fastapi.testclient import TestClient\n"
        "from backprop_lens.app.main import create_app\n"
        "app = create_app()\n"
        "r = TestClient(app).post('/api/gradients', json=json.loads(sys.argv[1]))\n"
        "sys.stdout.write(json.dumps([r.status_code, r.json()]))\n"
    )
    env = {**os.environ, "BACKPROP_LENS_MAX_ABS_VALUE": "1e300"}
    out = subprocess.run(
        [sys.executable, "-W", "ignore::DeprecationWarning", "-c", script, json.dumps(body)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    status, err = json.loads(out.stdout)
    assert status == 422
    assert err["message"].startswith("network: the numbers overflow")


def test_no_cors_headers(client: TestClient) -> None:
    r = client.options(
        "/api/gradients", headers={"origin": "https://elsewhere.example", "access-control-request-method": "POST"}
    )
    assert "access-control-allow-origin" not in r.headers
    r = client.post("/api/gradients", json=WORKED_EXAMPLE, headers={"origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in r.headers


CHOOSE_ACTIVATION = "choose sigmoid, tanh, relu or linear"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (net(activation="sigmod"), f"network.activation: unknown activation 'sigmod'; {CHOOSE_ACTIVATION}"),
        (
            net(activation=["tanh", "sigmod"]),
            f"network.activation[1]: unknown activation 'sigmod'; {CHOOSE_ACTIVATION}",
        ),
        (net(activation=5), f"network.activation: {CHOOSE_ACTIVATION}"),
        (net(init="xavier"), "network.init: unknown init 'xavier'; choose standard or scaled"),
        (top(cost_function="hinge"), "cost_function: unknown cost function 'hinge'; choose quadratic or cross_entropy"),
    ],
)
def test_an_unknown_name_is_said_in_words(client: TestClient, edit: Edit, message: str) -> None:
    body = copy.deepcopy(WORKED_EXAMPLE)
    edit(body)
    r = client.post("/api/gradients", json=body)
    assert r.status_code == 422
    err = r.json()
    assert err["message"] == message
    # the members of the union (a name, or a list of names) are one field, not "activation.literal['sigmoid',…]"
    assert "literal[" not in r.text and "Input should be" not in err["message"]


def test_an_unknown_name_is_echoed_short(client: TestClient) -> None:
    body = copy.deepcopy(WORKED_EXAMPLE)
    body["network"]["activation"] = "x" * 10_000
    r = client.post("/api/gradients", json=body)
    assert r.status_code == 422
    assert r.json()["message"] == f"network.activation: unknown activation {'x' * 24!r}; {CHOOSE_ACTIVATION}"
    assert len(r.content) < 1000
