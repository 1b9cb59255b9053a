"""The page and its fragments, without a browser: numbers against independent references, errors, limits.

Numbers shown on the page are read from the ``data-value`` attributes of the
numbers tables (the full-precision value behind the rounded text) and compared
with Mazur's hand-worked example and with a scalar autograd that knows nothing
of δ or BP1–BP4 (``tests/autograd.py``).
"""

from __future__ import annotations

import html
import math
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings, get_settings
from engine import Network
from tests.autograd import reference_gradients

HX = {"HX-Request": "true"}
MAZUR = {  # "A Step by Step Backpropagation Example" (Matt Mazur), worked by hand
    "cost": 0.298371109,
    "a-3-1": 0.75136507,
    "a-3-2": 0.772928465,
    "nabla_w-3-1-1": 0.082167041,
    "nabla_w-3-1-2": 0.082667628,
    "nabla_w-3-2-1": -0.022602540,
    "nabla_w-2-1-1": 0.000438568,
    "nabla_w-2-2-2": 0.000995425,
}


@pytest.fixture(scope="module")
def page_client() -> TestClient:
    return TestClient(create_app())


def values(html: str) -> dict[str, float]:
    """Every number the page shows with its full precision, by what it is: {"delta-3-1": …}."""
    return {q: float(v) for q, v in re.findall(r'data-q="([^"]+)" data-value="([^"]+)"', html)}


def run_id(html: str) -> str:
    m = re.search(r'id="run"[^>]*data-run-id="([^"]+)"', html)
    assert m, "no #run with data-run-id"
    return m.group(1)


def last_step(client: TestClient, html: str) -> str:
    rid = run_id(html)
    steps = int(re.search(r'data-steps="(\d+)"', html).group(1))  # type: ignore[union-attr]
    r = client.get(f"/runs/{rid}/steps/{steps - 1}", headers=HX)
    assert r.status_code == 200
    return r.text


def assert_no_inline_code(html: str) -> None:
    assert not re.search(r"\sstyle\s*=", html), "inline style attribute"
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler"
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag, f"inline script: {tag}"
    assert "http://" not in html.replace("http://www.w3.org/", "") and "https://" not in html, "external resource"


def test_first_load_is_the_worked_example_ready_to_play(page_client: TestClient) -> None:
    r = page_client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert 'data-step="0"' in html and 'id="btn-play"' in html and 'id="instruments-slot"' in html
    assert html.index('id="numbers"') < html.index('id="instruments-slot"'), "the slot is below the numbers"
    assert 'name="htmx-config"' in html and '"includeIndicatorCSS": false' in html
    assert re.search(r'<div id="player"[^>]*hx-sse:close="done"', html), "a finished stream is not replayed"
    assert "/static/vendor/htmx.min.js" in html and "/static/vendor/hx-sse.min.js" in html
    assert_no_inline_code(html)
    shown = values(html)
    assert shown["a-1-1"] == 0.05 and shown["a-1-2"] == 0.1
    assert "delta-3-1" not in shown, "δ is not shown before the backward pass reaches it"


def test_the_last_step_shows_mazurs_hand_worked_numbers(page_client: TestClient) -> None:
    shown = values(last_step(page_client, page_client.get("/").text))
    assert shown["cost_before"] == pytest.approx(MAZUR["cost"], abs=1e-9)
    for key, expected in MAZUR.items():
        if key != "cost":
            assert shown[key] == pytest.approx(expected, abs=1e-9), key
    # eq. 20 with η = 0.5 by hand: w³₁₁ = 0.40 − 0.5 × 0.082167041 = 0.358916480 (Mazur), and the cost falls
    assert shown["cost_after"] < shown["cost_before"]


def test_each_step_reveals_its_quantities_in_order(page_client: TestClient) -> None:
    rid = run_id(page_client.get("/").text)
    seen: list[set[str]] = []
    for k in range(8):
        r = page_client.get(f"/runs/{rid}/steps/{k}", headers=HX)
        assert r.status_code == 200
        assert f'data-step="{k}"' in r.text
        assert "<html" not in r.text, "htmx gets the fragment, not the page"
        assert r.headers["vary"] == "HX-Request"
        assert_no_inline_code(r.text)
        seen.append({q.rsplit("-", 2)[0] if q.count("-") == 2 else q.split("-")[0] for q in values(r.text)})
    assert "z" in seen[1] and "delta" not in seen[2]
    assert "delta" in seen[3] and "sigma_prime" in seen[3] and "nabla_w" not in seen[4]
    assert "nabla_w" in seen[5] and "cost_after" not in seen[6]
    assert "cost_after" in seen[7]
    update = page_client.get(f"/runs/{rid}/steps/7", headers=HX).text
    assert "0.3589" in update  # w³₁₁ after the update, Mazur's 0.358916480
    assert 'id="btn-next"' in update and 'hx-post="/runs/' in update


def test_a_step_without_htmx_is_the_full_page(page_client: TestClient) -> None:
    rid = run_id(page_client.get("/").text)
    r = page_client.get(f"/runs/{rid}/steps/3")
    assert r.status_code == 200 and "<html" in r.text and 'data-step="3"' in r.text
    assert r.headers["vary"] == "HX-Request"


@pytest.mark.parametrize("path", ["/runs/unknown", "/runs/unknown/steps/0", "/runs/unknown/trace.json"])
def test_an_unknown_run_is_a_404_page_linking_home(page_client: TestClient, path: str) -> None:
    r = page_client.get(path)
    assert r.status_code == 404
    assert 'href="/"' in r.text and "expired" in r.text


def test_a_step_out_of_range_is_a_404(page_client: TestClient) -> None:
    rid = run_id(page_client.get("/").text)
    assert page_client.get(f"/runs/{rid}/steps/8", headers=HX).status_code == 404
    assert page_client.get(f"/runs/{rid}/steps/-1", headers=HX).status_code == 404


FORM_342 = {
    "sizes": "3, 4, 2",
    "activation": "tanh",
    "cost": "quadratic",
    "x": "0.5, -0.2, 0.1",
    "y": "0.3, -0.4",
    "eta": "0.3",
    "seed": "7",
    "weights": "",
    "biases": "",
}


def test_a_new_configuration_matches_an_independent_autograd(page_client: TestClient) -> None:
    r = page_client.post("/runs", data=FORM_342, headers=HX)
    assert r.status_code == 200
    assert r.text.startswith('<section id="run"')
    assert 'hx-swap-oob="true"' in r.text, "the configuration panel is refreshed (old errors cleared)"
    shown = values(last_step(page_client, r.text))
    net = Network([3, 4, 2], activation="tanh", seed=7)  # the seeded initial weights
    cost, nabla_w, nabla_b = reference_gradients(
        [w.tolist() for w in net.weights], [b.tolist() for b in net.biases], ["tanh", "tanh"], "quadratic",
        [[0.5, -0.2, 0.1]], [[0.3, -0.4]],
    )  # fmt: skip
    assert shown["cost_before"] == pytest.approx(cost, rel=1e-12)
    for i, (w, b) in enumerate(zip(nabla_w, nabla_b, strict=True)):
        layer = i + 2
        for j, row in enumerate(w):
            # BP3 with one example: δ_j = ∂C/∂b_j, checked against the autograd's bias gradient
            assert shown[f"delta-{layer}-{j + 1}"] == pytest.approx(b[j], rel=1e-10, abs=1e-15)
            for k, v in enumerate(row):
                assert shown[f"nabla_w-{layer}-{j + 1}-{k + 1}"] == pytest.approx(v, rel=1e-10, abs=1e-15)


def test_a_form_without_htmx_redirects_to_its_permalink(page_client: TestClient) -> None:
    r = page_client.post("/runs", data=FORM_342, follow_redirects=False)
    assert r.status_code == 303
    query = parse_qs(urlsplit(r.headers["location"]).query)
    assert query["sizes"] == ["3, 4, 2"] and query["activation"] == ["tanh"] and query["seed"] == ["7"]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"x": "0.5, -0.2"}, "x", "expected 3 numbers"),
        ({"x": "0.5, nope, 1"}, "x", "'nope' is not a number"),
        ({"sizes": "3, 0, 2"}, "sizes", "sizes"),
        ({"sizes": "1, 2, 3, 4, 5, 6, 7, 8, 9"}, "sizes", "2 to 8 layers"),
        ({"activation": "softmax"}, "activation", "activation"),
        ({"activation": "tanh, tanh, tanh"}, "activation", "expected one name or 2 names"),
        ({"eta": "-1"}, "eta", "eta"),
        ({"cost": "cross_entropy"}, "activation", "sigmoid output layer"),
        ({"weights": "[[1, 2]"}, "weights", "not valid JSON"),
        ({"weights": "[[[1, 2, 3]]]", "biases": "[[1]]"}, "weights", "expected 2 matrices"),
        ({"y": "nan, 1"}, "y", "finite"),
    ],
)
def test_a_bad_field_is_named_beside_it_and_the_network_stays(
    page_client: TestClient, change: dict[str, str], field: str, words: str
) -> None:
    r = page_client.post("/runs", data={**FORM_342, **change}, headers=HX)
    assert r.status_code == 422
    assert r.headers["hx-retarget"] == "#config-panel" and r.headers["hx-reswap"] == "outerHTML"
    assert 'id="run"' not in r.text, "the run on screen is not replaced"
    m = re.search(rf'<p id="e-{field}" class="error" role="alert">([^<]*)</p>', r.text)
    assert m, f"no error beside {field}: {r.text[:400]}"
    assert words in html.unescape(m.group(1))
    assert 'aria-invalid="true"' in r.text
    for name, text in change.items():  # what the person typed is kept
        assert html.escape(text) in r.text or name == "cost"


def test_the_form_must_be_urlencoded(page_client: TestClient) -> None:
    r = page_client.post("/runs", json=FORM_342, headers=HX)
    assert r.status_code == 415


def test_a_permalink_reproduces_the_configuration(page_client: TestClient) -> None:
    first = page_client.post("/runs", data=FORM_342, headers=HX).text
    link = re.search(r'id="permalink" href="([^"]+)"', first).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
    again = page_client.get(link)
    assert again.status_code == 200
    for name, text in FORM_342.items():
        if name != "cost" and text:
            assert f'value="{text}"' in again.text, name
    assert values(last_step(page_client, first)) == values(last_step(page_client, again.text))


def test_the_next_iteration_starts_from_the_updated_weights_and_lowers_the_cost(page_client: TestClient) -> None:
    html = page_client.get("/").text
    before = values(last_step(page_client, html))
    r = page_client.post(f"/runs/{run_id(html)}/next", headers=HX)
    assert r.status_code == 200 and 'id="iteration"' in r.text
    after = values(last_step(page_client, r.text))
    assert after["cost_before"] == pytest.approx(before["cost_after"], rel=1e-12)
    assert after["cost_after"] < after["cost_before"] < before["cost_before"]
    # the permalink carries the iteration, not the numbers, and gives the same run again
    link = re.search(r'id="permalink" href="([^"]+)"', r.text).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
    assert "iteration=1" in link
    assert values(last_step(page_client, page_client.get(link).text)) == after


def test_a_permalink_replays_a_bounded_number_of_iterations(page_client: TestClient) -> None:
    limit = get_settings().max_page_iterations
    r = page_client.get(f"/?sizes=2,2&iteration={limit + 1}")
    assert r.status_code == 422
    assert f"from 0 to {limit}" in r.text
    assert 'data-run-id="' in r.text, "the worked example is still on screen"


def test_a_diverging_iteration_is_a_form_error_not_a_500() -> None:
    client = TestClient(create_app(Settings(max_page_iterations=200)))
    r = client.get("/?sizes=1,1&activation=linear&x=1000&y=0&eta=1000&iteration=200")
    assert r.status_code == 422
    assert "overflow" in r.text or "finite" in r.text


def test_the_trace_download_is_the_runs_trace(page_client: TestClient) -> None:
    html = page_client.get("/").text
    r = page_client.get(f"/runs/{run_id(html)}/trace.json")
    assert r.status_code == 200
    assert r.headers["content-disposition"].startswith("attachment;")
    body: dict[str, Any] = r.json()
    assert body["cost_before"] == pytest.approx(MAZUR["cost"], abs=1e-9)
    assert len(body["steps"]) == 8 and body["steps"][-1]["kind"] == "update"
    assert body["network"]["weights"] == [[[0.15, 0.2], [0.25, 0.3]], [[0.4, 0.45], [0.5, 0.55]]]
    assert math.isclose(body["steps"][-1]["values"]["weights"][1][0][0], 0.358916480, abs_tol=1e-9)


def test_a_wide_layer_is_drawn_with_its_ends_and_a_count(page_client: TestClient) -> None:
    r = page_client.post("/runs", data={**FORM_342, "sizes": "3, 40, 2", "activation": "sigmoid"}, headers=HX)
    assert r.status_code == 200
    drawn = re.findall(r'id="n-2-(\d+)"', r.text)
    assert drawn[:7] == [str(j) for j in range(1, 8)] and drawn[-7:] == [str(j) for j in range(34, 41)]
    assert len(drawn) == 14 and "⋮ 26 more" in r.text
