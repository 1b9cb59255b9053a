"""The instruments' JSON API: wiring, book-style indices, limits and OpenAPI.

Numbers are checked against Matt Mazur's hand-worked 2-2-2 example (the
README's worked example) and against the /api/gradients route, which the
engine tests check against autograd and finite differences.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backprop_lens.app.core.settings import get_settings

S = get_settings()
URL = "/api/instruments/"
ROUTES = [
    "gradcheck",
    "demon",
    "saturation",
    "paths",
    "matrix-form",
    "minibatch",
    "modified-neuron",
    "linear-network",
    "cost-comparison",
]
PAGE_ROUTES = ["speed", *ROUTES[1:]]  # the page's first tab is about speed; its API route is gradcheck

# Mazur's hand-worked numbers: δ³₁ = ∂E/∂net_o1, ∂E/∂w5 = ∂C/∂w³₁₁, ∂E/∂w1 = ∂C/∂w²₁₁ = 0.05 δ²₁
MAZUR_DELTA_3_1 = 0.138498562
MAZUR_W3_11 = 0.082167041
MAZUR_W2_11 = 0.000438568
MAZUR_W2_21 = 0.000497713


def flat(nested: Any) -> list[float]:
    """Nested lists of numbers, flattened in order (pytest.approx compares flat sequences)."""
    return [v for item in nested for v in flat(item)] if isinstance(nested, list) else [nested]


def post(client: TestClient, route: str, body: dict[str, Any]) -> Any:
    return client.post(URL + route, json=body)


def test_gradcheck_counts_passes_and_matches_hand_worked_gradient(client: TestClient, worked: dict[str, Any]) -> None:
    r = post(client, "gradcheck", worked)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["parameters"] == 12
    assert body["forward_passes"] == {"backprop": 2, "finite_differences": 25}
    sizes = worked["network"]["sizes"]
    P = sum(sizes[i] * (sizes[i - 1] + 1) for i in range(1, len(sizes)))  # weights and biases, from the sizes
    assert body["parameters"] == P and body["forward_passes"]["finite_differences"] == 2 * P + 1
    seconds = body["seconds"]  # measured, so only their kind is certain: durations, finite and not negative
    assert set(seconds) == {"backprop", "finite_differences"}
    assert all(type(t) is float and 0.0 <= t < float("inf") for t in seconds.values()), seconds
    top = body["layers"][1]
    assert top["layer"] == 3
    assert top["nabla_w_backprop"][0][0] == pytest.approx(MAZUR_W3_11, abs=1e-9)
    assert top["nabla_w_numerical"][0][0] == pytest.approx(MAZUR_W3_11, abs=1e-9)
    assert body["max_relative_error"] < 1e-5
    assert body["max_absolute_error"] < 1e-9


def test_demon_uses_book_indices(client: TestClient, worked: dict[str, Any]) -> None:
    r = post(client, "demon", {**worked, "layer": 3, "neuron": 1, "nudges": [1e-5, 2.0]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["layer"], body["neuron"]) == (3, 1)
    assert body["delta"] == pytest.approx(MAZUR_DELTA_3_1, abs=1e-9)
    small, big = body["nudges"]
    assert small["predicted"] == pytest.approx(MAZUR_DELTA_3_1 * 1e-5, rel=1e-8)
    assert small["ratio"] == pytest.approx(1.0, abs=1e-4)
    assert abs(big["ratio"] - 1.0) > 0.05


def test_paths_sum_to_the_hand_worked_gradients(client: TestClient, worked: dict[str, Any]) -> None:
    out = post(client, "paths", {**worked, "layer": 3, "neuron": 1, "input": 1}).json()
    assert out["count"] == 1 and out["paths"][0]["neurons"] == [1]
    assert out["total"] == pytest.approx(MAZUR_W3_11, abs=1e-9)
    hidden = post(client, "paths", {**worked, "layer": 2, "neuron": 1, "input": 1, "top": 1}).json()
    assert hidden["count"] == 2 and len(hidden["paths"]) == 1
    assert hidden["total"] == pytest.approx(MAZUR_W2_11, abs=1e-9)
    assert hidden["listed_sum"] + hidden["rest_sum"] == pytest.approx(hidden["total"], abs=1e-15)
    path = hidden["paths"][0]
    assert path["neurons"][0] == 1 and path["factors"][0] == 0.05  # a¹₁ = x₁


def test_matrix_form_equals_layer_by_layer_delta(client: TestClient, worked: dict[str, Any]) -> None:
    out = post(client, "matrix-form", {**worked, "layer": 2}).json()
    assert [(f["kind"], f["layer"]) for f in out["factors"]] == [
        ("sigma_prime", 2),
        ("weights_T", 3),
        ("sigma_prime", 3),
    ]
    assert out["factors"][1]["matrix"] == [[0.40, 0.50], [0.45, 0.55]]
    assert out["delta"][0] * 0.05 == pytest.approx(MAZUR_W2_11, abs=1e-9)
    assert out["delta"][1] * 0.05 == pytest.approx(MAZUR_W2_21, abs=1e-9)
    assert out["delta"] == pytest.approx(out["delta_layerwise"], rel=1e-12)


def test_minibatch_mean_is_the_gradient_of_the_batch(client: TestClient, worked: dict[str, Any]) -> None:
    worked["inputs"] = [[0.05, 0.10], [0.9, -0.4], [0.3, 0.3]]
    worked["targets"] = [[0.01, 0.99], [0.7, 0.2], [0.5, 0.5]]
    out = post(client, "minibatch", worked).json()
    grads = client.post("/api/gradients", json=worked).json()
    assert len(out["examples"]) == 3
    assert flat(out["nabla_w"]) == pytest.approx(flat(grads["nabla_w"]), rel=1e-12)
    one = copy.deepcopy(worked)
    one["inputs"], one["targets"] = worked["inputs"][1:2], worked["targets"][1:2]
    single = client.post("/api/gradients", json=one).json()
    assert flat(out["examples"][1]["nabla_w"]) == pytest.approx(flat(single["nabla_w"]), rel=1e-12)


def test_modified_neuron_with_the_layers_own_activation_changes_nothing(
    client: TestClient, worked: dict[str, Any]
) -> None:
    same = post(client, "modified-neuron", {**worked, "layer": 2, "neuron": 2, "f": "sigmoid"}).json()
    grads = client.post("/api/gradients", json=worked).json()
    assert flat(same["nabla_w"]) == pytest.approx(flat(grads["nabla_w"]), rel=1e-12)
    assert same["f_prime"] == pytest.approx(same["sigma_prime"], rel=1e-12)
    other = post(client, "modified-neuron", {**worked, "layer": 2, "neuron": 2, "f": "tanh"}).json()
    assert other["neuron"] == 2 and other["f"] == "tanh"
    assert other["nabla_b"][0][1] != pytest.approx(grads["nabla_b"][0][1], rel=1e-3)


def test_linear_network_maps(client: TestClient, worked: dict[str, Any]) -> None:
    out = post(client, "linear-network", worked).json()
    assert out["layers"][1]["map"] == [[1.0, 0.0], [0.0, 1.0]]
    assert out["layers"][0]["map"] == [[0.40, 0.50], [0.45, 0.55]]
    for layer in out["layers"]:
        assert layer["delta"] == pytest.approx(layer["delta_backprop"], rel=1e-12)


def test_cost_comparison(client: TestClient, worked: dict[str, Any]) -> None:
    out = post(client, "cost-comparison", worked).json()
    assert out["cross_entropy"]["delta"] == pytest.approx(out["a_minus_y"], rel=1e-9)
    assert out["quadratic"]["delta"][0] == pytest.approx(MAZUR_DELTA_3_1, abs=1e-9)


def test_saturation_names_neurons_from_one(client: TestClient, worked: dict[str, Any]) -> None:
    worked["network"]["biases"] = [[0.35, 12.0], [0.60, 0.60]]  # neuron 2 of layer 2 saturates
    worked["inputs"] = [[0.0, 0.10]]  # and input 1 is quiet
    out = post(client, "saturation", {**worked, "limit": 3}).json()
    assert [(n["layer"], n["neuron"]) for n in out["saturated"]] == [(2, 2)]
    assert "BP2" in out["saturated"][0]["reason"]
    assert [(q["layer"], q["neuron"]) for q in out["quiet"]] == [(1, 1)]
    # weights into (2, 2): 2, weights out of (1, 1): 2, one shared
    assert out["slow_weight_count"] == 3 and len(out["slow_weights"]) == 3
    assert {(w["layer"], w["neuron"], w["input"]) for w in out["slow_weights"]} == {(2, 1, 1), (2, 2, 1), (2, 2, 2)}


@pytest.mark.parametrize(
    ("route", "extra", "field"),
    [
        ("demon", {"layer": 4, "neuron": 1}, "layer"),
        ("demon", {"layer": 2, "neuron": 3}, "neuron"),
        ("demon", {"layer": 2, "neuron": 1, "nudges": [S.max_nudge * 2]}, "nudges[0]"),
        ("demon", {"layer": 2, "neuron": 1, "nudges": [0.1] * (S.max_nudges + 1)}, "nudges"),
        ("demon", {"layer": 2, "neuron": 1, "example": 1}, "example"),
        ("demon", {"layer": 2, "neuron": 1, "trace": True}, "trace"),
        ("paths", {"layer": 2, "neuron": 1, "input": 3}, "input"),
        ("paths", {"layer": 2, "neuron": 1, "input": 1, "top": S.max_paths_listed + 1}, "top"),
        ("modified-neuron", {"layer": 2, "neuron": 1, "f": "softplus"}, "f"),
        ("matrix-form", {"layer": 1}, "layer"),
        ("saturation", {"sigma_prime_threshold": 0}, "sigma_prime_threshold"),
        ("gradcheck", {"epsilon": 1.0}, "epsilon"),
        ("linear-network", {"cost_function": "cross_entropy"}, "cost_function"),
    ],
)
def test_bad_requests_name_the_field(
    client: TestClient, worked: dict[str, Any], route: str, extra: dict[str, Any], field: str
) -> None:
    r = post(client, route, {**worked, **extra})
    assert r.status_code == 422, r.text
    assert r.json()["message"].startswith(field)


def test_size_limits(client: TestClient) -> None:
    wide = {"network": {"sizes": [2, S.max_matrix_form_width + 1, 2]}, "inputs": [[0.1, 0.2]], "targets": [[0.0, 1.0]]}
    r = post(client, "matrix-form", {**wide, "layer": 2})
    assert r.status_code == 422 and r.json()["message"].startswith("network.sizes")
    assert post(client, "matrix-form", {**wide, "layer": 3}).status_code == 200
    assert post(client, "linear-network", wide).status_code == 422
    big = {
        "network": {"sizes": [2, S.max_gradcheck_parameters // 4 + 1, 2]},
        "inputs": [[0.1, 0.2]],
        "targets": [[0.0, 1.0]],
    }
    r = post(client, "gradcheck", big)
    assert r.status_code == 422 and "forward passes" in r.json()["message"]
    tanh = {"network": {"sizes": [2, 2], "activation": "tanh"}, "inputs": [[0.1, 0.2]], "targets": [[0.0, 1.0]]}
    r = post(client, "cost-comparison", tanh)
    assert r.status_code == 422 and r.json()["message"].startswith("network.activation")


def test_openapi_documents_every_instrument_with_its_bounds(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    for route in ROUTES:
        op = doc["paths"][f"{URL}{route}"]["post"]
        assert {"200", "422"} <= set(op["responses"]), route
        assert op["description"] or op["summary"]
    demon = doc["components"]["schemas"]["DemonRequest"]["properties"]
    assert demon["nudges"]["maxItems"] == S.max_nudges
    assert demon["nudges"]["items"]["maximum"] == S.max_nudge
    assert doc["components"]["schemas"]["PathsRequest"]["properties"]["top"]["maximum"] == S.max_paths_listed
    assert "trace" not in doc["components"]["schemas"]["DemonRequest"]["properties"]


def test_a_body_that_is_not_json_is_415(client: TestClient) -> None:
    r = client.post(URL + "demon", content=b"layer=2", headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415


# --- the page's fragments ----------------------------------------------------------------------


def run_id(client: TestClient) -> str:
    """A fresh run of the worked example, made by the step-through page."""
    match = re.search(r'data-run-id="([^"]+)"', client.get("/").text)
    assert match is not None
    return match.group(1)


def test_the_page_includes_the_panel_loader(client: TestClient) -> None:
    html = client.get("/").text
    rid = run_id(client)
    assert 'id="instruments-slot"' in html and 'hx-get="/instruments/' in html
    panel = client.get(f"/instruments/{rid}")
    assert panel.status_code == 200
    for route in PAGE_ROUTES:
        assert f'id="tab-{route}"' in panel.text and f'hx-get="/instruments/{rid}/{route}"' in panel.text


def test_the_instruments_script_and_style_load_once_from_the_page_not_from_a_swap(client: TestClient) -> None:
    """A <script> inside a swapped region would run again at every swap of #run: the page loads it, once."""
    html = client.get("/").text
    head = html[: html.index("</head>")]
    assert head.count('<script src="/static/js/instruments.js" defer></script>') == 1
    assert head.count('<link rel="stylesheet" href="/static/css/instruments.css">') == 1
    assert html.count("instruments.js") == 1 and html.count("instruments.css") == 1
    swapped = client.post(f"/runs/{run_id(client)}/next", headers={"HX-Request": "true"}).text  # a new #run
    assert 'id="instruments-slot"' in swapped and "<script" not in swapped and "<link" not in swapped
    assert "<script" not in client.get(f"/instruments/{run_id(client)}").text


@pytest.mark.parametrize("route", PAGE_ROUTES)
def test_every_fragment_renders_for_a_run(client: TestClient, route: str) -> None:
    r = client.get(f"/instruments/{run_id(client)}/{route}")
    assert r.status_code == 200, r.text
    assert f'id="{route}-result"' in r.text
    assert "<script" not in r.text and "style=" not in r.text


def test_fragment_numbers_are_the_apis(client: TestClient, worked: dict[str, Any]) -> None:
    rid = run_id(client)
    html = client.get(f"/instruments/{rid}/paths", params={"layer": "3", "neuron": "2", "input": "1"}).text
    api = post(client, "paths", {**worked, "layer": 3, "neuron": 2, "input": 1}).json()
    total = re.search(r'id="bp4-total"><span class="num [a-z]+" data-value="([^"]+)"', html)
    assert total is not None and float(total.group(1)) == api["total"]


@pytest.mark.parametrize(
    ("route", "params", "message"),
    [
        ("demon", {"layer": "5"}, "layer: expected l from 2 to L = 3"),
        ("demon", {"nudges": "1, x"}, "nudges[1]"),
        ("paths", {"top": "999"}, "top"),
        ("speed", {"width": "wide"}, "width"),
        ("speed", {"width": "1000"}, "network.sizes"),
        ("minibatch", {"inputs": "0.1, 0.2\n0.3", "targets": "0, 1\n1, 0"}, "inputs[1]"),
        ("demon", {"cost_function": "cross_entropy"}, "cost_function: set by the run"),
    ],
)
def test_bad_settings_come_back_as_a_fragment_naming_them(
    client: TestClient, route: str, params: dict[str, str], message: str
) -> None:
    r = client.get(f"/instruments/{run_id(client)}/{route}", params=params)
    assert r.status_code == 422
    assert 'class="instrument-error"' in r.text and message in r.text


def test_an_unknown_run_is_a_404_fragment(client: TestClient) -> None:
    r = client.get("/instruments/no-such-run/demon")
    assert r.status_code == 404 and "expired" in r.text
    assert client.get("/instruments/no-such-run").status_code == 404
    assert client.get(f"/instruments/{run_id(client)}/no-such-instrument").status_code == 422
