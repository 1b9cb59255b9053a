"""The training routes: the page, runs, the progress stream (and stopping on disconnect), controls,
inspect, errors and the ``train`` command, each number checked against an independent computation."""

from __future__ import annotations

import json
import re
import threading
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pytest
from fastapi.testclient import TestClient

from backprop_lens.app.cli import main as cli_main
from backprop_lens.app.core.settings import Settings
from backprop_lens.app.main import create_app
from backprop_lens.app.stepper.form import parse_form
from backprop_lens.app.training.store import TrainingStore
from backprop_lens.bench.baseline import backprop_per_example
from backprop_lens.engine import Network
from backprop_lens.engine.datasets import digits, generated
from backprop_lens.engine.sgd import SGD
from tests.app.core.test_metrics import scrape

FORM: dict[str, str] = {
    "dataset": "xor",
    "points": "40",
    "noise": "0.1",
    "test_fraction": "0.25",
    "hidden": "4",
    "activation": "sigmoid",
    "output_activation": "sigmoid",
    "init": "scaled",
    "cost": "cross_entropy",
    "epochs": "20",
    "batch": "4",
    "eta": "2",
    "seed": "3",
    "delay_ms": "0",
    "csv": "",
}
HX = {"hx-request": "true"}


def sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


def start(client: TestClient, **changes: str) -> str:
    r = client.post("/train/runs", data={**FORM, **changes}, headers=HX)
    assert r.status_code == 200, r.text
    match = re.search(r'data-stream="/train/runs/([A-Za-z0-9_-]+)/events"', r.text)
    assert match is not None
    return match.group(1)


def trainings(client: TestClient) -> TrainingStore:
    store: TrainingStore = client.app.state.trainings  # type: ignore[attr-defined]
    return store


def read_events(client: TestClient, run_id: str, limit: int = 10_000) -> list[tuple[str, dict[str, Any]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    name = ""
    with client.stream("GET", f"/train/runs/{run_id}/events") as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("event:"):
                name = line.removeprefix("event:").strip()
            elif line.startswith("data:"):
                events.append((name, json.loads(line.removeprefix("data:"))))
                if len(events) >= limit:
                    break
    return events


def cost_after_one_step(network: dict[str, Any], x: np.ndarray, y: np.ndarray, eta: float) -> tuple[float, float]:
    """Cross-entropy of one example before and after one gradient step on it alone, sigmoid layers, written out."""
    W = [np.array(w) for w in network["weights"]]
    B = [np.array(b).reshape(-1, 1) for b in network["biases"]]

    def acts(W: list[np.ndarray], B: list[np.ndarray]) -> list[np.ndarray]:
        a = [x.reshape(-1, 1)]
        for w, b in zip(W, B, strict=True):
            a.append(sigmoid(w @ a[-1] + b))
        return a

    def cost(a: np.ndarray) -> float:
        t = y.reshape(-1, 1)
        return float(np.sum(-t * np.log(a) - (1 - t) * np.log(1 - a)))

    a = acts(W, B)
    delta = a[-1] - y.reshape(-1, 1)
    nw, nb = [np.zeros_like(w) for w in W], [np.zeros_like(b) for b in B]
    for layer in range(len(W) - 1, -1, -1):
        nw[layer], nb[layer] = delta @ a[layer].T, delta
        if layer:
            delta = (W[layer].T @ delta) * a[layer] * (1 - a[layer])
    W2 = [w - eta * g for w, g in zip(W, nw, strict=True)]
    B2 = [b - eta * g for b, g in zip(B, nb, strict=True)]
    return cost(a[-1]), cost(acts(W2, B2)[-1])


def inspected_costs(html: str) -> tuple[str, float, float]:
    """The η, C_x and C_x after one step that Inspect shows (full precision from their data-value)."""
    match = re.search(
        r'data-value="([^"]+)"[^>]*>[^<]*</span>\s*\([^)]*\); one step with η = ([^ ]+) on it alone would make it\s*'
        r'<span id="train-inspect-cost-after" class="num" data-value="([^"]+)"',
        html,
    )
    assert match is not None, html
    return match.group(2), float(match.group(1)), float(match.group(3))


SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")


def read_number(text: str) -> float:
    """A number as the page writes it for people: "−0.0246", "1.5×10⁻⁵"."""
    mantissa, _, power = text.strip().partition("×10")
    value = float(mantissa.replace("−", "-"))
    return value * 10.0 ** int(power.translate(SUPERSCRIPTS)) if power else value


def written(v: float, sig: int) -> str:
    """How the app writes v for people, spelt out here: sig significant digits as %g, ×10ⁿ, U+2212, no −0."""
    if v == 0:
        return "0"
    text = f"{v:.{sig}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = mantissa + "×10" + str(int(exponent)).translate(str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻"))
    return text.replace("-", "\u2212")


def test_inspect_writes_numbers_with_the_apps_minus_sign(client: TestClient) -> None:
    """Every number Inspect shows (text and tooltips) has U+2212 for minus, never an ASCII hyphen before a
    digit, and each a and δ is the JSON network's forward and backward pass, written as the app writes it."""
    run_id = start(client, epochs="3")
    read_events(client, run_id)
    html = client.post(f"/train/runs/{run_id}/inspect", data={"split": "train", "example": "2"}).text
    fragment = html[html.index('id="train-inspect-result"') : html.index("The same numbers, step by step")]
    text = unescape(re.sub(r"<[^>]+>", " ", fragment))
    titles = [unescape(t) for t in re.findall(r'title="([^"]*)"', fragment)]
    for part in (text, *titles):
        assert not re.search(r"-\d", part), part
    assert "\u2212" in text  # a negative δ at least: the written minus is there to check
    # the numbers by hand: sigmoid layers, cross-entropy (δᴸ = a − y), from the downloaded network
    net = client.get(f"/train/runs/{run_id}/network.json").json()
    data = generated("xor", 40, 0.1, 0.25, 3)
    a = [data.x_train[1].reshape(-1, 1)]
    for w, b in zip(net["weights"], net["biases"], strict=True):
        a.append(sigmoid(np.array(w) @ a[-1] + np.array(b).reshape(-1, 1)))
    deltas = [a[-1] - data.y_train[1].reshape(-1, 1)]
    for w, act in zip(reversed(net["weights"][1:]), reversed(a[1:-1]), strict=True):
        deltas.insert(0, (np.array(w).T @ deltas[0]) * act * (1 - act))
    for q, expected in (("a", a[1:]), ("delta", deltas)):
        cells = re.findall(rf'<span data-q="{q}" data-value="([^"]+)" title="([^"]+)">([^<]+)</span>', fragment)
        want = [float(v) for layer in expected for v in layer.ravel()]
        assert len(cells) == len(want), q
        for (value, title, shown), v in zip(cells, want, strict=True):
            assert float(value) == pytest.approx(v, rel=1e-9, abs=1e-15)
            assert shown == written(float(value), 3) and title == written(float(value), 6)
    assert any(
        float(value) < 0
        for value, _, _ in re.findall(r'data-q="delta" data-value="([^"]+)" title="([^"]+)">([^<]+)<', fragment)
    )


def _header(html: str) -> str:
    match = re.search(r'<header class="top">.*?</header>', html, re.S)
    assert match is not None, "no page header"
    return match.group(0)


def _meta(html: str, name: str) -> str:
    match = re.search(rf'<meta name="{name}" content=\'([^\']*)\'>', html)
    assert match is not None, f"no {name} meta"
    return match.group(1)


def test_page_extends_the_base_page_and_is_csp_clean(client: TestClient) -> None:
    r = client.get("/train")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html, home = r.text, client.get("/").text
    # the same header as the step-through page, with its links home, to training and to the API docs
    assert _header(html) == _header(home) and 'href="/docs"' in _header(html) and 'href="/"' in _header(html)
    assert _meta(html, "htmx-config") == _meta(home, "htmx-config")
    assert '"history": false' in _meta(html, "htmx-config")
    assert '<main id="main">' in html and 'class="skip" href="#main"' in html
    assert 'id="train-form"' in html and 'id="train-run"' in html
    assert "style=" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "no inline script"
    assert not re.search(r"\son[a-z]+=", html), "no inline event handlers"
    assert "/static/js/train.js" in html and "/static/vendor/htmx.min.js" in html


def test_a_run_streams_progress_and_ends_with_done(client: TestClient) -> None:
    run_id = start(client)
    events = read_events(client, run_id)
    names = [n for n, _ in events]
    assert names[-1] == "done" and set(names[:-1]) <= {"progress"}
    done = events[-1][1]
    assert done["state"] == "finished" and done["fraction"] == 1.0 and done["epoch"] == 20
    history = [h for _, e in events for h in e["history"]]
    assert [h["epoch"] for h in history] == list(range(1, 21))

    # The wiring, not the arithmetic: the route trains bit for bit as the engine's SGD on the same data and
    # network (SGD itself is checked against the book's loop, written out independently, in
    # tests/engine/test_training.py); the cost and accuracy are then recomputed here by hand.
    data = generated("xor", 40, 0.1, 0.25, 3)
    net = SGD(Network([2, 4, 1], seed=3, init="scaled"), data.x_train, data.y_train, 20, 4, 2.0, "cross_entropy", 3)
    assert client.get(f"/train/runs/{run_id}/network.json").json()["weights"] == [w.tolist() for w in net.weights]
    w2, b2, w3, b3 = net.weights[0], net.biases[0], net.weights[1], net.biases[1]

    def out(x: np.ndarray) -> np.ndarray:
        return sigmoid(sigmoid(x @ w2.T + b2) @ w3.T + b3)

    a, y = out(data.x_train), data.y_train
    cross_entropy = float(np.mean(-np.sum(y * np.log(a) + (1 - y) * np.log(1 - a), axis=1)))
    assert history[-1]["cost"] == pytest.approx(cross_entropy, rel=1e-12)
    right = int(np.sum((out(data.x_test)[:, 0] >= 0.5) == (data.y_test[:, 0] == 1)))
    assert history[-1]["test_accuracy"] == right / 10

    # the heat map: cell (row 0, column 0) is the top-left cell centre of the padded bounds
    x_all = np.vstack([data.x_train, data.x_test])
    lo, hi = x_all.min(axis=0), x_all.max(axis=0)
    lo, hi = lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo)
    n = len(done["grid"])
    corner = np.array([[lo[0] + (hi[0] - lo[0]) / (2 * n), hi[1] - (hi[1] - lo[1]) / (2 * n)]])
    assert done["grid"][0][0] == pytest.approx(float(out(corner)[0, 0]), rel=1e-12)


@pytest.mark.parametrize("epochs", ["1", "3"])
def test_each_epoch_is_sent_once(client: TestClient, epochs: str) -> None:
    """The final state goes in `done` alone: the last epochs are not sent in a `progress` event as well.

    A run this short publishes nothing between its first mini-batch and its end (reports come at most
    every 0.1 s), so its last epoch always arrives with the final state: the case that was sent twice.
    """
    run_id = start(client, epochs=epochs)
    events = read_events(client, run_id)
    assert events[-1][0] == "done" and [n for n, _ in events].count("done") == 1
    sent = [h["epoch"] for _, e in events for h in e["history"]]
    assert sent == list(range(1, int(epochs) + 1))
    assert events[-1][1]["history"], "the last epoch comes with the final state"


def test_closing_the_stream_stops_the_training(client: TestClient) -> None:
    run_id = start(client, epochs="10000", delay_ms="20")
    session = trainings(client).get(run_id).session
    events = read_events(client, run_id, limit=1)  # leaving the `with` block disconnects
    assert events[0][0] == "progress"
    session.join(10)
    report = session.report()
    assert report.state == "stopped" and report.epoch < 10_000
    assert report.message is not None and "page was closed" in report.message


def test_pause_resume_and_stop(client: TestClient) -> None:
    run_id = start(client, epochs="10000", delay_ms="5")
    session = trainings(client).get(run_id).session
    result: list[list[tuple[str, dict[str, Any]]]] = []
    reader = threading.Thread(target=lambda: result.append(read_events(client, run_id)))
    reader.start()
    r = client.post(f"/train/runs/{run_id}/controls/pause")
    assert r.status_code == 200 and 'id="train-resume"' in r.text and session.paused
    r = client.post(f"/train/runs/{run_id}/controls/resume")
    assert 'id="train-pause"' in r.text and not session.paused
    r = client.post(f"/train/runs/{run_id}/controls/stop")
    assert r.status_code == 200
    reader.join(20)
    assert not reader.is_alive()
    name, last = result[0][-1]
    assert name == "done" and last["state"] == "stopped" and "stopped by you" in last["message"]


def test_divergence_is_reported_with_the_epoch_and_the_cause(client: TestClient) -> None:
    run_id = start(client, activation="linear", output_activation="linear", cost="quadratic", eta="500", epochs="30")
    name, done = read_events(client, run_id)[-1]
    assert name == "done" and done["state"] == "diverged"
    assert re.match(r"Training diverged in epoch \d+: the cost became", done["message"])
    assert "η = 500" in done["message"] and "too large" in done["message"]
    weights = client.get(f"/train/runs/{run_id}/network.json").json()["weights"]
    assert all(np.isfinite(np.array(w)).all() for w in weights)


def test_inspect_a_digit_shows_bp4_images(client: TestClient) -> None:
    run_id = start(client, dataset="digits", hidden="30", epochs="1", eta="1", seed="0", test_fraction="0.2")
    read_events(client, run_id)
    r = client.post(f"/train/runs/{run_id}/inspect", data={"split": "test", "example": "6"})
    assert r.status_code == 200
    html = r.text
    assert "Example 6 of the test set" in html
    net_json = client.get(f"/train/runs/{run_id}/network.json").json()
    net = Network(net_json["sizes"], weights=net_json["weights"], biases=net_json["biases"])
    data = digits(0.2, 0)
    x, y = data.x_test[5:6], data.y_test[5:6]
    cost, nabla_w, _ = backprop_per_example(net, x, y, "cross_entropy")
    shown = re.search(r'id="train-inspect-cost" class="num" data-value="([^"]+)"', html)
    assert shown is not None and float(shown.group(1)) == pytest.approx(cost, rel=1e-12)
    assert html.count('class="train-grad"') == 30
    # BP4 by the per-example loop: neuron 1's image is the input scaled by δ_1; the cells carry the values
    cells = re.findall(r'aria-label="dC/dw of hidden neuron 1">(.*?)</svg>', html, re.S)[0]
    values = [read_number(v) for v in re.findall(r"<title>([^<]+)</title>", cells)]
    np.testing.assert_allclose(values, nabla_w[0][0], rtol=1e-3, atol=1e-12)
    assert str(int(y.argmax())) in re.search(r"target <b>(\d)</b>", html).group(1)  # type: ignore[union-attr]
    assert 'id="train-step-through"' not in html and "too large to pass to the step-through" in html


def test_inspect_links_to_the_step_through_with_the_current_weights(client: TestClient) -> None:
    run_id = start(client, epochs="5")
    read_events(client, run_id)
    html = client.post(f"/train/runs/{run_id}/inspect", data={"split": "train", "example": "4"}).text
    match = re.search(r'id="train-step-through" class="train-step-through" href="([^"]+)"', html)
    assert match is not None
    link = match.group(1).replace("&amp;", "&")
    query = dict(parse_qsl(urlsplit(link).query))
    page = parse_form(query, 8, 0)  # the step-through page's own reading of its permalink
    network = client.get(f"/train/runs/{run_id}/network.json").json()
    assert page.request.network.weights == network["weights"] and page.request.network.biases == network["biases"]
    data = generated("xor", 40, 0.1, 0.25, 3)
    assert page.request.inputs == [data.x_train[3].tolist()] and page.request.targets == [data.y_train[3].tolist()]
    assert page.request.cost_function == "cross_entropy" and page.request.eta == 2.0
    assert client.get(link).status_code == 200


def inspect_error(html: str) -> str:
    """The one error of an Inspect or η answer."""
    found = re.findall(r'class="error train-error" role="alert">(.*?)</p>', html, re.S)
    assert len(found) == 1, html
    return unescape(found[0])


def field_errors(html: str) -> dict[str, str]:
    """The error shown beside each field of the form: {"eta": "eta: …"}."""
    found = re.findall(r'<p id="e-([a-z_]+)" class="error train-error" role="alert">(.*?)</p>', html, re.S)
    return {field: unescape(text) for field, text in found}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"hidden": "4,x"}, "hidden", "Hidden layers: 'x' is not a number; give widths like 30 or 8,8"),
        ({"hidden": "4.5"}, "hidden", "Hidden layers: '4.5' is not a whole number"),
        ({"eta": "nan"}, "eta", "η: 'nan' is not a finite number"),
        ({"eta": "0"}, "eta", "η: give a number greater than 0 and at most 1000"),
        ({"eta": ""}, "eta", "η: give a number"),
        ({"epochs": "100000"}, "epochs", "Epochs: give a whole number from 1 to 10000"),
        ({"epochs": "2.5"}, "epochs", "Epochs: give a whole number from 1 to 10000"),
        ({"output_activation": "relu"}, "output_activation", "σ output: the cross-entropy cost needs a sigmoid"),
        ({"dataset": "csv"}, "csv", "CSV: paste or choose a CSV file"),
        ({"dataset": "csv", "csv": "1,a\n2,b\nz,a\n"}, "csv", "CSV line 3, column 1: 'z' is not a finite number"),
        ({"dataset": "iris"}, "dataset", "Data set: unknown dataset 'iris'; choose xor, moons"),
        (
            {"hidden": "1000,1000"},
            "hidden",
            "Hidden layers: the network [2, 1000, 1000, 1] has 1005001 weights and biases",
        ),
        ({"bogus": "1"}, "form", "form: this form has no field bogus"),
    ],
)
def test_bad_forms_get_a_422_naming_the_field_beside_it(
    client: TestClient, changes: dict[str, str], field: str, message: str
) -> None:
    r = client.post("/train/runs", data={**FORM, **changes}, headers=HX)
    assert r.status_code == 422
    assert r.headers["hx-retarget"] == "#train-form" and r.headers["hx-reswap"] == "outerHTML"
    errors = field_errors(r.text)
    assert list(errors) == [field] and errors[field].startswith(message), errors
    if field != "form":
        assert re.search(rf'name="{field}"[^>]* aria-invalid="true" aria-describedby="e-{field}"', r.text)


def test_every_bad_field_is_shown_at_once_with_what_was_typed(client: TestClient) -> None:
    typed = {"hidden": "8,x", "eta": "abc", "epochs": "0", "noise": "−0.5", "seed": "1.5"}
    r = client.post("/train/runs", data={**FORM, **typed}, headers=HX)
    assert r.status_code == 422
    assert field_errors(r.text) == {
        "hidden": "Hidden layers: 'x' is not a number; give widths like 30 or 8,8",
        "eta": "η: 'abc' is not a number",
        "epochs": "Epochs: give a whole number from 1 to 10000",
        "noise": "Noise σ: give a number from 0 to 1",
        "seed": "Seed: give a whole number from 0 to 4294967295",
    }
    for field, text in typed.items():  # the form comes back as typed, to be corrected
        assert re.search(rf'name="{field}" value="{re.escape(text)}"', r.text), field
    # without htmx: the whole page, the same errors beside their fields
    r = client.post("/train/runs", data={**FORM, **typed})
    assert r.status_code == 422 and "<!doctype html>" in r.text and len(field_errors(r.text)) == 5


def test_numbers_are_read_as_the_step_through_page_reads_them(client: TestClient) -> None:
    """The page's own minus sign, exponents and spaces: app.forms.read_number reads every number field."""
    r = client.post("/train/runs", data={**FORM, "eta": "\u22120.05"}, headers=HX)
    assert r.status_code == 422  # read as −0.05, so the bound is what is wrong, not the text
    assert field_errors(r.text) == {"eta": "η: give a number greater than 0 and at most 1000"}
    changes = {"eta": " 2.5e-1 ", "epochs": "2e1", "test_fraction": "0.25", "hidden": "3; 2", "seed": "7"}
    run_id = start(client, **changes)
    read_events(client, run_id)  # (a run holds a training slot until its stream has run)
    config = trainings(client).get(run_id).config
    assert (config.eta, config.epochs, config.hidden, config.seed) == (0.25, 20, [3, 2], 7)
    # a successful run sends the form again without the errors of an earlier attempt
    r = client.post("/train/runs", data={**FORM, **changes}, headers=HX)
    assert r.status_code == 200 and 'id="train-form"' in r.text and 'hx-swap-oob="true"' in r.text
    assert field_errors(r.text) == {}
    read_events(client, re.findall(r"/train/runs/([A-Za-z0-9_-]+)/events", r.text)[0])


def test_examples_are_numbered_from_one_as_on_the_step_through_page(client: TestClient) -> None:
    r = client.post("/train/runs", data={**FORM, "epochs": "1"}, headers=HX)
    assert re.search(r'<input id="i-example" name="example" value="1"', r.text)
    hint = re.search(
        r'<small id="i-example-hint" class="hint" data-train="(\d+)" data-test="(\d+)">([^<]*)</small>', r.text
    )
    assert hint is not None and hint.groups() == ("30", "10", "1 to 30")  # 40 points, a quarter held out
    assert 'id="train-eta-value" name="eta" value="2" ' in r.text
    run_id = re.findall(r"/train/runs/([A-Za-z0-9_-]+)/events", r.text)[0]
    read_events(client, run_id)
    data = generated("xor", 40, 0.1, 0.25, 3)
    html = client.post(f"/train/runs/{run_id}/inspect", data={"split": "train", "example": "1"}).text
    assert "Example 1 of the training set" in html
    assert inspected_costs(html)[0] == "2"  # η as the form says it, not "2.0"
    x_text = re.findall(r'<p id="train-inspect-x" class="num">\((.*?)\)</p>', html)[0]
    shown = [read_number(re.sub(r"<[^>]+>", "", v)) for v in x_text.split(", ")]
    np.testing.assert_allclose(shown, data.x_train[0], rtol=1e-3)  # example 1 is the first row
    html = client.post(f"/train/runs/{run_id}/inspect", data={"split": "train", "example": "30"}).text
    assert "Example 30 of the training set" in html
    r = client.post(f"/train/runs/{run_id}/inspect", data={"split": "train", "example": "0"})
    within = "example: the training set has 30 examples; give a whole number from 1 to 30"
    assert r.status_code == 422 and inspect_error(r.text) == within
    for wrong in ("31", "2.5", "-3", "1e30"):  # every whole or fractional number out of 1 … 30 gets the same words
        r = client.post(f"/train/runs/{run_id}/inspect", data={"split": "train", "example": wrong})
        assert r.status_code == 422 and inspect_error(r.text) == within, wrong
    r = client.post(f"/train/runs/{run_id}/inspect", data={"split": "test", "example": "0"})
    assert inspect_error(r.text) == "example: the test set has 10 examples; give a whole number from 1 to 10"
    for typed, message in (("", "example: give a number"), ("abc", "example: 'abc' is not a number")):
        r = client.post(f"/train/runs/{run_id}/inspect", data={"split": "train", "example": typed})
        assert r.status_code == 422 and inspect_error(r.text) == message
    r = client.post(f"/train/runs/{run_id}/inspect", data={"split": "train", "example": "1", "bogus": "1"})
    assert r.status_code == 422 and inspect_error(r.text) == "form: this form has no field bogus"


def test_other_errors(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    r = client.post("/train/runs", json=FORM)
    assert r.status_code == 415 and r.json()["message"].startswith("body: expected a form")
    r = client.post("/train/runs", content="&".join(f"f{i}=1" for i in range(100)), headers={
        "content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert r.status_code == 422 and r.json()["message"] == "body: more than 64 form fields"
    assert client.get("/train/runs/unknown123/network.json").status_code == 404
    assert client.post("/train/runs/unknown123/controls/pause").status_code == 404
    run_id = start(client, epochs="1")
    assert client.post(f"/train/runs/{run_id}/controls/jump").status_code == 422
    r = client.post(f"/train/runs/{run_id}/inspect", data={"split": "test", "example": "11"})
    assert r.status_code == 422
    assert inspect_error(r.text) == "example: the test set has 10 examples; give a whole number from 1 to 10"
    with TestClient(create_app(Settings(max_trainings=1))) as one:  # an app of its own, with one training slot
        start(one)
        r = one.post("/train/runs", data=FORM, headers=HX)
    assert r.status_code == 429 and field_errors(r.text)["form"].startswith("training: 1 trainings are running")


def test_csv_run_and_full_page_without_htmx(client: TestClient) -> None:
    csv = "a,b,label\n" + "\n".join(f"{i % 7},{i % 3},{'yes' if i % 2 else 'no'}" for i in range(30))
    r = client.post("/train/runs", data={**FORM, "dataset": "csv", "csv": csv, "epochs": "2"})
    assert r.status_code == 200 and "<!doctype html>" in r.text and 'id="train-run-panel"' in r.text
    assert r.headers["vary"] in ("HX-Request", "HX-Request, Accept-Encoding")  # the second when compressed


def test_two_features_and_three_classes_draw_no_boundary(client: TestClient) -> None:
    csv = "\n".join(f"{i % 4},{i % 5},{'abc'[i % 3]}" for i in range(30))
    r = client.post("/train/runs", data={**FORM, "dataset": "csv", "csv": csv, "epochs": "2"}, headers=HX)
    assert r.status_code == 200 and 'data-kind="plain"' in r.text and "train-boundary" not in r.text
    run_id = re.search(r"/train/runs/([A-Za-z0-9_-]+)/events", r.text).group(1)  # type: ignore[union-attr]
    done = read_events(client, run_id)[-1][1]
    assert done["grid"] is None and done["network"]["sizes"] == [2, 4, 3]


def test_cli_trains_saves_and_reports_divergence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "net.json"
    args = ["train", "--dataset", "xor", "--points", "4", "--noise", "0", "--test-fraction", "0", "--sizes", "2,4,1",
            "--init", "standard", "--cost", "quadratic", "--eta", "4", "--batch", "4", "--epochs", "600"]  # fmt: skip
    assert cli_main([*args, "--save", str(out)]) == 0
    text = capsys.readouterr().out
    last = next(line for line in text.splitlines() if "epoch 600/600" in line)
    assert last.startswith("[########################]") and "train 100.0%" in last
    saved = json.loads(out.read_text())
    net = Network(saved["sizes"], weights=saved["weights"], biases=saved["biases"])
    data = generated("xor", 4, 0.0, 0.0, 0)
    cost, _, _ = backprop_per_example(net, data.x_train, data.y_train, "quadratic")
    assert cost < 0.01 and f"cost {cost:.6f}" in last

    assert cli_main(["train", "--sizes", "2,4,1", "--eta", "500", "--activation", "linear",
                     "--output-activation", "linear", "--cost", "quadratic"]) == 1  # fmt: skip
    assert "Training diverged in epoch 1" in capsys.readouterr().err
    assert cli_main(["train", "--dataset", "digits", "--sizes", "64,30,9"]) == 2
    assert "sizes must start with 64 and end with 10" in capsys.readouterr().err


def _network2(
    W: list[np.ndarray],
    B: list[np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
    epochs: int,
    m: int,
    eta: float,
    lmbda: float,
    seed: int,
) -> list[dict[str, Any]]:
    """The book's network2.py written out here: sigmoid layers, cross-entropy (δ^L = a − y), L2's eq. 93, one
    example at a time as column vectors. Per epoch: the weights, each layer's mean over the epoch's mini-batches
    of mean_j |∂C/∂b^l_j| and the mean ∂C₀/∂w. Shuffled as engine.sgd documents (one generator, a permutation
    per epoch)."""  # fmt: skip
    W = [w.copy() for w in W]
    B = [b.reshape(-1, 1).copy() for b in B]
    n = len(X)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(epochs):
        order = rng.permutation(n)
        speeds = np.zeros(len(W))
        grads = [np.zeros_like(w) for w in W]
        batches = 0
        for k in range(0, n, m):
            idx = order[k : k + m]
            nw = [np.zeros_like(w) for w in W]
            nb = [np.zeros_like(b) for b in B]
            for i in idx:
                acts = [X[i].reshape(-1, 1)]
                for w, b in zip(W, B, strict=True):
                    acts.append(sigmoid(w @ acts[-1] + b))
                delta = acts[-1] - Y[i].reshape(-1, 1)
                for layer in range(len(W) - 1, -1, -1):
                    nb[layer] += delta
                    nw[layer] += delta @ acts[layer].T
                    if layer:
                        delta = (W[layer].T @ delta) * acts[layer] * (1 - acts[layer])
            size = len(idx)
            speeds += [float(np.mean(np.abs(b / size))) for b in nb]
            grads = [g + w / size for g, w in zip(grads, nw, strict=True)]
            batches += 1
            W = [(1 - eta * lmbda / n) * w - eta / size * g for w, g in zip(W, nw, strict=True)]
            B = [b - eta / size * g for b, g in zip(B, nb, strict=True)]
        out.append({"W": [w.copy() for w in W], "B": [b.ravel().copy() for b in B], "speeds": speeds / batches,
                    "grads": [g / batches for g in grads]})  # fmt: skip
    return out


def _forward(W: list[np.ndarray], B: list[np.ndarray], x: np.ndarray) -> list[np.ndarray]:
    """Every layer's activations for the rows of x (sigmoid throughout)."""
    acts = [x]
    for w, b in zip(W, B, strict=True):
        acts.append(sigmoid(acts[-1] @ w.T + b))
    return acts


def _cross_entropy(a: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(-np.sum(y * np.log(a) + (1 - y) * np.log(1 - a), axis=1)))


def test_every_plotted_number_equals_network2s_loop_with_l2(client: TestClient) -> None:
    """Training and test cost, layer speeds and η per epoch; the last epoch's mean ∂C/∂w; each hidden neuron's
    heat map: all from one run with two hidden layers and λ = 3, against the loop and forward pass above."""
    run_id = start(client, hidden="3,2", epochs="6", lmbda="3", eta="1.5")
    events = read_events(client, run_id)
    done = events[-1][1]
    history = [h for _, e in events for h in e["history"]]
    assert [h["epoch"] for h in history] == list(range(1, 7))
    data = generated("xor", 40, 0.1, 0.25, 3)
    start_net = Network([2, 3, 2, 1], seed=3, init="scaled")  # only its initial weights
    book = _network2(start_net.weights, start_net.biases, data.x_train, data.y_train, 6, 4, 1.5, 3.0, seed=3)
    for h, epoch in zip(history, book, strict=True):
        W, B = epoch["W"], epoch["B"]
        assert h["cost"] == pytest.approx(_cross_entropy(_forward(W, B, data.x_train)[-1], data.y_train), rel=1e-10)
        assert h["test_cost"] == pytest.approx(_cross_entropy(_forward(W, B, data.x_test)[-1], data.y_test), rel=1e-10)
        np.testing.assert_allclose(h["speeds"], epoch["speeds"], rtol=1e-10)
        assert h["eta"] == 1.5
    W, B = book[-1]["W"], book[-1]["B"]
    network = client.get(f"/train/runs/{run_id}/network.json").json()
    for got, want in zip(network["weights"], W, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)
    for got, want in zip(done["network"]["weights"], W, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)
    for got, want in zip(done["mean_nabla_w"], book[-1]["grads"], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-14)

    # each hidden neuron over the plane: a forward pass at the centres of a 16 × 16 grid, to 4 decimals
    x_all = np.vstack([data.x_train, data.x_test])
    lo, hi = x_all.min(axis=0), x_all.max(axis=0)
    lo, hi = lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo)
    n = 16
    assert [len(layer) for layer in done["neurons"]] == [3, 2]
    for row in (0, 7, 15):
        for col in (0, 9, 15):
            x = np.array([[lo[0] + (col + 0.5) * (hi[0] - lo[0]) / n, hi[1] - (row + 0.5) * (hi[1] - lo[1]) / n]])
            acts = _forward(W, B, x)
            for layer in (0, 1):
                got = [done["neurons"][layer][j][row][col] for j in range(len(acts[layer + 1][0]))]
                np.testing.assert_allclose(got, acts[layer + 1][0], rtol=0, atol=5.000001e-5)
    # every event's maps are its own network's: the first one's equal its weights' forward pass (a training
    # that ends before the stream first looks sends its `done` alone)
    first = next(e for _, e in events if e["network"] is not None)
    Wf = [np.array(w) for w in first["network"]["weights"]]
    Bf = [np.array(b) for b in first["network"]["biases"]]
    corner = _forward(Wf, Bf, np.array([[lo[0] + (hi[0] - lo[0]) / (2 * n), hi[1] - (hi[1] - lo[1]) / (2 * n)]]))
    assert first["neurons"][1][0][0][0] == pytest.approx(float(corner[2][0, 0]), abs=5.000001e-5)


def test_without_test_examples_or_beyond_the_map_limit(client: TestClient) -> None:
    run_id = start(client, test_fraction="0", epochs="2", hidden="4")
    done = read_events(client, run_id)[-1][1]
    assert [h["test_cost"] for h in done["history"]] in ([None], [None, None])
    with TestClient(create_app(Settings(max_neuron_maps=3))) as small:
        r = small.post("/train/runs", data={**FORM, "epochs": "1"}, headers=HX)
        run_id = re.search(r"/train/runs/([A-Za-z0-9_-]+)/events", r.text).group(1)  # type: ignore[union-attr]
        done = read_events(small, run_id)[-1][1]
    assert done["neurons"] is None and done["grid"] is not None  # 4 hidden neurons > 3: no maps, the boundary stays


def test_one_mini_batch_while_paused_and_eta_during_the_run(client: TestClient) -> None:
    run_id = start(client, epochs="10000", delay_ms="5")  # 30 training examples, m = 4: 8 mini-batches an epoch
    session = trainings(client).get(run_id).session
    result: list[list[tuple[str, dict[str, Any]]]] = []
    reader = threading.Thread(target=lambda: result.append(read_events(client, run_id)))
    reader.start()

    def wait(ok: Any) -> None:
        for _ in range(4000):
            if ok():
                return
            threading.Event().wait(0.005)
        pytest.fail(f"never happened: {session.report()}")

    r = client.post(f"/train/runs/{run_id}/controls/pause")
    assert 'id="train-step"' in r.text
    wait(lambda: session.report().state == "paused")
    before = session.report()
    r = client.post(f"/train/runs/{run_id}/controls/step")
    assert r.status_code == 200 and 'id="train-step"' in r.text and 'id="train-resume"' in r.text
    wait(lambda: session.report().version > before.version and session.report().state == "paused")
    after = session.report()
    done_before = (before.epoch - 1) * before.batches_per_epoch + before.batch
    assert (after.epoch - 1) * after.batches_per_epoch + after.batch == done_before + 1

    r = client.post(f"/train/runs/{run_id}/eta", data={"eta": "0"})
    bounds = "η: give a number greater than 0 and at most 1000"  # the test app's max_eta
    assert r.status_code == 422 and inspect_error(r.text) == bounds and 'aria-invalid="true"' in r.text
    r = client.post(f"/train/runs/{run_id}/eta", data={"eta": "1e9"})
    assert r.status_code == 422 and inspect_error(r.text) == bounds
    for typed, message in (("", "η: give a number"), ("x", "η: 'x' is not a number")):
        r = client.post(f"/train/runs/{run_id}/eta", data={"eta": typed})
        assert r.status_code == 422 and inspect_error(r.text) == message
    r = client.post(f"/train/runs/{run_id}/eta", data={"eta": " 0.25 "})
    assert r.status_code == 200 and "η = 0.25 from the next mini-batch" in r.text and session.eta == 0.25
    # the run's title says the new η (swapped in by its id), and Inspect steps with it
    assert '<span id="train-run-eta" hx-swap-oob="true">η = 0.25 (from 2 at the start)</span>' in r.text
    html = client.post(f"/train/runs/{run_id}/inspect", data={"split": "train", "example": "1"}).text
    data = generated("xor", 40, 0.1, 0.25, 3)
    network = client.get(f"/train/runs/{run_id}/network.json").json()
    before_step, after_step = cost_after_one_step(network, data.x_train[0], data.y_train[0], 0.25)
    eta_shown, cost_shown, after_shown = inspected_costs(html)
    assert eta_shown == "0.25" and cost_shown == pytest.approx(before_step, rel=1e-9)
    assert after_shown == pytest.approx(after_step, rel=1e-9)
    assert after_step != pytest.approx(cost_after_one_step(network, data.x_train[0], data.y_train[0], 2.0)[1])
    epoch = after.epoch
    client.post(f"/train/runs/{run_id}/controls/resume")
    wait(lambda: any(h.epoch > epoch + 1 for h in session.history_since(0)))
    client.post(f"/train/runs/{run_id}/controls/stop")
    reader.join(20)
    assert not reader.is_alive()
    history = [h for _, e in result[0] for h in e["history"]]
    etas = {h["epoch"]: h["eta"] for h in history}
    assert all(etas[e] == 2.0 for e in etas if e < epoch) and all(etas[e] == 0.25 for e in etas if e > epoch)
    assert client.post("/train/runs/unknown123/eta", data={"eta": "1"}).status_code == 404


def test_lmbda_is_bounded_by_its_setting(client: TestClient) -> None:
    r = client.post("/train/runs", data={**FORM, "lmbda": "-1", "epochs": "1"}, headers=HX)
    assert r.status_code == 422 and field_errors(r.text) == {"lmbda": "λ (L2): give a number from 0 to 100"}
    r = client.post("/train/runs", data={**FORM, "lmbda": "100.5", "epochs": "1"}, headers=HX)
    assert r.status_code == 422 and field_errors(r.text) == {"lmbda": "λ (L2): give a number from 0 to 100"}
    with TestClient(create_app(Settings(max_lmbda=2.5, max_eta=0.5))) as own:  # the words follow the settings
        r = own.post("/train/runs", data={**FORM, "lmbda": "3", "eta": "1"}, headers=HX)
        assert field_errors(r.text) == {
            "lmbda": "λ (L2): give a number from 0 to 2.5",
            "eta": "η: give a number greater than 0 and at most 0.5",
        }
    r = client.post("/train/runs", data={**FORM, "lmbda": "2.5", "epochs": "1"}, headers=HX)
    assert r.status_code == 200 and "λ = 2.5 (L2)" in r.text


def test_cli_trains_with_lmbda(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "net.json"
    args = ["train", "--dataset", "moons", "--points", "40", "--sizes", "2,3,1", "--epochs", "3", "--batch", "5",
            "--eta", "0.5", "--lmbda", "4", "--seed", "2", "--save", str(out)]  # fmt: skip
    assert cli_main(args) == 0
    text = capsys.readouterr().out
    assert "λ = 4.0" in text and "test cost" in text
    data = generated("moons", 40, 0.1, 0.2, 2)
    start_net = Network([2, 3, 1], seed=2, init="scaled")
    book = _network2(start_net.weights, start_net.biases, data.x_train, data.y_train, 3, 5, 0.5, 4.0, seed=2)
    for got, want in zip(json.loads(out.read_text())["weights"], book[-1]["W"], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)
    assert cli_main([*args[:-2], "--lmbda", "-1"]) == 2
    assert "--lmbda: Input should be greater than or equal to 0" in capsys.readouterr().err


def test_the_weight_colours_of_train_css_are_the_palettes() -> None:
    from backprop_lens.app.core.palette import W_NEGATIVE, W_POSITIVE

    css = (Path(__file__).resolve().parents[3] / "static" / "css" / "train.css").read_text(encoding="utf-8")
    assert f"--w-pos: {W_POSITIVE};" in css and f"--w-neg: {W_NEGATIVE};" in css


def test_the_network_figure_says_when_its_neurons_are_too_many_to_map() -> None:
    with TestClient(create_app(Settings())) as client:  # its own app: these runs are never streamed, so they hold slots
        html = client.post("/train/runs", data={**FORM, "hidden": "12,12,12,12,12,12"}, headers=HX).text
        assert 'id="train-net"' in html and "too many to draw as heat maps (72 of at most 64)" in html
        html = client.post("/train/runs", data=FORM, headers=HX).text
        assert 'id="train-net"' in html and "each hidden neuron is its activation" in html
        html = client.post("/train/runs", data={**FORM, "hidden": "17"}, headers=HX).text
        assert 'id="train-run-panel"' in html and 'id="train-net"' not in html  # wider than 16: not drawn


def test_training_streams_count_against_the_stream_slots_and_a_clients_share() -> None:
    """A second training stream from one address past max_training_streams_per_client is a 429 naming it, before
    any event; every slot comes back when the streams end, also the one of a client that went away mid-stream."""
    settings = Settings(max_training_streams_per_client=1)
    with TestClient(create_app(settings)) as c:
        pool = c.app.state.streams  # type: ignore[attr-defined]
        first, second = start(c, epochs="10000", delay_ms="20"), start(c, epochs="2")
        with c.stream("GET", f"/train/runs/{first}/events") as r:
            lines = r.iter_lines()  # kept: a dropped iterator closes the response
            assert r.status_code == 200 and next(lines).startswith("event:")
            assert pool.open == 1 and pool.by_kind() == {"training": 1} and pool.held_by("testclient", "training") == 1
            metric = ("backprop_lens_open_streams", (("kind", "training"),))
            assert scrape(c)[metric] == 1
            refused = c.get(f"/train/runs/{second}/events")
            assert refused.status_code == 429 and "max_training_streams_per_client" in refused.json()["message"]
            assert refused.headers["retry-after"] == "5"
        # leaving the block disconnected that client: its training stops and its slot is given back
        trainings(c).get(first).session.join(10)
        assert trainings(c).get(first).session.report().state == "stopped"
        events = read_events(c, second)
        assert events[-1][0] == "done" and events[-1][1]["state"] == "finished"
        assert pool.open == 0 and pool.held_by("testclient", "training") == 0


def test_one_address_may_have_so_many_trainings_and_another_still_trains() -> None:
    """Without Redis a training counts from its creation until it ends: past max_queued_trainings_per_client the
    form is a 429 naming the limit; another address still trains; a stopped one frees its place."""
    app = create_app(Settings(max_queued_trainings_per_client=2, max_trainings=10))
    with TestClient(app, client=("10.0.0.7", 5000)) as greedy, TestClient(app, client=("10.0.0.8", 5000)) as other:
        mine = [start(greedy, epochs="10000", delay_ms="20") for _ in range(2)]
        refused = greedy.post("/train/runs", data=FORM, headers=HX)
        assert refused.status_code == 429
        expected = "this address (10.0.0.7) has 2 trainings queued or training, the most one client may have "
        assert expected + "(max_queued_trainings_per_client)" in unescape(refused.text)
        assert read_events(other, start(other, epochs="2"))[-1][1]["state"] == "finished"
        greedy.post(f"/train/runs/{mine[0]}/controls/stop")
        assert read_events(greedy, start(greedy, epochs="2"))[-1][1]["state"] == "finished"
