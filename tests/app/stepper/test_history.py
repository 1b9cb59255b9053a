"""The cost-per-iteration chart and Run 10 / Run 100, against an independent replay of the book's SGD.

The reference is a plain NumPy loop written out here (network.py's feedforward, backprop and update on
one example, quadratic cost ½‖a − y‖²): it shares no code with the engine. The chart's numbers are read
from its SVG: every iteration's C (``data-costs`` of the line), the point read-outs, and the line's
geometry against the axis range the chart states.
"""

from __future__ import annotations

import html
import json
import re

import numpy as np
import pytest
from fastapi.testclient import TestClient
from numpy.typing import NDArray

from backprop_lens.app.core.settings import Settings
from backprop_lens.app.main import create_app
from tests.app.stepper.test_routes import HX, run_id

W = [[[0.15, 0.20], [0.25, 0.30]], [[0.40, 0.45], [0.50, 0.55]]]
B = [[0.35, 0.35], [0.60, 0.60]]
W3 = [
    [[0.9, -1.2, 0.3], [-0.4, 0.8, 1.1], [0.2, 0.1, -0.7], [1.5, -0.3, 0.6]],
    [[0.7, -0.9, 0.4, 1.2], [-1.1, 0.5, 0.3, -0.2]],
]
B3 = [[0.1, -0.2, 0.3, 0.0], [0.05, -0.4]]
CASES = {
    "worked example": ({"sizes": "2, 2, 2", "x": "0.05, 0.1", "y": "0.01, 0.99", "eta": "0.5"}, W, B),
    "3-4-2, large η": ({"sizes": "3, 4, 2", "x": "1, −2, 0.5", "y": "1, 0", "eta": "3"}, W3, B3),
}


def book_sgd_costs(
    weights: list[list[list[float]]], biases: list[list[float]], x: list[float], y: list[float], eta: float, n: int
) -> list[float]:
    """C after 0 … n steps of gradient descent on one example: network.py's loop, written out."""
    ws = [np.array(w, dtype=float) for w in weights]
    bs = [np.array(b, dtype=float).reshape(-1, 1) for b in biases]
    xa, ya = np.array(x, dtype=float).reshape(-1, 1), np.array(y, dtype=float).reshape(-1, 1)

    def sigmoid(z: NDArray[np.float64]) -> NDArray[np.float64]:
        out: NDArray[np.float64] = 1.0 / (1.0 + np.exp(-z))
        return out

    costs = []
    for i in range(n + 1):
        activation, activations, zs = xa, [xa], []
        for w, b in zip(ws, bs, strict=True):
            z = w @ activation + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        costs.append(float(0.5 * np.sum((activations[-1] - ya) ** 2)))
        if i == n:
            break
        delta = (activations[-1] - ya) * sigmoid(zs[-1]) * (1 - sigmoid(zs[-1]))
        nabla_b, nabla_w = [delta], [delta @ activations[-2].T]
        for layer in range(2, len(ws) + 1):
            sp = sigmoid(zs[-layer]) * (1 - sigmoid(zs[-layer]))
            delta = (ws[-layer + 1].T @ delta) * sp
            nabla_b.insert(0, delta)
            nabla_w.insert(0, delta @ activations[-layer - 1].T)
        ws = [w - eta * nw for w, nw in zip(ws, nabla_w, strict=True)]
        bs = [b - eta * nb for b, nb in zip(bs, nabla_b, strict=True)]
    return costs


def form(case: str, iteration: int = 0) -> dict[str, str]:
    fields, w, b = CASES[case]
    out = {**fields, "activation": "sigmoid", "cost": "quadratic", "weights": json.dumps(w), "biases": json.dumps(b)}
    if iteration:
        out["iteration"] = str(iteration)
    return out


def expected(case: str, n: int) -> list[float]:
    fields, w, b = CASES[case]
    num = [float(v.replace("−", "-")) for v in fields["x"].split(",")]
    target = [float(v) for v in fields["y"].split(",")]
    return book_sgd_costs(w, b, num, target, float(fields["eta"]), n)


def plotted(page: str) -> dict[str, object]:
    """What the chart shows: its costs, its points (i, read-out) and its line's geometry, from the SVG."""
    svg = re.search(r'<svg id="history-chart".*?</svg>', page, re.DOTALL)
    assert svg, "no chart"
    text = svg.group(0)
    attrs = {k: float(v) for k, v in re.findall(r'data-(lo|hi|top|bottom)="([^"]+)"', text)}
    line = re.search(r'points="([^"]+)" data-costs="([^"]+)"', text)
    assert line
    xy = [tuple(float(v) for v in p.split(",")) for p in line.group(1).split()]
    costs = [float(c) for c in line.group(2).split()]
    titles = [(int(i), html.unescape(t)) for i, t in re.findall(r'data-i="(\d+)"[^>]*><title>([^<]+)</title>', text)]
    shown = re.search(r'data-readouts="([^"]+)"', text)
    assert shown
    readouts = [float(v.replace("−", "-")) for v in html.unescape(shown.group(1)).split(" ")]
    return {"costs": costs, "xy": xy, "attrs": attrs, "titles": titles, "readouts": readouts}


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app())


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("n", [0, 1, 7, 150])
def test_the_chart_plots_the_cost_of_every_iteration_of_the_books_sgd(client: TestClient, case: str, n: int) -> None:
    r = client.get("/", params=form(case, n))
    assert r.status_code == 200
    chart = plotted(r.text)
    reference = expected(case, n)
    assert chart["costs"] == pytest.approx(reference, rel=1e-12, abs=1e-15)
    attrs = chart["attrs"]
    assert isinstance(attrs, dict) and attrs["lo"] == 0 and attrs["hi"] == pytest.approx(max(reference), rel=1e-12)
    xy = chart["xy"]
    assert isinstance(xy, list) and len(xy) == n + 1
    for (_, y), c in zip(xy, reference, strict=True):  # each point's height is its cost on the stated axis
        assert y == pytest.approx(attrs["bottom"] - (attrs["bottom"] - attrs["top"]) * c / attrs["hi"], abs=0.006)
    assert [x for x, _ in xy] == sorted(x for x, _ in xy)
    titles = chart["titles"]
    assert isinstance(titles, list) and titles and titles[-1][0] == n
    for i, title in titles:
        assert title.startswith(f"iteration {i}: C = ")
        assert float(title.split("= ")[1].replace("−", "-")) == pytest.approx(reference[i], rel=6e-6)
    # every iteration, dotted or not, has the read-out the pointer shows (lens.js picks it by x)
    readouts = chart["readouts"]
    assert isinstance(readouts, list) and len(readouts) == n + 1
    for shown, c in zip(readouts, reference, strict=True):
        assert shown == pytest.approx(c, rel=6e-6)
    if n == 150:  # the dots are thinned past 100 iterations, and the chart says so
        assert "A dot every 2 iterations; the line has every iteration." in r.text
        assert "a dot every 2 iterations; point at the line for any" in r.text


def test_run_10_and_run_100_land_where_they_say_and_the_permalink_restores_the_chart(client: TestClient) -> None:
    page = client.get("/", params=form("3-4-2, large η", 3)).text
    r = client.post(f"/runs/{run_id(page)}/next?by=10", headers=HX)
    assert r.status_code == 200 and ">iteration 13<" in r.text
    assert 'data-step="0"' in r.text  # the last iteration's steps, from the first
    r = client.post(f"/runs/{run_id(r.text)}/next?by=100", headers=HX)
    assert r.status_code == 200 and ">iteration 113<" in r.text
    chart = plotted(r.text)
    assert chart["costs"] == pytest.approx(expected("3-4-2, large η", 113), rel=1e-12, abs=1e-15)
    r1 = client.post(f"/runs/{run_id(r.text)}/next", headers=HX)
    assert ">iteration 114<" in r1.text
    link = html.unescape(re.search(r'id="permalink" href="([^"]+)"', r.text).group(1))  # type: ignore[union-attr]
    assert "iteration=113" in link
    assert plotted(client.get(link).text)["costs"] == chart["costs"]
    # the trace's own cost before the update is the chart's last point
    body = client.get(f"/runs/{run_id(r.text)}/trace.json").json()
    assert body["iteration"] == 113 and body["cost_before"] == pytest.approx(chart["costs"][-1], rel=1e-12)  # type: ignore[index]


def test_more_iterations_than_the_page_replays_is_a_clear_422() -> None:
    client = TestClient(create_app(Settings(max_page_iterations=50)))
    page = client.get("/", params=form("worked example", 45)).text
    assert re.search(r'id="btn-run-10"[^>]*disabled', page) and re.search(r'id="btn-run-100"[^>]*disabled', page)
    assert not re.search(r'id="btn-run-1"[^>]*disabled', page)
    r = client.post(f"/runs/{run_id(page)}/next?by=10", headers=HX)
    assert r.status_code == 422
    assert (
        r.text == "iteration: the page replays at most 50 iterations; this run is at 45, so it can run 5 more, not 10"
    )
    assert r.headers["hx-retarget"] == "#history-status"
    refusals = {
        "0": "by: run 1 or more iterations, got 0",
        "-5": "by: run 1 or more iterations, got -5",
        "abc": "by: a whole number of iterations, got 'abc'",
        "1.5": "by: a whole number of iterations, got '1.5'",
        "": "by: a whole number of iterations, got ''",
    }
    for by, message in refusals.items():  # every bad count is the limit's kind of 422, naming its problem
        for headers in (HX, {}):
            r = client.post(f"/runs/{run_id(page)}/next", params={"by": by}, headers=headers)
            assert r.status_code == 422 and r.text == message, (by, r.text)
            assert r.headers["content-type"].startswith("text/html")
            assert r.headers["hx-retarget"] == "#history-status" and r.headers["hx-reswap"] == "innerHTML"
    r = client.post(f"/runs/{run_id(page)}/next?by=5", headers=HX)
    assert r.status_code == 200 and ">iteration 50<" in r.text
    assert re.search(r'id="btn-run-1"[^>]*disabled', r.text)
