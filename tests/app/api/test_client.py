"""A client generated from /openapi.json by openapi-python-client calls a live server: ``gradients`` and
``trace`` by their short names, with the shared models, and the numbers agree with tests/autograd.py (a scalar
autograd that shares no code with the engine)."""

from __future__ import annotations

import copy
import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from backprop_lens.app.core.schemas import WORKED_EXAMPLE
from tests.autograd import reference_gradients
from tests.default_app import app
from tests.processes import serving

pytestmark = pytest.mark.slow

PACKAGE = "backprop_lens_client"  # openapi-python-client's name for a document titled "backprop-lens"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The generated package, imported from a temporary folder (and forgotten afterwards)."""
    root = tmp_path_factory.mktemp("client")
    (root / "openapi.json").write_text(json.dumps(app.openapi()))
    done = subprocess.run(
        [Path(sys.executable).parent / "openapi-python-client", "generate", "--path", "openapi.json",
         "--output-path", str(root / PACKAGE), "--meta", "none"],
        cwd=root, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serving() as (_, url, _):
        yield url


def reference(body: dict[str, Any]) -> tuple[float, list[list[list[float]]], list[list[float]]]:
    net = body["network"]
    acts = [net["activation"]] * (len(net["sizes"]) - 1)
    return reference_gradients(
        net["weights"], net["biases"], acts, body["cost_function"], body["inputs"], body["targets"]
    )


def test_the_generated_client_has_the_short_names(generated: ModuleType) -> None:
    api = importlib.import_module(f"{PACKAGE}.api.api")
    instruments = importlib.import_module(f"{PACKAGE}.api.instruments")
    for module, name in ((api, "gradients"), (api, "trace"), (api, "trace_stream"), (instruments, "gradcheck")):
        assert importlib.import_module(f"{module.__name__}.{name}").sync is not None
    models = importlib.import_module(f"{PACKAGE}.models")
    names = set(models.__all__)
    assert {"GradientRequest", "TraceRequest", "Network", "Step", "StepValues", "CostFunction"} <= names
    assert [n for n in names if n[-1].isdigit() or "Type0" in n] == []


def test_gradients_through_the_client(generated: ModuleType, base_url: str) -> None:
    models = importlib.import_module(f"{PACKAGE}.models")
    gradients = importlib.import_module(f"{PACKAGE}.api.api.gradients")
    body = copy.deepcopy(WORKED_EXAMPLE)
    body["cost_function"] = "cross_entropy"
    body["inputs"] = [[0.05, 0.10], [-3.0, 2.5]]
    body["targets"] = [[0.01, 0.99], [1.0, 0.0]]
    with generated.Client(base_url=base_url) as client:
        reply = gradients.sync(client=client, body=models.GradientRequest.from_dict(body))
    assert isinstance(reply, models.GradientResponse)
    cost, nabla_w, nabla_b = reference(body)
    assert reply.cost == pytest.approx(cost, rel=1e-12)
    for got_w, want_w in zip(reply.nabla_w, nabla_w, strict=True):
        np.testing.assert_allclose(got_w, want_w, rtol=1e-10, atol=1e-15)
    for got_b, want_b in zip(reply.nabla_b, nabla_b, strict=True):
        np.testing.assert_allclose(got_b, want_b, rtol=1e-10, atol=1e-15)


def test_trace_through_the_client(generated: ModuleType, base_url: str) -> None:
    models = importlib.import_module(f"{PACKAGE}.models")
    trace = importlib.import_module(f"{PACKAGE}.api.api.trace")
    body = {**copy.deepcopy(WORKED_EXAMPLE), "eta": 0.5}
    with generated.Client(base_url=base_url) as client:
        reply = trace.sync(client=client, body=models.TraceRequest.from_dict(body))
    assert isinstance(reply, models.TraceResponse)
    assert reply.cost_function.value == "quadratic"
    cost, nabla_w, nabla_b = reference(body)
    assert reply.cost_before == pytest.approx(cost, rel=1e-12)
    # C after one step w → w − η ∂C/∂w, by the reference on the reference's own update
    net = body["network"]
    stepped = copy.deepcopy(body)
    stepped["network"]["weights"] = [
        [[w - 0.5 * g for w, g in zip(row, grow, strict=True)] for row, grow in zip(m, gm, strict=True)]
        for m, gm in zip(net["weights"], nabla_w, strict=True)
    ]
    stepped["network"]["biases"] = [
        [b - 0.5 * g for b, g in zip(bs, gs, strict=True)] for bs, gs in zip(net["biases"], nabla_b, strict=True)
    ]
    assert reply.cost_after == pytest.approx(reference(stepped)[0], rel=1e-12)
    by_kind = {(s.kind.value, s.layer): s for s in reply.steps}
    assert by_kind[("output_error", 3)].scalars.cost == pytest.approx(cost, rel=1e-12)
    np.testing.assert_allclose(by_kind[("gradients", 2)].values.nabla_w, nabla_w[0], rtol=1e-10)
    np.testing.assert_allclose(by_kind[("gradients", 3)].values.nabla_b, nabla_b[1], rtol=1e-10)
    update = by_kind[("update", None)].values
    for got, want in zip(update.weights, stepped["network"]["weights"], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)
