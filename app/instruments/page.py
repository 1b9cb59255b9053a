"""The page's instruments panel: HTML fragments of the chapter's instruments for a run of the step-through.

GET /instruments/{run_id}/{name} renders one instrument for the run's network, example and
cost. The query string carries the instrument's own settings (layer, neuron, …) as short texts;
they go through the same request models as the JSON API, so the limits and the messages are
the same, and an invalid setting comes back as a 422 fragment that names it. (An instrument's
"settings" are its query's texts; the app's limits, ``limits`` here, come from ``SettingsDep``.)

The one arrow to another feature: the panel follows the run on screen, so it reads the
step-through's run store (``app.stepper.runs``).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment
from pydantic import ValidationError

from backprop_lens.app.core.deps import SettingsDep
from backprop_lens.app.core.errors import InputError, clean_errors, unknown_name, validation_message
from backprop_lens.app.core.format import tex
from backprop_lens.app.core.forms import ascii_minus, number_tokens
from backprop_lens.app.core.schemas import NetworkSpec
from backprop_lens.app.core.settings import Settings
from backprop_lens.app.core.templating import templates_of
from backprop_lens.app.instruments import routes
from backprop_lens.app.instruments.registry import BY_NAME, INSTRUMENTS
from backprop_lens.app.instruments.schemas import GradcheckRequest, GradcheckResponse
from backprop_lens.app.stepper.runs import Run, Store
from backprop_lens.engine.insight import example_batch, widen

GROWTH_WIDTHS = (2, 4, 8, 16, 32, 64)
RUN_FIELDS = {"network", "cost_function", "inputs", "targets"}
EXPIRED = "This run is unknown or has expired: reload the page."
BATCH_SIZE = 3

router = APIRouter(prefix="/instruments", tags=["instruments"], include_in_schema=False)


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


def register_templates(env: Environment) -> None:
    """What the instruments' templates need beyond the core's filters (``create_app`` calls it)."""
    env.filters.update(matrix_tex=_matrix_tex, column_tex=_column_tex)
    env.globals.update(INSTRUMENTS=INSTRUMENTS)


def _body(run: Run, query: dict[str, str], name: str, limits: Settings) -> dict[str, Any]:
    """The instrument's request: the run's network, example and cost, then the query's settings."""
    req = run.page.request
    body: dict[str, Any] = {
        "network": run.trace.network.to_dict(),
        "cost_function": req.cost_function,
        "inputs": req.inputs,
        "targets": req.targets,
    }
    settings = {k: ascii_minus(v) for k, v in query.items() if v != ""}  # "−0.01" reads as −0.01
    for key in RUN_FIELDS & settings.keys() - ({"inputs", "targets"} if name == "minibatch" else set()):
        raise ValueError(f"{key}: set by the run; change it in the configuration above")
    if name == "demon" and "nudges" in settings:
        settings["nudges"] = _numbers(settings["nudges"])  # type: ignore[assignment]
    if name == "minibatch":
        body["inputs"], body["targets"] = _rows(settings.pop("inputs", "")), _rows(settings.pop("targets", ""))
    if name == "speed" and "width" in settings:
        width = settings.pop("width")
        most = limits.max_width
        if not width.isdigit() or not 1 <= int(width) <= most:
            raise ValueError(f"width: a whole number of neurons from 1 to {most}, got {width!r}")
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


def _defaults(run: Run, name: str, limits: Settings) -> dict[str, str]:
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
        return {"layer": "2" if max(sizes[1:]) <= limits.max_matrix_form_width else str(len(sizes))}
    if name == "saturation":
        return {"sigma_prime_threshold": "0.01", "activation_threshold": "0.01", "limit": "20"}
    if name == "minibatch":
        return _batch_texts(run)
    return {}


def _growth(run: Run, req: GradcheckRequest, limits: Settings) -> list[tuple[int, GradcheckResponse]]:
    """The speed comparison for the run's network widened step by step, while P stays in bounds."""
    limit = limits.max_gradcheck_parameters
    rows: list[tuple[int, GradcheckResponse]] = []
    for width in GROWTH_WIDTHS:
        net = widen(run.trace.network, width)
        if net.num_parameters > limit or net.num_parameters * len(req.inputs) > limits.max_gradcheck_work:
            break
        spec = NetworkSpec.model_validate(net.to_dict())
        rows.append((width, routes.gradcheck(req.model_copy(update={"network": spec}))))
    return rows


def _fragment(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    return templates_of(request).TemplateResponse(request, f"instruments/{name}", context, status_code=status)


def _error(request: Request, name: str, message: str, status: int = 422) -> HTMLResponse:
    return _fragment(request, "_error.html", {"name": name, "message": message}, status)


@router.get("/{run_id}", response_class=HTMLResponse)
def instruments_panel(request: Request, run_id: str, store: Store, limits: SettingsDep) -> HTMLResponse:
    """The panel of all instruments for a run: tabs, each with its settings form."""
    run = store.get(run_id)
    if run is None:
        return _fragment(request, "_error.html", {"message": EXPIRED}, 404)
    # each tab's form opens with its defaults, within this app's limits
    return _fragment(request, "_panel.html", {"run": run, "instrument_defaults": partial(_defaults, limits=limits)})


@router.get("/{run_id}/{name}", response_class=HTMLResponse)
def instrument_fragment(request: Request, run_id: str, name: str, store: Store, limits: SettingsDep) -> HTMLResponse:
    """One instrument for the run's network, example and cost, as an HTML fragment."""
    instrument = BY_NAME.get(name)
    if instrument is None:
        raise InputError("path.name", unknown_name("instrument", name, list(BY_NAME)))
    run = store.get(run_id)
    if run is None:
        return _error(request, name, EXPIRED, 404)
    settings = {**_defaults(run, name, limits), **dict(request.query_params)}
    try:
        req = instrument.model.model_validate(_body(run, settings, name, limits), strict=False)
        out = instrument.handler(req)
        growth = _growth(run, req, limits) if isinstance(req, GradcheckRequest) else []
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
    return _fragment(request, f"_{name}.html", context)
