"""The chapter's instruments as JSON endpoints under ``/api/instruments``.

Each handler validates its request (``app.instruments.schemas``), asks
``engine.insight`` for the numbers and returns them; a 422 names the field
when the engine cannot compute (a layer out of range, numbers overflowing).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from backprop_lens.app.core.deps import require_json
from backprop_lens.app.core.errors import ERRORS, OVERFLOW, InputError
from backprop_lens.app.instruments.schemas import (
    CostComparisonRequest,
    CostComparisonResponse,
    DemonRequest,
    DemonResponse,
    GradcheckRequest,
    GradcheckResponse,
    LinearNetworkRequest,
    LinearNetworkResponse,
    MatrixFormRequest,
    MatrixFormResponse,
    MiniBatchRequest,
    MiniBatchResponse,
    ModifiedNeuronRequest,
    ModifiedNeuronResponse,
    PathsRequest,
    PathsResponse,
    SaturationRequest,
    SaturationResponse,
)
from backprop_lens.engine.insight import (
    all_finite,
    compare_costs,
    compare_speed,
    demon,
    inside_minibatch,
    linear_network,
    matrix_form,
    modified_neuron,
    path_sum,
    saturation,
)

router = APIRouter(prefix="/api/instruments", tags=["instruments"], dependencies=[Depends(require_json)])

RESPONSES: dict[int | str, dict[str, Any]] = ERRORS


def _finite(*values: Any) -> None:
    if not all_finite(*values):
        raise InputError("network", OVERFLOW)


@router.post("/gradcheck", response_model=GradcheckResponse, responses=RESPONSES)
def gradcheck(req: GradcheckRequest) -> GradcheckResponse:
    """Why backpropagation is fast: BP1–BP4 against central finite differences (eq. 46), both timed.

    Backpropagation needs about 2 forward passes' work; finite differences need 2P + 1.
    """
    s = compare_speed(req.network.build(), req.inputs, req.targets, req.cost_function, req.epsilon)
    _finite(
        s.backprop.cost,
        s.backprop.nabla_w,
        s.backprop.nabla_b,
        s.numerical.nabla_w,
        s.numerical.nabla_b,
        s.relative_error_w,
        s.relative_error_b,
    )
    return GradcheckResponse.of(s, req.epsilon)


@router.post("/demon", operation_id="demon", response_model=DemonResponse, responses=RESPONSES)
def demon_route(req: DemonRequest) -> DemonResponse:
    """The demon: predicted ΔC ≈ δ^l_j Δz against the actual ΔC of a forward pass with z^l_j + Δz."""
    d = demon(
        req.network.build(),
        req.inputs,
        req.targets,
        req.cost_function,
        req.layer,
        req.neuron - 1,
        req.nudges,
        req.example,
    )
    _finite(
        d.cost,
        d.delta,
        d.z,
        [n.actual for n in d.nudges],
        [n.predicted for n in d.nudges],
        [n.ratio or 0.0 for n in d.nudges],
    )
    return DemonResponse.of(d)


@router.post("/saturation", operation_id="saturation", response_model=SaturationResponse, responses=RESPONSES)
def saturation_route(req: SaturationRequest) -> SaturationResponse:
    """Saturated neurons (σ'(z) ≈ 0), low-activation neurons (a ≈ 0) and slow weights (BP1, BP2, BP4)."""
    s = saturation(
        req.network.build(),
        req.inputs,
        req.targets,
        req.cost_function,
        req.example,
        req.sigma_prime_threshold,
        req.activation_threshold,
        req.limit,
    )
    _finite(
        [n.delta for n in s.saturated],
        [n.z for n in s.saturated],
        [w.nabla_w for w in s.slow_weights],
        [q.a for q in s.quiet],
    )
    return SaturationResponse.of(s)


@router.post("/paths", response_model=PathsResponse, responses=RESPONSES)
def paths(req: PathsRequest) -> PathsResponse:
    """∂C/∂w^l_jk as a sum over paths (eq. 53): the strongest paths, and the exact rest, beside BP4."""
    p = path_sum(
        req.network.build(),
        req.inputs,
        req.targets,
        req.cost_function,
        req.layer,
        req.neuron - 1,
        req.input - 1,
        req.top,
        req.example,
    )
    _finite(p.total, p.listed_sum, p.rest_sum, [f for path in p.paths for f in (*path.factors, path.product)])
    return PathsResponse.of(p)


@router.post("/matrix-form", operation_id="matrix_form", response_model=MatrixFormResponse, responses=RESPONSES)
def matrix_form_route(req: MatrixFormRequest) -> MatrixFormResponse:
    """δ^l = Σ'(z^l)(w^{l+1})^T … (w^L)^T Σ'(z^L) ∇_aC (eqs. 33–35) as matrices, beside BP1/BP2's δ^l."""
    m = matrix_form(req.network.build(), req.inputs, req.targets, req.cost_function, req.layer, req.example)
    _finite(m.nabla_a, m.delta, m.delta_layerwise, [f.matrix for f in m.factors])
    return MatrixFormResponse.of(m)


@router.post("/minibatch", response_model=MiniBatchResponse, responses=RESPONSES)
def minibatch(req: MiniBatchRequest) -> MiniBatchResponse:
    """Each example's δ, ∂C_x/∂w and ∂C_x/∂b before they are averaged into one update."""
    b = inside_minibatch(req.network.build(), req.inputs, req.targets, req.cost_function)
    _finite(b.costs, b.deltas, b.nabla_w_x, b.nabla_w, b.cosine)
    return MiniBatchResponse.of(b)


@router.post(
    "/modified-neuron", operation_id="modified_neuron", response_model=ModifiedNeuronResponse, responses=RESPONSES
)
def modified_neuron_route(req: ModifiedNeuronRequest) -> ModifiedNeuronResponse:
    """Exercise: one neuron with its own activation f; backpropagation uses f'(z^l_j) there."""
    m = modified_neuron(
        req.network.build(), req.inputs, req.targets, req.cost_function, req.layer, req.neuron - 1, req.f
    )
    _finite(m.cost, m.deltas, m.nabla_w, m.nabla_b, m.f_prime, m.sigma_prime)
    return ModifiedNeuronResponse.of(m)


@router.post(
    "/linear-network", operation_id="linear_network", response_model=LinearNetworkResponse, responses=RESPONSES
)
def linear_network_route(req: LinearNetworkRequest) -> LinearNetworkResponse:
    """Exercise: the same weights with σ(z) = z; δ^l = (w^{l+1})^T … (w^L)^T ∇_aC."""
    n = linear_network(req.network.build(), req.inputs, req.targets, req.cost_function, req.example)
    _finite(n.nabla_a, n.maps, n.deltas, n.deltas_backprop)
    return LinearNetworkResponse.of(n)


@router.post("/cost-comparison", response_model=CostComparisonResponse, responses=RESPONSES)
def cost_comparison(req: CostComparisonRequest) -> CostComparisonResponse:
    """Exercise: δ^L for quadratic cost keeps σ'(z^L); for cross-entropy with sigmoid outputs δ^L = a^L − y."""
    c = compare_costs(req.network.build(), req.inputs, req.targets, req.example)
    _finite(
        c.z,
        c.a,
        c.quadratic.delta,
        c.quadratic.nabla_a,
        c.cross_entropy.delta,
        c.cross_entropy.nabla_a,
        c.quadratic.cost,
        c.cross_entropy.cost,
    )
    return CostComparisonResponse.of(c)
