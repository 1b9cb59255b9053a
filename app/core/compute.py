"""The engine behind the limits: a validated request in, the engine's result out, a 422 where numbers overflow.

The API, the step-through page and its stream all trace through ``run_trace``, so they refuse the
same networks with the same message. ``run_history`` replays the same gradient steps for the page's
cost-per-iteration chart.
"""

from __future__ import annotations

import math

import numpy as np

from app.core.errors import OVERFLOW, InputError
from app.core.schemas import TraceRequest
from engine import Trace, trace
from engine.backprop import as_examples, cost_of
from engine.sgd import iterate, update_mini_batch


def run_trace(req: TraceRequest, iterations: int = 0) -> Trace:
    """The trace of ``req`` after ``iterations`` gradient steps on its batch; InputError (422) on overflow."""
    net = req.network.build()
    try:
        if iterations:
            net = iterate(net, req.inputs, req.targets, req.eta, req.cost, iterations)
    except ValueError:  # a diverging η: the updated weights overflowed and the engine refused them
        raise InputError("network", OVERFLOW) from None
    t = trace(net, req.inputs, req.targets, req.cost, req.eta)
    if not (t.gradients.finite and math.isfinite(t.cost_after)):
        raise InputError("network", OVERFLOW)
    return t


def run_history(req: TraceRequest, iterations: int) -> list[float]:
    """C of ``req``'s batch at iterations 0 … ``iterations``: the initial weights, then after each gradient step.

    The steps are ``run_trace``'s (``engine.sgd.update_mini_batch`` on the same batch, as ``iterate`` takes
    them), so the last cost is the cost before the update of the trace of that iteration. InputError (422)
    where the weights overflow.
    """
    net = req.network.build()
    x, y = as_examples(net, req.inputs, req.targets)
    costs: list[float] = []
    try:
        with np.errstate(all="ignore"):
            for i in range(iterations + 1):
                costs.append(cost_of(net, x, y, req.cost))
                if i < iterations:
                    net = update_mini_batch(net, x, y, req.eta, req.cost)
    except ValueError:
        raise InputError("network", OVERFLOW) from None
    if not all(math.isfinite(c) for c in costs):
        raise InputError("network", OVERFLOW)
    return costs
