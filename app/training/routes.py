"""Training mode: the /train page, its fragments, its controls and its progress stream.

A run is created by the form (POST /train/runs) and trains where the
``app.training.backend.TrainingBackend`` says: in a thread of this process once its
event stream opens, or, with Redis, in a ``backprop-lens worker`` that takes it from a
queue (the stream sends ``queue`` events with its place meanwhile). The stream sends
``progress`` events and ends with one ``done`` event. Closing the page closes the stream,
and that stops the training.
Pause, resume, stop, one mini-batch while paused, a new η during the run and inspect are plain
POSTs answered with fragments. These are the
page's own routes, left out of the OpenAPI document (as the step-through page's are); only
the network download, JSON, is in it.

The engine does the work (``engine.training``, ``engine.trace``); this module
parses, validates, keeps a bounded set of runs and renders.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent
from jinja2 import Environment
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from backprop_lens.app.core.deps import SettingsDep, is_htmx
from backprop_lens.app.core.errors import clean_errors, first_message
from backprop_lens.app.core.forms import Form, read_number
from backprop_lens.app.core.lifecycle import Closing
from backprop_lens.app.core.limits import at_most
from backprop_lens.app.core.palette import diverging
from backprop_lens.app.core.schemas import ErrorBody
from backprop_lens.app.core.settings import Settings
from backprop_lens.app.core.slots import Slot, StreamSlots, client_of
from backprop_lens.app.core.templating import templates_of
from backprop_lens.app.training.backend import TrainingBackend
from backprop_lens.app.training.schemas import (
    BOUND_ERRORS,
    CSV_HELP,
    DATASET_LABELS,
    FORM_LABELS,
    TrainConfig,
    form_errors,
    form_field,
    form_texts,
    labelled,
    plain_message,
)
from backprop_lens.app.training.store import Action, Training, build_training
from backprop_lens.app.training.view import NET_DRAWN_WIDTH, empty_charts
from backprop_lens.engine import Trace, trace
from backprop_lens.engine.datasets import GENERATED
from backprop_lens.engine.training import classify

router = APIRouter(prefix="/train", tags=["training"])
EVENT_ID = r"^[0-9]{1,20}(-[0-9]{1,20})?$"  # a progress event's id: an epoch count, or a Redis stream entry id

STEP_THROUGH_LINK_CHARS = 8000  # longer links (large networks' weights) are not offered

HTML_ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorBody, "description": "The body is larger than the limit."},
    415: {"model": ErrorBody, "description": "The body is not a form (application/x-www-form-urlencoded)."},
    422: {"description": "Fields are out of bounds or malformed: the form again, each error beside its field."},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such training run (it may have been replaced by newer ones)."}
}


RunId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{8,32}$", description="The id of a training run.")]


def get_trainings(request: Request) -> TrainingBackend:
    """The trainings of the app serving ``request`` (``create_app`` makes them from the app's settings)."""
    backend: TrainingBackend = request.app.state.trainings
    return backend


Trainings = Annotated[TrainingBackend, Depends(get_trainings)]


def get_run(run_id: RunId, store: Trainings) -> Training:
    return store.get(run_id)


RunDep = Annotated[Training, Depends(get_run)]


async def training_stream_slot(request: Request, run: RunDep) -> AsyncIterator[Slot]:
    """A stream slot (``max_streams``) within the client's share for trainings (``max_training_streams_per_client``).

    Taken before the event generator starts, so that a refusal is a real 429 (or 503), and given back when the
    response has ended however it ended (the request's exit stack runs after the stream, also on a disconnect).
    """
    pool: StreamSlots = request.app.state.streams
    per_client: int = request.app.state.settings.max_training_streams_per_client
    slot = pool.acquire(client_of(request), per_client, "max_training_streams_per_client", kind="training")
    try:
        yield slot
    finally:
        slot.release()


TrainingSlot = Annotated[Slot, Depends(training_stream_slot)]


# --- rendering helpers (presentation only) ------------------------------------------------


def _render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    response = templates_of(request).TemplateResponse(request, name, context, status_code=status)
    response.headers["vary"] = "HX-Request"
    return response


def _form_error(
    request: Request, form: dict[str, str], errors: dict[str, str], status: int, settings: Settings
) -> HTMLResponse:
    """The form again with each error beside its field; the run on screen stays (htmx retargets the swap)."""
    if not is_htmx(request):
        return _render(request, "train/page.html", _page_context(form, None, settings, errors), status)
    response = _render(request, "train/_form.html", _form_context(form, errors, settings), status)
    response.headers["hx-retarget"] = "#train-form"
    response.headers["hx-reswap"] = "outerHTML"
    return response


def _form_context(
    form: dict[str, str], errors: dict[str, str], settings: Settings, oob: bool = False
) -> dict[str, Any]:
    return {
        "form": form,
        "errors": errors,
        "oob": oob,
        "datasets": DATASET_LABELS,
        "generated": GENERATED,
        "csv_help": CSV_HELP,
        "limits": settings,
    }


def _page_context(
    form: dict[str, str], run: Training | None, settings: Settings, errors: dict[str, str] | None = None
) -> dict[str, Any]:
    return {**_form_context(form, errors or {}, settings), "run": run}


def _run_context(run: Training, settings: Settings) -> dict[str, Any]:
    data = run.data
    return {
        "run": run,
        "datasets": DATASET_LABELS,
        "kind": "2d" if run.bounds is not None else ("image" if data.image_shape else "plain"),
        "hidden": run.session.initial.sizes[1] if len(run.session.initial.sizes) > 2 else 0,
        "draw_net": max(run.session.initial.sizes) <= NET_DRAWN_WIDTH,
        "charts": empty_charts(run.config.epochs, len(run.session.initial.sizes) - 1),
        "limits": settings,
        "points": list(zip(data.x_train.tolist(), data.y_train[:, 0].tolist(), strict=True)) if run.bounds else [],
        "test_points": list(zip(data.x_test.tolist(), data.y_test[:, 0].tolist(), strict=True)) if run.bounds else [],
    }


# --- the page and the run ------------------------------------------------------------------


@router.get("", operation_id="training_page", response_class=HTMLResponse, include_in_schema=False)
def page(request: Request, settings: SettingsDep) -> HTMLResponse:
    """The whole page: the form, and an empty run region until a run starts."""
    return _render(request, "train/page.html", _page_context(form_texts(TrainConfig()), None, settings))


@router.post(
    "/runs",
    operation_id="create_training",
    response_class=HTMLResponse,
    include_in_schema=False,
    responses={
        **HTML_ERRORS,
        429: {"description": "Too many trainings are running, or this client has too many; the form says which."},
    },
    summary="Create a training run",
)
def create_run(request: Request, fields: Form, trainings: Trainings, settings: SettingsDep) -> HTMLResponse:
    """Validate the form, build the data set and the network, keep the run; training starts with its stream."""
    form = {name: text.strip() for name, text in fields.items()}
    try:
        run = build_training(secrets.token_urlsafe(12), TrainConfig.model_validate(form), client_of(request))
    except ValidationError as exc:
        return _form_error(request, form, form_errors(exc), 422, settings)
    except ValueError as exc:
        return _form_error(request, form, {form_field(str(exc)): labelled(str(exc), FORM_LABELS)}, 422, settings)
    refused = trainings.add(run, settings.max_queued_trainings_per_client)
    if refused is not None:
        return _form_error(request, form, {"form": refused}, 429, settings)
    if is_htmx(request):
        # The run's region, and the form again without the errors of an earlier attempt (swapped by its id).
        run_html = templates_of(request).get_template("train/_run.html").render(_run_context(run, settings))
        form_html = (
            templates_of(request).get_template("train/_form.html").render(_form_context(form, {}, settings, oob=True))
        )
        return HTMLResponse(run_html + form_html, headers={"vary": "HX-Request"})
    return _render(request, "train/page.html", {**_page_context(form, run, settings), **_run_context(run, settings)})


@router.get(
    "/runs/{run_id}/events",
    operation_id="training_events",
    response_class=EventSourceResponse,
    include_in_schema=False,
    responses={
        **NOT_FOUND,
        429: {"model": ErrorBody, "description": "This client holds max_training_streams_per_client streams."},
        503: {"model": ErrorBody, "description": "All stream slots are in use; retry after Retry-After seconds."},
    },
    summary="The training's progress as Server-Sent Events",
)
async def events(
    request: Request,
    run: RunDep,
    slot: TrainingSlot,
    settings: SettingsDep,
    trainings: Trainings,
    last_event_id: Annotated[str | None, Header(pattern=EVENT_ID)] = None,
    after: Annotated[str | None, Query(alias="from", pattern=EVENT_ID)] = None,
) -> AsyncIterator[ServerSentEvent]:
    """Starts the training. `progress` events (at most about ten a second), then one `done` event.

    Each event carries the epochs measured since the previous one; `done` carries the final state and
    the last of them. With Redis a training waiting for a free worker first gets `queue` events with its
    place (1: next), and a page that reconnects (to any process) resumes after its `Last-Event-ID`, or
    after the id in `from` (a page that opens a new EventSource cannot set that header).

    The stream ends with the training; a client that goes away stops it, and so does the
    time limit ``max_training_seconds``. So does a server that shuts down (SIGTERM): its `done`
    says so in `message` (``app.core.lifecycle``).
    """
    closing: Closing = slot.closing
    async for event in trainings.stream(run, last_event_id or after, closing, settings.max_training_seconds):
        yield event


@router.post(
    "/runs/{run_id}/controls/{action}",
    operation_id="control_training",
    response_class=HTMLResponse,
    include_in_schema=False,
    responses=NOT_FOUND,
    summary="Pause, resume or stop a training",
)
def control(request: Request, run: RunDep, action: Action, trainings: Trainings) -> HTMLResponse:
    """Answers with the controls fragment for the new state."""
    paused = trainings.control(run, action)
    return _render(request, "train/_controls.html", {"run": run, "paused": paused})


class EtaForm(BaseModel):
    """A new learning rate for a running training, read as the training form reads η."""

    model_config = ConfigDict(extra="forbid")

    eta: Annotated[float, Field(gt=0.0, allow_inf_nan=False), at_most("max_eta")]

    @field_validator("eta", mode="before")
    @classmethod
    def _number(cls, v: object) -> object:
        if isinstance(v, str):
            if not v.strip():
                raise ValueError("eta: give a number")
            return read_number("eta", v)
        return v


@router.post(
    "/runs/{run_id}/eta",
    response_class=HTMLResponse,
    include_in_schema=False,
    responses={**HTML_ERRORS, **NOT_FOUND},
    summary="Change η during a training",
)
def set_eta(request: Request, run: RunDep, fields: Form, trainings: Trainings) -> HTMLResponse:
    """η from the next mini-batch on; each epoch's point of the history carries the η it ended with."""
    try:
        form = EtaForm.model_validate(fields)
    except ValidationError as exc:
        typed = fields.get("eta", "")
        items = clean_errors(exc.errors())
        message = plain_message(EtaForm, items[0], {"eta": "η"}) if items else "η: give a number"
        return _render(request, "train/_eta.html", {"run": run, "eta": typed, "error": message}, 422)
    trainings.set_eta(run, form.eta)
    # The η field with its note, and the run's title with the new η (swapped by its id).
    context = {"run": run, "eta": f"{form.eta:g}", "changed": True}
    html = templates_of(request).get_template("train/_eta.html").render(context)
    title = templates_of(request).get_template("train/_run_eta.html").render({**context, "oob": True})
    return HTMLResponse(html + title, headers={"vary": "HX-Request"})


@router.get(
    "/runs/{run_id}/network.json",
    operation_id="training_network",
    responses=NOT_FOUND,
    summary="The current network as JSON",
)
def network_json(run: RunDep, trainings: Trainings) -> JSONResponse:
    """The latest finite weights in the form `POST /api/gradients` and `/api/trace` accept as `network`."""
    return JSONResponse(trainings.network(run).to_dict(), headers={"cache-control": "no-store"})


# --- inspect one example ---------------------------------------------------------------------


class InspectForm(BaseModel):
    """Which example to inspect: numbered from 1, as the step-through page numbers examples."""

    model_config = ConfigDict(extra="forbid")

    split: Literal["train", "test"] = "train"
    example: Annotated[int, Field(ge=1), at_most("max_training_examples")] = 1

    @field_validator("example", mode="before")
    @classmethod
    def _number(cls, v: object) -> object:
        if isinstance(v, str) and not v.strip():
            raise ValueError("example: give a number")
        return read_number("example", v) if isinstance(v, str) else v


@router.post(
    "/runs/{run_id}/inspect",
    operation_id="inspect_training",
    response_class=HTMLResponse,
    include_in_schema=False,
    responses={**HTML_ERRORS, **NOT_FOUND},
    summary="The step-through of one example with the current weights",
)
def inspect(request: Request, run: RunDep, fields: Form, trainings: Trainings) -> Response:
    """One forward and backward pass of the chosen example through the current network."""
    try:
        form = InspectForm.model_validate(fields)
    except ValidationError as exc:
        items = clean_errors(exc.errors())
        if items and items[0].loc[:1] == ["example"] and items[0].type in BOUND_ERRORS:
            message = _examples(run, "test" if fields.get("split") == "test" else "train")
        else:
            message = plain_message(InspectForm, items[0], {"example": "example"}) if items else first_message(exc)
        return _render(request, "train/_errors.html", {"message": message}, 422)
    data = run.data
    x, y = (data.x_train, data.y_train) if form.split == "train" else (data.x_test, data.y_test)
    if form.example > x.shape[0]:
        return _render(request, "train/_errors.html", {"message": _examples(run, form.split)}, 422)
    net = trainings.network(run)
    row = form.example - 1
    t = trace(net, x[row], y[row], run.config.cost, trainings.eta(run))  # the η in force now
    return _render(request, "train/_inspect.html", _inspect_context(run, form, t))


def _examples(run: Training, split: Literal["train", "test"]) -> str:
    """Which example numbers the split has, in the page's words."""
    n = (run.data.x_train if split == "train" else run.data.x_test).shape[0]
    name = "training" if split == "train" else "test"
    if not n:
        return f"example: the {name} set has no examples"
    return f"example: the {name} set has {n} examples; give a whole number from 1 to {n}"


def step_through_link(t: Trace, x: list[float], y: list[float]) -> str | None:
    """A permalink to the step-through page ("/") for this network and example, if it is short enough.

    It carries the page's form texts: sizes, activations, cost, x, y, η and the weights as JSON. The path is
    the app's own: the template puts the root path before it.
    """
    net = t.network
    query = urlencode(
        {
            "sizes": ", ".join(str(n) for n in net.sizes),
            "activation": ", ".join(net.activation_names),
            "cost": t.cost,
            "x": ", ".join(repr(v) for v in x),
            "y": ", ".join(repr(v) for v in y),
            "eta": repr(t.eta),
            "weights": json.dumps([w.tolist() for w in net.weights]),
            "biases": json.dumps([b.tolist() for b in net.biases]),
        }
    )
    return f"/?{query}" if len(query) <= STEP_THROUGH_LINK_CHARS else None


def _inspect_context(run: Training, form: InspectForm, t: Trace) -> dict[str, Any]:
    g = t.gradients
    output = g.forward.activations[-1]
    target = next(s for s in t.steps if s.kind == "output_error").values["y"]
    assert not isinstance(target, tuple)
    image_rows: list[tuple[int, float, list[float]]] = []
    scale = 1.0
    if run.data.image_shape is not None and len(g.nabla_w) > 1:
        rows = g.nabla_w[0].tolist()
        deltas = g.deltas[0][0].tolist()
        image_rows = [(j, d, r) for j, (d, r) in enumerate(zip(deltas, rows, strict=True))]
        scale = max((abs(v) for r in rows for v in r), default=0.0) or 1.0
    x = t.steps[0].values["a"]
    assert not isinstance(x, tuple)
    return {
        "run": run,
        "form": form,
        "trace": t,
        "x": x,
        "output": output[0].tolist(),
        "target": target[0].tolist(),
        "step_through": step_through_link(t, x[0].tolist(), target[0].tolist()),
        "predicted": run.data.classes[int(classify(output)[0])],
        "actual": run.data.classes[int(classify(target)[0])],
        "layers": [
            {"layer": i + 2, "a": a[0].tolist(), "delta": d[0].tolist()}
            for i, (a, d) in enumerate(zip(g.forward.activations[1:], g.deltas, strict=True))
        ],
        "image_rows": image_rows,
        "scale": scale,
        "image_shape": run.data.image_shape,
    }


# --- colour filters for the templates ------------------------------------------------------


def gray(v: float) -> str:
    """A pixel in [0, 1] as ink on paper: 0 white, 1 black."""
    level = round(255 * (1.0 - min(max(v, 0.0), 1.0)))
    return f"rgb({level},{level},{level})"


def register_templates(env: Environment) -> None:
    """The filters the training templates need beyond the core's (``create_app`` calls it): ``diverging`` is
    the palette's blue/orange ramp, the one the step-through and the training view use."""
    env.filters.update(gray=gray, diverging=diverging)
