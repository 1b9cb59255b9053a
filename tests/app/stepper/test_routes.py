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

from backprop_lens.app.core.settings import Settings, get_settings
from backprop_lens.app.main import create_app
from backprop_lens.app.stepper.form import default_form
from backprop_lens.engine import Network
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
        assert r.headers["vary"] in ("HX-Request", "HX-Request, Accept-Encoding")  # the second when compressed
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
    assert r.headers["vary"] in ("HX-Request", "HX-Request, Accept-Encoding")  # the second when compressed


@pytest.mark.parametrize("path", ["/runs/unknown", "/runs/unknown/steps/0", "/runs/unknown/trace.json"])
def test_an_unknown_run_is_a_404_page_linking_home(page_client: TestClient, path: str) -> None:
    r = page_client.get(path)
    assert r.status_code == 404
    assert 'href="/"' in r.text and "expired" in r.text


def test_a_step_out_of_range_is_a_404(page_client: TestClient) -> None:
    rid = run_id(page_client.get("/").text)
    assert page_client.get(f"/runs/{rid}/steps/8", headers=HX).status_code == 404
    assert page_client.get(f"/runs/{rid}/steps/-1", headers=HX).status_code == 404
    # a live run's missing step says which steps it has, never that the run may have expired
    for r, k in (
        (page_client.get(f"/runs/{rid}/steps/99"), 99),
        (page_client.get(f"/runs/{rid}/steps/99/diagram.svg"), 99),
        (page_client.get(f"/runs/{rid}/steps/99/equation.tex"), 99),
        (page_client.post(f"/runs/{rid}/present?step=99"), 99),
        (page_client.post(f"/runs/{rid}/present?on=false&step=-1"), -1),
    ):
        assert r.status_code == 404
        assert f"This run has steps 1 to 8; there is no step {k + 1}." in r.text
        assert "forgotten" not in r.text and "expired" not in r.text
        assert f'href="/runs/{rid}/steps/0"' in r.text
    # an unknown run still may have expired
    assert "Runs are forgotten an hour after their last use" in page_client.get("/runs/nope/steps/0").text


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
    assert r.headers["hx-retarget"] == "#config" and r.headers["hx-reswap"] == "outerHTML"
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


# --- issue 10: new sizes, init, the summary, clear messages, every error at once, iterations, "−" ----------------

WORKED_FORM = {**default_form(), "previous_sizes": "2, 2, 2"}  # the form as the page sends it on first load


def error_beside(html_text: str, field: str) -> str | None:
    m = re.search(rf'<p id="e-{field}" class="error" role="alert">([^<]*)</p>', html_text)
    return html.unescape(m.group(1)) if m else None


def trace_json(client: TestClient, html_text: str) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/runs/{run_id(html_text)}/trace.json").json()
    return body


def test_the_page_sends_the_sizes_of_the_network_on_screen(page_client: TestClient) -> None:
    assert '<input type="hidden" name="previous_sizes" value="2, 2, 2">' in page_client.get("/").text
    r = page_client.post("/runs", data=FORM_342, headers=HX)
    assert '<input type="hidden" name="previous_sizes" value="3, 4, 2">' in r.text


def test_new_sizes_draw_fresh_weights_from_the_seed_and_say_so(page_client: TestClient) -> None:
    r = page_client.post("/runs", data={**WORKED_FORM, "sizes": "2, 3, 2"}, headers=HX)
    assert r.status_code == 200, error_beside(r.text, "weights")
    notice = re.search(r'id="config-notice"><strong>([^<]*)</strong>', r.text)
    assert notice and html.unescape(notice.group(1)) == "New sizes 2-3-2: fresh weights drawn from seed 0 (N(0, 1))"
    assert len(re.findall(r'id="n-2-\d+"', r.text)) == 3
    net = Network([2, 3, 2], seed=0)  # what "drawn from seed 0" means
    drawn = trace_json(page_client, r.text)["network"]
    assert drawn["weights"] == [w.tolist() for w in net.weights] and drawn["biases"] == [b.tolist() for b in net.biases]
    # the form now says what the network is: no pasted weights, so the permalink draws them again
    assert re.search(r'<textarea id="f-weights"[^>]*></textarea>', r.text)
    link = re.search(r'id="permalink" href="([^"]+)"', r.text).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
    assert "weights=" not in link and "sizes=2%2C+3%2C+2" in link
    assert trace_json(page_client, page_client.get(link).text)["network"] == drawn
    # the next configuration of the same sizes has no notice
    again = page_client.post("/runs", data={**WORKED_FORM, "sizes": "2, 3, 2", "previous_sizes": "2, 3, 2",
                                            "weights": "", "biases": "", "seed": "4"}, headers=HX)  # fmt: skip
    assert again.status_code == 200 and 'id="config-notice"' not in again.text


def test_new_sizes_with_scaled_init_keep_a_wide_layer_out_of_saturation(page_client: TestClient) -> None:
    form = {**WORKED_FORM, "sizes": "2, 500, 10", "y": ", ".join(["0.5"] * 10), "init": "scaled", "seed": "3"}
    r = page_client.post("/runs", data=form, headers=HX)
    assert r.status_code == 200
    assert "New sizes 2-500-10: fresh weights drawn from seed 3 (N(0, 1/n_in))" in html.unescape(r.text)
    assert '<option value="scaled" selected>' in r.text
    drawn = trace_json(page_client, r.text)["network"]
    assert drawn["weights"] == [w.tolist() for w in Network([2, 500, 10], seed=3, init="scaled").weights]

    def output_sigma_primes(html_text: str) -> list[float]:
        shown = values(last_step(page_client, html_text))
        return sorted(shown[f"sigma_prime-3-{j}"] for j in range(1, 11))

    # z³ sums 500 products a²·w: with w ~ N(0, 1/500) its spread stays below 1 and σ'(z³) is far from 0 ...
    assert output_sigma_primes(r.text)[0] > 0.05
    # ... with w ~ N(0, 1) the spread is about √(500/3) ≈ 13, and most output neurons saturate
    standard = page_client.post("/runs", data={**form, "init": "standard"}, headers=HX)
    assert "(N(0, 1))" in html.unescape(standard.text)
    assert output_sigma_primes(standard.text)[5] < 0.01


def test_init_is_carried_by_the_permalink(page_client: TestClient) -> None:
    r = page_client.post("/runs", data={**FORM_342, "init": "scaled"}, follow_redirects=False)
    query = parse_qs(urlsplit(r.headers["location"]).query)
    assert query["init"] == ["scaled"]
    page = page_client.get(r.headers["location"])
    assert '<option value="scaled" selected>' in page.text
    net = Network([3, 4, 2], activation="tanh", seed=7, init="scaled")
    assert trace_json(page_client, page.text)["network"]["weights"] == [w.tolist() for w in net.weights]
    assert "seed 7, N(0, 1/n_in)" in html.unescape(page.text)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({}, "w^2 must be 2×2"),  # the sizes did not change: these weights are a mistake
        ({"sizes": "2, 3, 2"}, "w^2 must be 3×2"),  # new sizes, and weights of neither network
    ],
)
def test_weights_that_fit_no_network_are_named_beside_the_weights(
    page_client: TestClient, change: dict[str, str], words: str
) -> None:
    wrong = {"weights": "[[[1, 2, 3], [4, 5, 6]], [[1, 2], [3, 4]]]", "biases": "[[1, 2], [3, 4]]"}
    r = page_client.post("/runs", data={**WORKED_FORM, **wrong, **change}, headers=HX)
    assert r.status_code == 422
    assert words in (error_beside(r.text, "weights") or "")
    assert 'id="config-notice"' not in r.text


def test_new_sizes_with_weights_of_those_sizes_use_the_weights(page_client: TestClient) -> None:
    pasted = {"weights": "[[[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], [[1, 2, 3], [4, 5, 6]]]",
              "biases": "[[1, 2, 3], [4, 5]]"}  # fmt: skip
    r = page_client.post("/runs", data={**WORKED_FORM, **pasted, "sizes": "2, 3, 2"}, headers=HX)
    assert r.status_code == 200 and 'id="config-notice"' not in r.text
    assert trace_json(page_client, r.text)["network"]["weights"][1] == [[1, 2, 3], [4, 5, 6]]


def test_new_sizes_with_another_mistake_keep_the_form_as_typed(page_client: TestClient) -> None:
    r = page_client.post("/runs", data={**WORKED_FORM, "sizes": "3, 3, 2"}, headers=HX)  # x has 2 numbers
    assert r.status_code == 422
    assert "expected 3 numbers" in (error_beside(r.text, "x") or "")
    assert error_beside(r.text, "weights") is None, "the old weights are replaced, not a mistake"
    assert html.escape(default_form()["weights"]) in r.text, "what was typed stays in the form"
    assert '<input type="hidden" name="previous_sizes" value="2, 2, 2">' in r.text, "the network on screen"
    fixed = page_client.post("/runs", data={**WORKED_FORM, "sizes": "3, 3, 2", "x": "1, 2, 3"}, headers=HX)
    assert fixed.status_code == 200 and "New sizes 3-3-2" in fixed.text


def summary(html_text: str) -> str:
    m = re.search(r'<span class="summary-note" id="config-summary">([^<]*)</span>', html_text)
    assert m, "no summary"
    return html.unescape(m.group(1))


def test_the_summary_describes_the_network_on_screen(page_client: TestClient) -> None:
    worked = "2-2-2 · sigmoid · quadratic · η 0.5 · pasted weights"
    assert summary(page_client.get("/").text) == worked
    # a rejected permalink: the worked example is on screen, the rejected texts stay in the form
    r = page_client.get("/", params={**FORM_342, "activation": "sigmod"})
    assert r.status_code == 422 and summary(r.text) == worked
    assert 'value="sigmod"' in r.text
    # a rejected form (htmx): only the form is replaced, the summary above it is not touched
    r = page_client.post("/runs", data={**FORM_342, "activation": "sigmod"}, headers=HX)
    assert r.status_code == 422 and r.headers["hx-retarget"] == "#config"
    assert r.text.lstrip().startswith("{#") is False and 'id="config-summary"' not in r.text
    assert re.match(r'\s*<form id="config"', r.text)
    # an accepted one refreshes it
    r = page_client.post("/runs", data=FORM_342, headers=HX)
    assert summary(r.text) == "3-4-2 · tanh · quadratic · η 0.3 · seed 7, N(0, 1)"
    r = page_client.post("/runs", data={**FORM_342, "activation": "relu, linear", "cost": "quadratic"}, headers=HX)
    assert summary(r.text).startswith("3-4-2 · relu, linear · quadratic")


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"activation": "sigmod"}, "activation",
         "activation: unknown activation 'sigmod'; choose sigmoid, tanh, relu or linear"),
        ({"activation": "tanh, sigmod"}, "activation",
         "activation: unknown activation 'sigmod' (layer 3); choose sigmoid, tanh, relu or linear"),
        ({"cost": "hinge"}, "cost", "cost: unknown cost function 'hinge'; choose quadratic or cross_entropy"),
        ({"init": "xavier"}, "init", "network.init: unknown init 'xavier'; choose standard or scaled"),
    ],
)  # fmt: skip
def test_an_unknown_name_is_said_in_words(
    page_client: TestClient, change: dict[str, str], field: str, message: str
) -> None:
    r = page_client.get("/", params={**FORM_342, **change})
    assert r.status_code == 422
    assert error_beside(r.text, field) == message
    assert "literal[" not in r.text


def test_every_fields_error_is_reported_at_once(page_client: TestClient) -> None:
    # unreadable texts (x), a value out of bounds (η), an unknown name, weights of the wrong shape, a y too short
    bad = {"x": "0.5, nope, 1", "eta": "-1", "activation": "tanh, tanh, tanh", "y": "0.3",
           "weights": "[[[1, 2]], [[1]]]", "biases": "[[1], [2]]"}  # fmt: skip
    r = page_client.post("/runs", data={**FORM_342, **bad}, headers=HX)
    assert r.status_code == 422
    found = {f: error_beside(r.text, f) for f in ("x", "eta", "activation", "y", "weights")}
    assert found == {
        "x": "x: 'nope' is not a number",
        "eta": "eta: Input should be greater than 0",
        "activation": "network.activation: expected one name or 2 names (layers 2..L), got 3",
        "y": "targets[0]: expected 2 numbers (n_3 = 2), got 1",
        "weights": "network.weights[0]: w^2 must be 4×3 (n_2 rows of n_1 numbers), got 1×2",
    }
    # every text reads: the model's checks, which stop at their first problem, still each report theirs
    readable = {"activation": "sigmoid, sigmoid, sigmoid", "x": "1, 2", "y": "2, 3, 4", "cost": "cross_entropy",
                "weights": "[[[1, 2]]]", "biases": "[[1]]"}  # fmt: skip
    r = page_client.post("/runs", data={**FORM_342, **readable}, headers=HX)
    assert {f for f in ("activation", "x", "y", "weights") if error_beside(r.text, f)} == {
        "activation",
        "x",
        "y",
        "weights",
    }


def test_a_huge_width_beside_another_mistake_is_refused_without_building_anything(page_client: TestClient) -> None:
    r = page_client.post("/runs", data={**FORM_342, "sizes": "3000000000, 2", "x": "nope"}, headers=HX)
    assert r.status_code == 422
    assert "less than or equal to" in (error_beside(r.text, "sizes") or "")
    assert error_beside(r.text, "x") == "x: 'nope' is not a number"


MINUS = "\u2212"  # the minus sign the page prints


def test_the_pages_own_minus_sign_is_read_in_every_number_field(page_client: TestClient) -> None:
    ascii_form = {**FORM_342, "x": "0.5, -0.2, 0.1", "y": "0.3, -0.4", "eta": "0.3",
                  "weights": "[[[-0.1, 0.2, 0.3], [0.4, -0.5, 0.6], [0.1, 0.1, -1e-1], [0, 1, -2]],"
                             " [[-1, 0.5, 0.25, -0.125], [0.5, -0.5, 1, -1]]]",
                  "biases": "[[-0.35, 0.35, 0, -1], [0.6, -0.6]]"}  # fmt: skip
    typed = {k: v.replace("-", MINUS) for k, v in ascii_form.items()}
    assert all(MINUS in typed[k] for k in ("x", "y", "weights", "biases"))
    a = page_client.post("/runs", data=ascii_form, headers=HX)
    b = page_client.post("/runs", data=typed, headers=HX)
    assert a.status_code == b.status_code == 200, error_beside(b.text, "weights")
    assert values(last_step(page_client, a.text)) == values(last_step(page_client, b.text))
    # η too: a negative η is read as a number and refused as one
    r = page_client.post("/runs", data={**FORM_342, "eta": f"{MINUS}0.05"}, headers=HX)
    assert error_beside(r.text, "eta") == "eta: Input should be greater than 0"
    r = page_client.post("/runs", data={**FORM_342, "eta": "0.05", "x": f"1e400, {MINUS}0.2, 0"}, headers=HX)
    assert error_beside(r.text, "x") == "x: '1e400' is not a finite number"
    r = page_client.post("/runs", data={**FORM_342, "weights": '[[["0.1"]]]', "biases": "[[1]]"}, headers=HX)
    assert error_beside(r.text, "weights") == "weights: '\"0.1\"' is not a number"


@pytest.mark.parametrize("minus", [MINUS, "\u2013"])  # the page's minus sign and a word processor's en dash
def test_the_instruments_read_every_minus_sign(page_client: TestClient, minus: str) -> None:
    rid = run_id(page_client.get("/").text)
    nudges = f"{minus}0.5, {minus}0.1, 0.1"
    r = page_client.get(f"/instruments/{rid}/demon", params={"nudges": nudges})
    assert r.status_code == 200, r.text
    ascii_r = page_client.get(f"/instruments/{rid}/demon", params={"nudges": "-0.5, -0.1, 0.1"})
    assert re.findall(r'title="([^"]+)"', r.text) == re.findall(r'title="([^"]+)"', ascii_r.text)
    rows = {"inputs": f"0.05, 0.1\n{minus}0.3, 0.2\n0.1, {minus}0.9", "targets": "0.01, 0.99\n0.5, 0.5\n1, 0"}
    r = page_client.get(f"/instruments/{rid}/minibatch", params=rows)
    assert r.status_code == 200, r.text


def iteration_label(html_text: str) -> str:
    m = re.search(r'<span class="iteration" id="iteration"[^>]*>([^<]*)</span>', html_text)
    assert m, "no iteration label"
    return m.group(1)


def test_iterations_are_counted_the_same_way_everywhere(page_client: TestClient) -> None:
    first = page_client.get("/").text
    assert iteration_label(first) == "iteration 0"  # the initial weights' pass
    assert trace_json(page_client, first)["iteration"] == 0
    after_one = page_client.post(f"/runs/{run_id(first)}/next", headers=HX).text
    assert iteration_label(after_one) == "iteration 1"
    link = re.search(r'id="permalink" href="([^"]+)"', after_one).group(1)  # type: ignore[union-attr]
    assert "iteration=1" in link
    fifty = page_client.get("/", params={**default_form(), "iteration": "50"}).text
    assert iteration_label(fifty) == "iteration 50"
    body = trace_json(page_client, fifty)
    assert body["iteration"] == 50 and "iteration=50" in body["permalink"]


def test_a_count_past_any_limit_is_still_a_whole_number_and_gets_the_limits_message() -> None:
    """``by`` of 21 digits (or of 5000, past what int() reads) is a whole number: the refusal says how many
    iterations are left, as for 1001, not that it is no number."""
    client = TestClient(create_app(Settings(max_page_iterations=1000)))
    rid = run_id(client.get("/").text)
    limit = "iteration: the page replays at most 1000 iterations; this run is at 0, so it can run 1000 more, not "
    refusals = {
        "100000000000000000000": limit + "100000000000000000000",
        "1001": limit + "1001",
        "0001001": limit + "1001",
        "9" * 5000: limit + "999999… (5000 digits)",
        "-" + "9" * 40: "by: run 1 or more iterations, got -999999… (40 digits)",
        "00": "by: run 1 or more iterations, got 0",
        "1e30": "by: a whole number of iterations, got '1e30'",
    }
    for by, message in refusals.items():
        r = client.post(f"/runs/{rid}/next", params={"by": by}, headers=HX)
        assert r.status_code == 422 and r.text == message, (by[:30], r.text)
        assert r.headers["hx-retarget"] == "#history-status"
    r = client.post(f"/runs/{rid}/next", params={"by": "0000000000000000000000000000000000000000002"}, headers=HX)
    assert r.status_code == 200 and ">iteration 2<" in r.text


def attribute(page: str, name: str) -> str:
    m = re.search(rf'id="run"[^>]*{name}="([^"]*)"', page)
    assert m, f"no #run with {name}"
    return html.unescape(m.group(1))


def test_a_permalink_keeps_the_step_and_the_line(page_client: TestClient) -> None:
    first = page_client.post("/runs", data=FORM_342, headers=HX).text
    query = attribute(first, "data-query")
    for url in (f"/?{query}&step=5&line=3", f"/?{query}&present=1&step=5&line=3", "/?step=5&line=3"):
        r = page_client.get(url)
        assert r.status_code == 200, url
        assert (attribute(r.text, "data-step"), attribute(r.text, "data-line")) == ("5", "3"), url
        assert 'aria-current="step"' in r.text.split('id="mark-5"')[1].split(">")[0], url
        link = html.unescape(re.search(r'id="permalink" href="([^"]+)"', r.text).group(1))  # type: ignore[union-attr]
        assert parse_qs(urlsplit(link).query)["step"] == ["5"] and parse_qs(urlsplit(link).query)["line"] == ["3"]
    for bad in ("step=8", "step=-1", "step=x", "line=0", "line=10001"):
        r = page_client.get(f"/?{query}&{bad}")
        assert r.status_code == 422 and bad.split("=")[0] + ": a whole number" in html.unescape(r.text), bad


def test_an_unknown_run_whose_address_carries_its_configuration_is_made_again_under_its_id() -> None:
    made, fresh = TestClient(create_app()), TestClient(create_app())  # two processes, each with its own memory
    first = made.post("/runs", data=FORM_342, headers=HX).text
    rid, query = run_id(first), attribute(first, "data-query")
    assert fresh.get(f"/runs/{rid}/steps/4", headers=HX).status_code == 404  # unknown there
    r = fresh.get(f"/runs/{rid}/steps/4?{query}&line=2")
    assert r.status_code == 200 and run_id(r.text) == rid
    assert (attribute(r.text, "data-step"), attribute(r.text, "data-line")) == ("4", "2")
    # the run is stored again: its steps (without the configuration) and its numbers are the first process's
    for k in range(int(attribute(first, "data-steps"))):
        again = fresh.get(f"/runs/{rid}/steps/{k}", headers=HX)
        assert again.status_code == 200 and values(again.text) == values(
            made.get(f"/runs/{rid}/steps/{k}", headers=HX).text
        )
    assert fresh.get(f"/runs/{rid}?{query}&step=3").status_code == 200
    # an id no run could have, or a configuration that does not parse, is still the not-found page
    assert fresh.get(f"/runs/{'x' * 65}/steps/0?{query}").status_code == 404
    assert fresh.get("/runs/gone/steps/0?sizes=2,2,2&x=oops").status_code == 404
    gone = fresh.get("/runs/gone/steps/0")
    assert gone.status_code == 404 and "a server restarted without Redis" in gone.text and 'href="/"' in gone.text
