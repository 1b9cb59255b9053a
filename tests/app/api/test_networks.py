"""``GET /api/networks``: the weights and biases a seed draws, written out. Checked against the engine's
``Network(sizes, seed=...)`` and against NumPy's PCG64 drawn here by hand (the draw ``engine.network`` documents:
per layer, w^l then b^l, standard normals, w scaled by 1/√n_in for ``init=scaled``)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from fastapi.testclient import TestClient

from backprop_lens.engine import Network


def by_hand(sizes: list[int], seed: int, init: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.Generator(np.random.PCG64(seed))
    weights, biases = [], []
    for n_in, n_out in itertools.pairwise(sizes):
        w = rng.standard_normal(n_out * n_in).reshape(n_out, n_in)
        weights.append(w / math.sqrt(n_in) if init == "scaled" else w)
        biases.append(rng.standard_normal(n_out))
    return weights, biases


@pytest.mark.parametrize(
    ("sizes", "seed", "init"), [([2, 2, 2], 0, "standard"), ([3, 5, 1], 7, "scaled"), ([1, 1], 2**32 - 1, "standard")]
)
def test_the_seed_s_weights_come_back(client: TestClient, sizes: list[int], seed: int, init: str) -> None:
    r = client.get("/api/networks", params={"sizes": sizes, "seed": seed, "init": init})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["sizes"] == sizes and got["seed"] == seed and got["init"] == init and got["activation"] == "sigmoid"
    weights, biases = by_hand(sizes, seed, init)
    net = Network(sizes, seed=seed, init=init)  # type: ignore[arg-type]
    for w_got, w_hand, w_engine in zip(got["weights"], weights, net.weights, strict=True):
        np.testing.assert_allclose(w_got, w_hand, rtol=1e-15, atol=0)
        assert np.array_equal(w_got, w_engine)
    for b_got, b_hand, b_engine in zip(got["biases"], biases, net.biases, strict=True):
        np.testing.assert_allclose(b_got, b_hand, rtol=1e-15, atol=0)
        assert np.array_equal(b_got, b_engine)


def test_the_written_out_network_gives_the_seed_s_gradients(client: TestClient) -> None:
    seeded = {"network": {"sizes": [3, 4, 2], "seed": 11, "init": "scaled"}, "inputs": [[0.5, -1.0, 2.0]],
              "targets": [[0.0, 1.0]]}  # fmt: skip
    network = client.get("/api/networks", params={"sizes": [3, 4, 2], "seed": 11, "init": "scaled"}).json()
    explicit = {**seeded, "network": network}
    assert client.post("/api/gradients", json=explicit).json() == client.post("/api/gradients", json=seeded).json()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sizes": [2]}, "sizes"),
        ({"sizes": [2, 0]}, "sizes[1]"),
        ({"sizes": [1024, 1024, 10]}, "sizes: [1024, 1024, 10] has"),
        ({"sizes": [2, 2], "init": "xavier"}, "init"),
        ({"sizes": [2, 2], "seed": -1}, "seed"),
        ({"sizes": [2, 2], "colour": "red"}, "colour"),
    ],
)
def test_bad_queries_get_a_422_naming_the_field(
    client: TestClient, params: dict[str, int | str | list[int]], field: str
) -> None:
    r = client.get("/api/networks", params=params)
    assert r.status_code == 422, r.text
    assert r.json()["message"].startswith(f"query.{field}"), r.json()
