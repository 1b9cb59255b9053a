"""The fast lane of POST /api/gradients (app.api.fastlane) against the documented route it stands in front of.

Three properties: the lane answers only bodies that ``GradientRequest`` accepts (never a 200 where the
documented route answers a 4xx), it answers the same bytes the documented route answers, and what it
answers is the gradient an independent autograd (tests/autograd.py) computes. The documented route is
reached by the same request with ``Content-Type: application/json; charset=utf-8``, which the lane leaves to it.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from backprop_lens.app.api import fastlane
from backprop_lens.app.api.fastlane import INLINE_WORK, fast_reply, lean_request_for
from backprop_lens.app.core.schemas import WORKED_EXAMPLE, GradientRequest
from backprop_lens.app.core.settings import Settings, get_settings, using
from backprop_lens.app.main import create_app
from backprop_lens.engine import Network
from tests.app.core.test_validation import BAD
from tests.autograd import reference_gradients

ACTS = ["sigmoid", "tanh", "relu", "linear"]
DOCUMENTED = {"content-type": "application/json; charset=utf-8"}
LANE = {"content-type": "application/json"}
# Small limits, so that bodies at and just past every bound are short.
TIGHT = Settings(max_layers=4, max_width=3, max_parameters=30, max_batch=3, max_batch_values=6, max_abs_value=10.0)


@pytest.fixture(scope="module")
def tight() -> Iterator[TestClient]:
    with TestClient(create_app(TIGHT)) as c:
        yield c


def documented_accepts(body: bytes, settings: Settings) -> bool:
    """Whether GradientRequest, as FastAPI gives it the body (Python's json), accepts it under ``settings``."""
    try:
        data = json.loads(body)
    except ValueError:
        return False
    with using(settings):
        try:
            GradientRequest.model_validate(data)
        except ValidationError:
            return False
    return True


def random_request(seed: int, cost: str, explicit: bool) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    n_layers = int(rng.integers(1, 4))
    sizes = [int(n) for n in rng.integers(1, 7, size=n_layers + 1)]
    acts = [ACTS[int(i)] for i in rng.integers(0, 4, size=n_layers)]
    if cost == "cross_entropy":
        acts[-1] = "sigmoid"
    m = int(rng.integers(1, 5))
    network: dict[str, Any] = {"sizes": sizes, "activation": acts, "seed": seed, "init": "scaled"}
    if explicit:
        # scaled as init="scaled" draws them: the reference loses digits where a sigmoid saturates
        network["weights"] = [(rng.normal(size=(b, a)) / np.sqrt(a)).tolist() for a, b in itertools.pairwise(sizes)]
        network["biases"] = [rng.normal(size=b).tolist() for b in sizes[1:]]
    return {
        "network": network,
        "cost_function": cost,
        "inputs": rng.normal(size=(m, sizes[0])).tolist(),
        "targets": rng.uniform(0.05, 0.95, size=(m, sizes[-1])).tolist(),
    }


def test_the_lane_answers_the_worked_example() -> None:
    reply = fast_reply(json.dumps(WORKED_EXAMPLE).encode(), get_settings())
    assert reply is not None
    body = json.loads(reply)
    # Matt Mazur's hand-worked figures
    assert body["cost"] == pytest.approx(0.298371109, abs=5e-10)
    assert body["nabla_w"][1][0][0] == pytest.approx(0.082167041, abs=5e-10)
    assert body["layers"] is None


@pytest.mark.parametrize("explicit", [True, False], ids=["weights", "seed"])
@pytest.mark.parametrize("cost", ["quadratic", "cross_entropy"])
@pytest.mark.parametrize("seed", range(5))
def test_lane_equals_the_documented_route_and_autograd(
    client: TestClient, seed: int, cost: str, explicit: bool
) -> None:
    req = random_request(seed, cost, explicit)
    raw = json.dumps(req).encode()
    assert fast_reply(raw, get_settings()) is not None  # the lane answers it
    lane = client.post("/api/gradients", content=raw, headers=LANE)
    documented = client.post("/api/gradients", content=raw, headers=DOCUMENTED)
    assert lane.status_code == documented.status_code == 200
    assert lane.content == documented.content
    spec = req["network"]
    if explicit:
        weights, biases = spec["weights"], spec["biases"]
    else:
        net = Network(spec["sizes"], activation=spec["activation"], seed=seed, init="scaled")
        weights, biases = [w.tolist() for w in net.weights], [b.tolist() for b in net.biases]
    c, ref_w, ref_b = reference_gradients(weights, biases, spec["activation"], cost, req["inputs"], req["targets"])
    body = lane.json()
    assert body["cost"] == pytest.approx(c, rel=1e-12)
    refs: list[Any] = [*ref_w, *ref_b]
    scale = max(float(np.max(np.abs(np.array(r)))) for r in refs) or 1.0
    for got, ref in zip(body["nabla_w"] + body["nabla_b"], refs, strict=True):
        np.testing.assert_allclose(np.array(got), np.array(ref), rtol=1e-9, atol=1e-12 * scale)


@pytest.mark.parametrize("cost", ["quadratic", "cross_entropy"])
def test_one_example_as_a_flat_list_is_one_row_through_the_lane_and_the_route(client: TestClient, cost: str) -> None:
    """As the library takes a 1-D x: the flat example's reply is the one-row batch's, on both ways in, and both
    agree with the autograd reference; a flat list of the wrong length is worded as a row's would be."""
    req = next(r for seed in range(20) if len((r := random_request(seed, cost, True))["inputs"][0]) >= 2)
    x, y = req["inputs"][0], req["targets"][0]
    flat = json.dumps({**req, "inputs": x, "targets": y}).encode()
    rows = json.dumps({**req, "inputs": [x], "targets": [y]}).encode()
    assert fast_reply(flat, get_settings()) == fast_reply(rows, get_settings()) is not None
    lane = client.post("/api/gradients", content=flat, headers=LANE)
    documented = client.post("/api/gradients", content=flat, headers=DOCUMENTED)
    assert lane.status_code == documented.status_code == 200 and lane.content == documented.content
    spec = req["network"]
    c, _, _ = reference_gradients(spec["weights"], spec["biases"], spec["activation"], cost, [x], [y])
    assert lane.json()["cost"] == pytest.approx(c, rel=1e-12)
    short = client.post("/api/gradients", json={**req, "inputs": x[:-1], "targets": y})
    assert short.status_code == 422 and short.json()["message"].startswith("inputs[0]: expected ")
    traced = client.post("/api/trace", json={**req, "inputs": x, "targets": y})
    assert traced.status_code == 200 and traced.json()["steps"][0]["values"]["a"] == [x]


@pytest.mark.parametrize(("case", "edit", "field"), BAD, ids=[c[0] for c in BAD])
def test_the_lane_leaves_every_bad_request_to_the_documented_route(case: str, edit: Any, field: str) -> None:
    body = copy.deepcopy(WORKED_EXAMPLE)
    edit(body)
    raw = json.dumps(body).encode()
    assert not documented_accepts(raw, get_settings())
    assert fast_reply(raw, get_settings()) is None


def _at_bounds() -> list[bytes]:
    """Bodies at each of TIGHT's limits and one past it, and JSON that Python's parser and pydantic's may read
    differently."""
    w: dict[str, Any] = {"sizes": [2, 2], "weights": [[[0.1, 0.2], [0.3, 0.4]]], "biases": [[0.5, 0.6]]}
    base: dict[str, Any] = {"network": w, "inputs": [[0.1, 0.2]], "targets": [[0.3, 0.4]]}
    out: list[dict[str, Any]] = []
    big = TIGHT.max_abs_value
    for v in (big, -big, float(np.nextafter(big, np.inf)), float(np.nextafter(-big, -np.inf)), 10, 11, -11):
        out.append({**base, "inputs": [[v, 0.0]]})
        out.append({**base, "targets": [[0.0, v]]})
        b = copy.deepcopy(base)
        b["network"]["weights"][0][1][1] = v
        out.append(b)
        b = copy.deepcopy(base)
        b["network"]["biases"][0][0] = v
        out.append(b)
    # width, layers, parameters
    for sizes in ([3, 3], [4, 2], [2, 3, 3], [2, 2, 2, 2], [2, 2, 2, 2, 2], [3, 3, 1], [3, 3, 3, 3]):
        out.append({"network": {"sizes": sizes}, "inputs": [[0.0] * sizes[0]], "targets": [[0.0] * sizes[-1]]})
    for m in (2, 3, 4):  # batch, and examples × width
        out.append({"network": {"sizes": [2, 2]}, "inputs": [[0.0, 0.0]] * m, "targets": [[0.5, 0.5]] * m})
        out.append({"network": {"sizes": [3, 1]}, "inputs": [[0.0] * 3] * m, "targets": [[0.5]] * m})
    out.append({**base, "network": {**w, "activation": ["tanh"]}})
    out.append({**base, "network": {**w, "activation": ["tanh", "tanh"]}})
    out.append({**base, "cost_function": "cross_entropy", "targets": [[0.0, 1.0]]})
    out.append({**base, "cost_function": "cross_entropy", "targets": [[0.0, 1.0000000000000002]]})
    out.append({**base, "cost_function": "cross_entropy", "targets": [[-0.0, 1.0]]})
    out.append({**base, "cost_function": "cross_entropy", "network": {**w, "activation": "relu"}})
    out.append({**base, "network": {**w, "biases": [[0.5, 0.6, 0.7]]}})
    out.append({**base, "network": {**w, "biases": [[0.5]]}})
    out.append({**base, "network": {**w, "weights": [[[0.1, 0.2], [0.3]]]}})
    out.append({**base, "network": {**w, "weights": [[[0.1, 0.2]], [[0.3, 0.4]]]}})
    out.append({**base, "inputs": [[0.1, 0.2], [0.3]], "targets": [[0.3, 0.4], [0.5, 0.6]]})
    out.append({**base, "inputs": [[0.1, 0.2]], "targets": [[0.3, 0.4], [0.5, 0.6]]})
    out.append({**base, "inputs": [[[0.1], [0.2]]]})
    out.append({**base, "trace": True})
    raws = [json.dumps(b).encode() for b in out]
    good = json.dumps(base)
    raws += [
        good.replace('"inputs"', '"inputs": [[5, 5]], "inputs"').encode(),  # a repeated key: the last one counts
        good.replace('"inputs": [[0.1, 0.2]]', '"inputs": [[1e400, 0.2]]').encode(),
        good.replace('"inputs": [[0.1, 0.2]]', '"inputs": [[NaN, 0.2]]').encode(),
        good.replace('"sizes": [2, 2]', '"sizes": [2, 2.0]').encode(),
        good.replace('"sizes": [2, 2]', '"sizes": [2, 20000000000000000000000]').encode(),
        good.replace('"inputs": [[0.1, 0.2]]', '"inputs": [[1, -0]]').encode(),
        b"\xef\xbb\xbf" + good.encode(),  # a byte-order mark
        good.encode("utf-16"),
        b" \n" + good.encode() + b"\n ",
        good.encode() + b" {}",
    ]
    return raws


@pytest.mark.parametrize("raw", _at_bounds())
def test_at_every_bound_the_lane_accepts_only_what_the_documented_route_accepts(tight: TestClient, raw: bytes) -> None:
    accepted = documented_accepts(raw, TIGHT)
    reply = fast_reply(raw, TIGHT)
    if reply is not None:
        assert accepted
        assert tight.post("/api/gradients", content=raw, headers=DOCUMENTED).content == reply
    answer = tight.post("/api/gradients", content=raw, headers=LANE)
    assert answer.status_code == (200 if accepted else 422), answer.text
    if not accepted:
        assert answer.json() == tight.post("/api/gradients", content=raw, headers=DOCUMENTED).json()


def test_numbers_are_read_as_pythons_json_reads_them() -> None:
    """The lane parses JSON with pydantic; the documented route with Python's json: the same floats, bit for bit."""
    rng = np.random.default_rng(3)
    values = [float(v) for v in rng.normal(size=300) * 10.0 ** rng.integers(-300, 6, size=300)]
    texts = [repr(v) for v in values] + [f"{v:.17e}" for v in values] + [f"{v:.6g}" for v in values]
    texts += ["0.1", "1e-320", "4.9e-324", "2.2250738585072011e-308", "0.30000000000000004", "123456.78901234567890123"]
    row = ", ".join(texts)
    raw = f'{{"network": {{"sizes": [{len(texts)}, 1]}}, "inputs": [[{row}]], "targets": [[0.5]]}}'.encode()
    lean = lean_request_for(Settings(max_width=len(texts))).model_validate_json(raw)
    parsed = json.loads(raw)["inputs"][0]
    assert [float(v).hex() for v in lean.inputs[0]] == [float(v).hex() for v in parsed]  # type: ignore[attr-defined]


def test_large_work_and_trace_go_to_the_documented_route() -> None:
    n = int(np.sqrt(INLINE_WORK)) + 1
    large = {"network": {"sizes": [n, n]}, "inputs": [[0.0] * n], "targets": [[0.0] * n]}
    assert fast_reply(json.dumps(large).encode(), get_settings()) is None
    assert fast_reply(json.dumps({**WORKED_EXAMPLE, "trace": True}).encode(), get_settings()) is None


@pytest.mark.parametrize("edit", ["trace", "large", "large trace"])
def test_a_trace_or_large_work_is_validated_by_the_lane_and_computed_by_the_endpoint(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, edit: str
) -> None:
    req: dict[str, Any] = {**random_request(7, "quadratic", explicit=True), "trace": "trace" in edit}
    if "large" in edit:
        n = int(np.sqrt(INLINE_WORK)) + 1
        rng = np.random.default_rng(8)
        req["network"] = {"sizes": [n, n], "weights": [(rng.normal(size=(n, n)) / n).tolist()], "biases": [[0.1] * n]}
        req["inputs"], req["targets"] = [[0.5] * n], [[0.5] * n]
    raw = json.dumps(req).encode()
    assert fast_reply(raw, get_settings()) is None  # not computed by the lane itself ...
    c = fastlane.checked(raw, get_settings())
    assert c is not None and c.request() == GradientRequest.model_validate(req)  # ... but validated by it
    calls: list[int] = []
    original = fastlane.checked

    def spy(body: bytes, settings: Settings) -> fastlane.Checked | None:
        calls.append(len(body))
        return original(body, settings)

    monkeypatch.setattr(fastlane, "checked", spy)
    lane = client.post("/api/gradients", content=raw, headers=LANE)
    assert calls == [len(raw)]
    documented = client.post("/api/gradients", content=raw, headers=DOCUMENTED)
    assert calls == [len(raw)]  # the documented route does not go through the lane
    assert lane.status_code == documented.status_code == 200
    assert lane.content == documented.content
