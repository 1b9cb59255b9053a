"""One source of settings: two apps with different settings in one process each enforce their own limits,
and a request follows its app's settings whatever the environment says."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from backprop_lens.app.core import settings as settings_module
from backprop_lens.app.core.settings import Settings
from backprop_lens.app.main import create_app
from backprop_lens.app.stepper.form import default_form
from tests.app.stepper.test_routes import run_id

FOUR_LAYERS: dict[str, Any] = {
    "network": {"sizes": [2, 3, 3, 2]}, "inputs": [[0.1, 0.2]], "targets": [[0.0, 1.0]],
}  # fmt: skip


def test_two_apps_enforce_their_own_limits() -> None:
    small = create_app(Settings(max_layers=3, max_nudges=2, max_epochs=5))
    large = create_app(Settings(max_layers=8))
    with TestClient(small) as s, TestClient(large) as big:
        r = s.post("/api/gradients", json=FOUR_LAYERS)
        assert r.status_code == 422
        assert r.json()["message"] == "network.sizes: List should have at most 3 items after validation, not 4"
        assert big.post("/api/gradients", json=FOUR_LAYERS).status_code == 200
        # interleaved: the first app's limit did not leak into the second's request, nor back
        assert s.post("/api/gradients", json=FOUR_LAYERS).status_code == 422

        demon = {**FOUR_LAYERS, "network": {"sizes": [2, 2]}, "layer": 2, "neuron": 1, "nudges": [0.1, 0.2, 0.3]}
        assert s.post("/api/instruments/demon", json=demon).json()["message"].startswith("nudges: List should")
        assert big.post("/api/instruments/demon", json=demon).status_code == 200

        form = {"dataset": "xor", "hidden": "4", "epochs": "6"}
        assert "Epochs: give a whole number from 1 to 5" in s.post("/train/runs", data=form).text

        # each app's OpenAPI document states its own bounds
        def sizes_bound(client: TestClient) -> int:
            spec = client.get("/openapi.json").json()["components"]["schemas"]["NetworkSpec"]
            bound: int = spec["properties"]["sizes"]["maxItems"]
            return bound

        assert (sizes_bound(s), sizes_bound(big)) == (3, 8)


def test_each_app_holds_its_own_stores() -> None:
    a, b = create_app(Settings(max_runs=2)), create_app(Settings(max_runs=5))
    assert a.state.runs is not b.state.runs and a.state.trainings is not b.state.trainings
    with TestClient(a) as ca:
        assert ca.get("/?sizes=1,1&x=1&y=0").status_code == 200  # a permalink stores a run; "/" stores none
    assert len(a.state.runs) == 1 and len(b.state.runs) == 0


APP_LIMITS = Settings(
    max_trace_layers_page=3, max_page_iterations=2, max_width=4, max_export_neurons=1, max_matrix_form_width=1
)
"""An app's own limits, all below the defaults (made before the environment below is set)."""

ENVIRONMENT = {
    "BACKPROP_LENS_MAX_TRACE_LAYERS_PAGE": "8",
    "BACKPROP_LENS_MAX_PAGE_ITERATIONS": "1000",
    "BACKPROP_LENS_MAX_WIDTH": "1024",
    "BACKPROP_LENS_MAX_EXPORT_NEURONS": "64",
    "BACKPROP_LENS_MAX_MATRIX_FORM_WIDTH": "16",
}
"""What the environment says meanwhile: the defaults, which would let every request below through."""


def test_requests_use_the_apps_settings_not_the_environments(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    assert Settings().max_trace_layers_page == 8  # the environment does say otherwise

    def environment_read() -> Settings:
        raise AssertionError("a request read the environment's settings")

    # Only create_app's default and the command line may read the environment; inside a request nothing does.
    monkeypatch.setattr(settings_module, "get_settings", environment_read)
    with TestClient(create_app(APP_LIMITS)) as client:
        form = {"sizes": "2, 2, 2, 2", "x": "0.1, 0.2", "y": "0, 1"}
        r = client.post("/runs", data=form, headers={"HX-Request": "true"})
        assert r.status_code == 422 and "sizes: the page draws 2 to 3 layers, got 4" in r.text

        r = client.post("/runs", data={**form, "sizes": "2, 5, 2", "x": "oops"}, headers={"HX-Request": "true"})
        assert r.status_code == 422 and "should be less than or equal to 4" in r.text  # the width, beside sizes

        r = client.get("/?" + urlencode({**default_form(), "iteration": "3"}))
        assert r.status_code == 422 and "iteration: a whole number from 0 to 2, got &#39;3&#39;" in r.text

        run = run_id(client.get("/?" + urlencode({**default_form(), "iteration": "1"})).text)
        tex = client.get(f"/runs/{run}/steps/2/equation.tex").text  # step 3: layer 3 of 2-2-2, eq. 25
        assert "% Left out: the other 1 neurons of layer 3 are in the page's tables." in tex

        speed = client.get(f"/instruments/{run}/speed", params={"width": "5"})
        assert (
            speed.status_code == 422 and "width: a whole number of neurons from 1 to 4, got &#39;5&#39;" in speed.text
        )
        # the panel's matrix form opens at the output layer: layer 2 (2 wide) is wider than this app's 1
        panel = client.get(f"/instruments/{run}").text
        matrix_form = panel[panel.index('id="instrument-matrix-form"') :]
        assert re.search(r'<option value="(\d)" selected>', matrix_form)[1] == "3"  # type: ignore[index]
