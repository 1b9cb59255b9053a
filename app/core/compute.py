"""The engine behind the limits: a validated request in, the engine's result out, a 422 where numbers overflow.

The API, the step-through page and its stream all trace through ``run_trace``, so they refuse the
same networks with the same message. ``run_history`` replays the same gradient steps for the page's
cost-per-iteration chart.
"""

from __future__ import annotations

import math

import numpy as np

from backprop_lens.app.core.errors import OVERFLOW, InputError
from backprop_lens.app.core.schemas import TraceRequest
from backprop_lens.engine import Trace, trace
from backprop_lens.engine.backprop import as_examples, backprop
from backprop_lens.engine.sgd import iterate, stepped


def run_trace(req: TraceRequest, iterations: int = 0) -> Trace:
    """The trace of ``req`` after ``iterations`` gradient steps on its batch; InputError (422) on overflow."""
    net = req.network.build()
    try:
        if iterations:
            net = iterate(net, req.inputs, req.targets, req.eta, req.cost_function, iterations)
    except ValueError:  # a diverging η: the updated weights overflowed and the engine refused them
        raise InputError("network", OVERFLOW) from None
    t = trace(net, req.inputs, req.targets, req.cost_function, req.eta)
    if not (t.gradients.finite and math.isfinite(t.cost_after)):
        raise InputError("network", OVERFLOW)
    return t


def run_replay(req: TraceRequest, iterations: int = 0) -> tuple[Trace, list[float]]:
    """``run_trace``'s trace and C of the batch at iterations 0 … ``iterations``, from one replay.

    The gradient steps are ``iterate``'s (backpropagation, then eqs. 20–21 on every layer: what
    ``engine.sgd.update_mini_batch`` does), and each one's backprop already holds the cost before its
    step, so the page's cost-per-iteration chart costs no extra pass. InputError (422) on overflow.
    """
    net = req.network.build()
    x, y = as_examples(net, req.inputs, req.targets)
    costs: list[float] = []
    try:
        with np.errstate(all="ignore"):
            for _ in range(iterations):
                g = backprop(net, x, y, req.cost_function)
                costs.append(g.cost)
                net = stepped(net, g, req.eta)
    except ValueError:  # a diverging η: the updated weights overflowed and the engine refused them
        raise InputError("network", OVERFLOW) from None
    t = trace(net, req.inputs, req.targets, req.cost_function, req.eta)
    costs.append(t.cost_before)
    if not (t.gradients.finite and math.isfinite(t.cost_after) and all(math.isfinite(c) for c in costs)):
        raise InputError("network", OVERFLOW)
    return t, costs


def run_history(req: TraceRequest, iterations: int) -> list[float]:
    """C of ``req``'s batch at iterations 0 … ``iterations`` (see ``run_replay``)."""
    return run_replay(req, iterations)[1]
