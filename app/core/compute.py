"""The engine behind the limits: a validated request in, the engine's result out, a 422 where numbers overflow.

The API, the step-through page and its stream all trace through ``run_trace``, so they refuse the
same networks with the same message.
"""

from __future__ import annotations

import math

from app.core.errors import OVERFLOW, InputError
from app.core.schemas import TraceRequest
from engine import Trace, trace
from engine.sgd import iterate


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
