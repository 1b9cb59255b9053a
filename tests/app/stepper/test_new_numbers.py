"""*New numbers*: the same architecture with a fresh seed for the weights, x and y, so each student practises on an
example of their own; the permalink holds it. Checked against a forward pass written here in NumPy."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import numpy as np
from fastapi.testclient import TestClient

from backprop_lens.app.core.settings import Settings
from backprop_lens.app.main import create_app

FORM = {
    "sizes": "2, 3, 2", "activation": "tanh, sigmoid", "cost": "quadratic", "init": "scaled", "x": "0.05, 0.1",
    "y": "0.01, 0.99", "eta": "0.25", "seed": "0", "weights": "", "biases": "", "scale": "network",
}  # fmt: skip


def new_numbers(client: TestClient, **changes: str) -> dict[str, list[str]]:
    r = client.post("/runs", data={**FORM, **changes, "numbers": "new"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return parse_qs(urlsplit(r.headers["location"]).query)


def test_new_numbers_keep_the_architecture_and_draw_weights_x_and_y_from_a_fresh_seed() -> None:
    with TestClient(create_app(Settings())) as c:
        first, second = new_numbers(c), new_numbers(c)
        for q in (first, second):
            for kept in ("sizes", "activation", "cost", "init", "eta", "scale"):
                assert q[kept] == [FORM[kept]]
            assert "weights" not in q and "biases" not in q and "numbers" not in q
            x = [float(v) for v in q["x"][0].split(",")]
            y = [float(v) for v in q["y"][0].split(",")]
            assert len(x) == 2 and len(y) == 2 and all(0 <= v < 1 and round(v, 2) == v for v in x + y)
        assert first["seed"] != second["seed"]  # 2³¹ seeds: two presses differ


def test_the_permalink_holds_the_new_numbers() -> None:
    """The link a student keeps gives the same network and numbers: z² = w² x + b² by NumPy here equals the page's."""
    with TestClient(create_app(Settings())) as c:
        q = new_numbers(c)
        link = "/?" + "&".join(f"{k}={v[0]}" for k, v in q.items())
        pages = [c.get(link, params=None).text for _ in range(2)]
        cells = [re.findall(r'data-q="([^"]+)" data-value="([^"]+)"', p) for p in pages]
        assert cells[0] == cells[1] and cells[0]
        run_id = re.search(r'data-run-id="([^"]+)"', pages[0])
        assert run_id is not None
        trace = c.get(f"/runs/{run_id.group(1)}/trace.json").json()
        first = next(s for s in trace["steps"] if s["kind"] == "feedforward")
        x = np.array([[float(v) for v in q["x"][0].split(",")]])
        w, b = np.array(trace["network"]["weights"][0]), np.array(trace["network"]["biases"][0])
        assert trace["inputs"] == x.tolist()
        np.testing.assert_allclose(np.array(first["values"]["z"]), x @ w.T + b, rtol=1e-12)


def test_new_numbers_on_sizes_that_do_not_read_name_the_field() -> None:
    with TestClient(create_app(Settings())) as c:
        r = c.post("/runs", data={**FORM, "sizes": "2, x", "numbers": "new"}, headers={"HX-Request": "true"})
        assert r.status_code == 422 and 'id="e-sizes"' in r.text
