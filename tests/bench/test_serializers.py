"""The two serialisers the benchmark times write the same thing: Step.to_json (orjson when installed,
json otherwise) parses to exactly what json.dumps(step.to_dict()) parses to, for every step."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from backprop_lens.engine import Network, trace


def steps_as_both() -> list[tuple[object, object]]:
    rng = np.random.default_rng(3)
    net = Network([6, 5, 4, 3], activation=["tanh", "relu", "sigmoid"], seed=2, init="scaled")
    x = rng.normal(size=(4, 6)) * 1e-3  # small numbers: exponents in the JSON
    y = rng.uniform(size=(4, 3))
    t = trace(net, x, y, cost="cross_entropy", eta=0.7)
    return [(json.loads(s.to_json()), json.loads(json.dumps(s.to_dict()))) for s in t.steps]


def test_to_json_equals_to_dict_through_json() -> None:
    for fast, plain in steps_as_both():
        assert fast == plain


def test_to_json_without_orjson_is_plain_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules["backprop_lens.engine.trace"], "orjson", None)
    for fast, plain in steps_as_both():
        assert fast == plain
