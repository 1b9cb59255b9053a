"""The reply to a gradient request, computed without the web: ``POST /api/gradients`` and ``backprop-lens grad``.

One function, ``gradient_response``, turns a validated ``GradientRequest`` into its ``GradientResponse`` by
the engine's one gradient, ``engine.backprop`` (BP1–BP4, every layer's values kept for ``trace``). It imports
pydantic's models and the engine only, so the console script answers without loading FastAPI. Where the
numbers overflow it returns None and leaves the wording of the error to its caller (the API's 422, the
console script's message), as ``app.api.fastlane.gradient_json`` does.

Left out: the lane that answers small requests before FastAPI's body handling (``app.api.fastlane``), which
only the route uses; it calls the same ``backprop``.
"""

from __future__ import annotations

from backprop_lens.app.core.schemas import GradientRequest, GradientResponse, LayerValues
from backprop_lens.engine import backprop


def gradient_response(req: GradientRequest) -> GradientResponse | None:
    """∂C/∂w and ∂C/∂b of the mean cost over the batch (and each layer's z, a, σ′, δ when ``req.trace``);
    None when a number overflows to infinity."""
    g = backprop(req.network.build(), req.inputs, req.targets, req.cost_function)
    if not g.finite:
        return None
    layers = None
    if req.trace:
        layers = [
            LayerValues(layer=i + 2, z=z.tolist(), a=a.tolist(), sigma_prime=sp.tolist(), delta=d.tolist())
            for i, (z, a, sp, d) in enumerate(
                zip(g.forward.zs, g.forward.activations[1:], g.sigma_primes, g.deltas, strict=True)
            )
        ]
    return GradientResponse(
        cost=g.cost, nabla_w=[w.tolist() for w in g.nabla_w], nabla_b=[b.tolist() for b in g.nabla_b], layers=layers
    )
