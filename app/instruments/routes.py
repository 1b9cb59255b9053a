"""The chapter's instruments as JSON endpoints under ``/api/instruments``.

Each handler validates its request (``app.instruments.schemas``), asks
``engine.insight`` for the numbers and returns them; a 422 names the field
when the engine cannot compute (a layer out of range, numbers overflowing).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ValidationError

from app.api.routes import ERRORS, require_json
from app.core.errors import InputError, clean_errors, validation_message
from app.core.format import detail, fmt, full, sub, sup, tex
from app.core.forms import number_tokens
from app.core.mathml import mathml, mathml_line, prose_math
from app.core.schemas import NetworkSpec
from app.core.settings import get_settings
from app.core.templating import templates
from app.instruments.schemas import (
    CostComparisonRequest,
    CostComparisonResponse,
    DemonRequest,
    DemonResponse,
    GradcheckRequest,
    GradcheckResponse,
    InstrumentRequest,
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
from app.stepper.routes import Store
from app.stepper.runs import Run
from engine.insight import (
    all_finite,
    compare_costs,
    compare_speed,
    demon,
    example_batch,
    inside_minibatch,
    linear_network,
    matrix_form,
    modified_neuron,
    path_sum,
    saturation,
    widen,
)

router = APIRouter(prefix="/api/instruments", tags=["instruments"], dependencies=[Depends(require_json)])

OVERFLOW = "the numbers overflow to infinity in this network; use smaller weights, inputs or targets"
RESPONSES: dict[int | str, dict[str, Any]] = ERRORS


def _finite(*values: Any) -> None:
    if not all_finite(*values):
        raise InputError("network", OVERFLOW)


@router.post("/gradcheck", response_model=GradcheckResponse, responses=RESPONSES)
def gradcheck(req: GradcheckRequest) -> GradcheckResponse:
    """Why backpropagation is fast: BP1–BP4 against central finite differences (eq. 46), both timed.

    Backpropagation needs about 2 forward passes' work; finite differences need 2P + 1.
    """
    s = compare_speed(req.network.build(), req.inputs, req.targets, req.cost, req.epsilon)
    _finite(s.backprop.cost, s.backprop.nabla_w, s.backprop.nabla_b, s.numerical.nabla_w, s.numerical.nabla_b,
            s.relative_error_w, s.relative_error_b)
    return GradcheckResponse.of(s, req.epsilon)


@router.post("/demon", response_model=DemonResponse, responses=RESPONSES)
def demon_route(req: DemonRequest) -> DemonResponse:
    """The demon: predicted ΔC ≈ δ^l_j Δz against the actual ΔC of a forward pass with z^l_j + Δz."""
    d = demon(req.network.build(), req.inputs, req.targets, req.cost, req.layer, req.neuron - 1, req.nudges,
              req.example)
    _finite(d.cost, d.delta, d.z, [n.actual for n in d.nudges], [n.predicted for n in d.nudges],
            [n.ratio or 0.0 for n in d.nudges])
    return DemonResponse.of(d)


@router.post("/saturation", response_model=SaturationResponse, responses=RESPONSES)
def saturation_route(req: SaturationRequest) -> SaturationResponse:
    """Saturated neurons (σ'(z) ≈ 0), low-activation neurons (a ≈ 0) and slow weights (BP1, BP2, BP4)."""
    s = saturation(req.network.build(), req.inputs, req.targets, req.cost, req.example,
                   req.sigma_prime_threshold, req.activation_threshold, req.limit)
    _finite([n.delta for n in s.saturated], [n.z for n in s.saturated], [w.nabla_w for w in s.slow_weights],
            [q.a for q in s.quiet])
    return SaturationResponse.of(s)


@router.post("/paths", response_model=PathsResponse, responses=RESPONSES)
def paths(req: PathsRequest) -> PathsResponse:
    """∂C/∂w^l_jk as a sum over paths (eq. 53): the strongest paths, and the exact rest, beside BP4."""
    p = path_sum(req.network.build(), req.inputs, req.targets, req.cost, req.layer, req.neuron - 1,
                 req.input - 1, req.top, req.example)
    _finite(p.total, p.listed_sum, p.rest_sum, [f for path in p.paths for f in (*path.factors, path.product)])
    return PathsResponse.of(p)


@router.post("/matrix-form", response_model=MatrixFormResponse, responses=RESPONSES)
def matrix_form_route(req: MatrixFormRequest) -> MatrixFormResponse:
    """δ^l = Σ'(z^l)(w^{l+1})^T … (w^L)^T Σ'(z^L) ∇_aC (eqs. 33–35) as matrices, beside BP1/BP2's δ^l."""
    m = matrix_form(req.network.build(), req.inputs, req.targets, req.cost, req.layer, req.example)
    _finite(m.nabla_a, m.delta, m.delta_layerwise, [f.matrix for f in m.factors])
    return MatrixFormResponse.of(m)


@router.post("/minibatch", response_model=MiniBatchResponse, responses=RESPONSES)
def minibatch(req: MiniBatchRequest) -> MiniBatchResponse:
    """Each example's δ, ∂C_x/∂w and ∂C_x/∂b before they are averaged into one update."""
    b = inside_minibatch(req.network.build(), req.inputs, req.targets, req.cost)
    _finite(b.costs, b.deltas, b.nabla_w_x, b.nabla_w, b.cosine)
    return MiniBatchResponse.of(b)


@router.post("/modified-neuron", response_model=ModifiedNeuronResponse, responses=RESPONSES)
def modified_neuron_route(req: ModifiedNeuronRequest) -> ModifiedNeuronResponse:
    """Exercise: one neuron with its own activation f; backpropagation uses f'(z^l_j) there."""
    m = modified_neuron(req.network.build(), req.inputs, req.targets, req.cost, req.layer, req.neuron - 1, req.f)
    _finite(m.cost, m.deltas, m.nabla_w, m.nabla_b, m.f_prime, m.sigma_prime)
    return ModifiedNeuronResponse.of(m)


@router.post("/linear-network", response_model=LinearNetworkResponse, responses=RESPONSES)
def linear_network_route(req: LinearNetworkRequest) -> LinearNetworkResponse:
    """Exercise: the same weights with σ(z) = z; δ^l = (w^{l+1})^T … (w^L)^T ∇_aC."""
    n = linear_network(req.network.build(), req.inputs, req.targets, req.cost, req.example)
    _finite(n.nabla_a, n.maps, n.deltas, n.deltas_backprop)
    return LinearNetworkResponse.of(n)


@router.post("/cost-comparison", response_model=CostComparisonResponse, responses=RESPONSES)
def cost_comparison(req: CostComparisonRequest) -> CostComparisonResponse:
    """Exercise: δ^L for quadratic cost keeps σ'(z^L); for cross-entropy with sigmoid outputs δ^L = a^L − y."""
    c = compare_costs(req.network.build(), req.inputs, req.targets, req.example)
    _finite(c.z, c.a, c.quadratic.delta, c.quadratic.nabla_a, c.cross_entropy.delta, c.cross_entropy.nabla_a,
            c.quadratic.cost, c.cross_entropy.cost)
    return CostComparisonResponse.of(c)


# --- the page's instruments panel: HTML fragments for a run of the step-through page ------------
#
# GET /instruments/{run_id}/{name} renders one instrument for the run's network, example and
# cost. The query string carries the instrument's own settings (layer, neuron, …) as short texts;
# they go through the same request models as the JSON API, so the limits and the messages are
# the same, and an invalid setting comes back as a 422 fragment that names it.

InstrumentName = Literal[
    "speed", "demon", "saturation", "paths", "matrix-form", "minibatch",
    "modified-neuron", "linear-network", "cost-comparison",
]
TABS: tuple[tuple[InstrumentName, str], ...] = (
    ("speed", "Why it is fast"),
    ("demon", "The demon"),
    ("saturation", "Saturation"),
    ("paths", "Sum over paths"),
    ("matrix-form", "Matrix form"),
    ("minibatch", "Inside a mini-batch"),
    ("modified-neuron", "Modified neuron"),
    ("linear-network", "Linear neurons"),
    ("cost-comparison", "Cross-entropy"),
)
GROWTH_WIDTHS = (2, 4, 8, 16, 32, 64)
RUN_FIELDS = {"network", "cost", "inputs", "targets"}
EXPIRED = "This run is unknown or has expired: reload the page."
BATCH_SIZE = 3

page_router = APIRouter(prefix="/instruments", tags=["instruments"], include_in_schema=False)
templates.env.filters["num"] = fmt
templates.env.filters["full"] = full
templates.env.filters["detail"] = detail
templates.env.globals["sub"] = sub
templates.env.globals["sup"] = sup
templates.env.globals["TABS"] = TABS


def _numbers(text: str) -> list[str]:
    return number_tokens(text)  # the forms' one reader: every minus sign a person may paste, "−" included


def _rows(text: str) -> list[list[str]]:
    return [_numbers(line) for line in text.splitlines() if line.strip()]


def _matrix_tex(rows: list[list[float]]) -> str:
    """A matrix in brackets that stretch around all its rows (a column vector: one number a row).

    \\left[ … \\right] rather than pmatrix: latex2mathml writes pmatrix's fences as plain
    operators in the middle of the line, which Chromium does not stretch.
    """
    body = r" \\ ".join(" & ".join(tex(v) for v in row) for row in rows)
    return rf"\left[\begin{{matrix}} {body} \end{{matrix}}\right]"


def _column_tex(values: list[float]) -> str:
    return _matrix_tex([[v] for v in values])


templates.env.globals["mathml"] = mathml
templates.env.globals["mathml_line"] = mathml_line
templates.env.filters["prose_math"] = prose_math
templates.env.filters["matrix_tex"] = _matrix_tex
templates.env.filters["column_tex"] = _column_tex


def _body(run: Run, query: dict[str, str], name: InstrumentName) -> dict[str, Any]:
    """The instrument's request: the run's network, example and cost, then the query's settings."""
    req = run.page.request
    body: dict[str, Any] = {
        "network": run.trace.network.to_dict(),
        "cost": req.cost,
        "inputs": req.inputs,
        "targets": req.targets,
    }
    settings = {k: v for k, v in query.items() if v != ""}
    for key in RUN_FIELDS & settings.keys() - ({"inputs", "targets"} if name == "minibatch" else set()):
        raise ValueError(f"{key}: set by the run; change it in the configuration above")
    if name == "demon" and "nudges" in settings:
        settings["nudges"] = _numbers(settings["nudges"])  # type: ignore[assignment]
    if name == "minibatch":
        body["inputs"], body["targets"] = _rows(settings.pop("inputs", "")), _rows(settings.pop("targets", ""))
    if name == "speed" and "width" in settings:
        width = settings.pop("width")
        if not width.isdigit() or not 1 <= int(width) <= get_settings().max_width:
            raise ValueError(f"width: a whole number of neurons from 1 to {get_settings().max_width}, got {width!r}")
        body["network"] = widen(run.trace.network, int(width)).to_dict()
    return {**body, **settings}


def _batch_texts(run: Run) -> dict[str, str]:
    """The mini-batch the panel starts from: the run's example and BATCH_SIZE − 1 seeded others."""
    req = run.page.request
    X, Y = example_batch(req.inputs[0], req.targets[0], BATCH_SIZE)
    return {
        name: "\n".join(", ".join(repr(float(v)) for v in row) for row in M.tolist())
        for name, M in (("inputs", X), ("targets", Y))
    }


def _defaults(run: Run, name: InstrumentName) -> dict[str, str]:
    """The settings an instrument opens with, as the texts its form shows."""
    sizes = run.trace.network.sizes
    if name in ("demon", "paths", "modified-neuron"):
        first = {"layer": "2", "neuron": "1"}
        if name == "paths":
            return {**first, "input": "1", "top": "10"}
        if name == "modified-neuron":
            return {**first, "f": "tanh" if run.trace.network.activation_names[0] != "tanh" else "sigmoid"}
        return {**first, "nudges": "-2, -0.5, -0.1, -0.01, 0.01, 0.1, 0.5, 2"}
    if name == "matrix-form":
        return {"layer": "2" if max(sizes[1:]) <= get_settings().max_matrix_form_width else str(len(sizes))}
    if name == "saturation":
        return {"sigma_prime_threshold": "0.01", "activation_threshold": "0.01", "limit": "20"}
    if name == "minibatch":
        return _batch_texts(run)
    return {}


MODELS: dict[InstrumentName, type[InstrumentRequest]] = {
    "speed": GradcheckRequest,
    "demon": DemonRequest,
    "saturation": SaturationRequest,
    "paths": PathsRequest,
    "matrix-form": MatrixFormRequest,
    "minibatch": MiniBatchRequest,
    "modified-neuron": ModifiedNeuronRequest,
    "linear-network": LinearNetworkRequest,
    "cost-comparison": CostComparisonRequest,
}
HANDLERS: dict[InstrumentName, Callable[[Any], BaseModel]] = {
    "speed": gradcheck,
    "demon": demon_route,
    "saturation": saturation_route,
    "paths": paths,
    "matrix-form": matrix_form_route,
    "minibatch": minibatch,
    "modified-neuron": modified_neuron_route,
    "linear-network": linear_network_route,
    "cost-comparison": cost_comparison,
}


def _growth(run: Run, req: GradcheckRequest) -> list[tuple[int, GradcheckResponse]]:
    """The speed comparison for the run's network widened step by step, while P stays in bounds."""
    limit = get_settings().max_gradcheck_parameters
    rows: list[tuple[int, GradcheckResponse]] = []
    for width in GROWTH_WIDTHS:
        net = widen(run.trace.network, width)
        if net.num_parameters > limit or net.num_parameters * len(req.inputs) > get_settings().max_gradcheck_work:
            break
        spec = NetworkSpec.model_validate(net.to_dict())
        rows.append((width, gradcheck(req.model_copy(update={"network": spec}))))
    return rows


def _fragment(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    return templates.TemplateResponse(request, f"instruments/{name}", context, status_code=status)


def _error(request: Request, name: InstrumentName, message: str, status: int = 422) -> HTMLResponse:
    return _fragment(request, "error.html", {"name": name, "message": message}, status)


@page_router.get("/{run_id}", response_class=HTMLResponse)
def instruments_panel(request: Request, run_id: str, store: Store) -> HTMLResponse:
    """The panel of all instruments for a run: tabs, each with its settings form."""
    run = store.get(run_id)
    if run is None:
        return _fragment(request, "error.html", {"message": EXPIRED}, 404)
    return _fragment(request, "_panel.html", {"run": run})


@page_router.get("/{run_id}/{name}", response_class=HTMLResponse)
def instrument_fragment(request: Request, run_id: str, name: InstrumentName, store: Store) -> HTMLResponse:
    """One instrument for the run's network, example and cost, as an HTML fragment."""
    run = store.get(run_id)
    if run is None:
        return _error(request, name, EXPIRED, 404)
    settings = {**_defaults(run, name), **dict(request.query_params)}
    try:
        req = MODELS[name].model_validate(_body(run, settings, name), strict=False)
        out = HANDLERS[name](req)
        growth = _growth(run, req) if isinstance(req, GradcheckRequest) else []
    except ValidationError as e:
        return _error(request, name, validation_message(clean_errors(e.errors())[0]))
    except (InputError, ValueError) as e:
        return _error(request, name, str(e))
    context = {
        "run": run,
        "name": name,
        "req": req,
        "out": out,
        "settings": settings,
        "sizes": req.network.sizes,
        "growth": growth,
    }
    return _fragment(request, f"{name}.html", context)


templates.env.globals["instrument_defaults"] = _defaults
