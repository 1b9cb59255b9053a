"""The step-through page: the full page, the configuration form and the fragment of step k.

``GET /`` shows the worked example (one run shared by every page, stored
nowhere) or a permalink's configuration, ready to play. The form posts to
``/runs``, which validates it through the JSON API's schema, asks the engine for
the trace, keeps it in the run store and returns the run's region. Stepping is
``GET /runs/{id}/steps/{k}``: the trace already exists (a process that lacks it
recomputes it from the run's configuration), so the server only renders. The
same URL gives the full page to a browser without htmx (``Vary: HX-Request``).
Playing is ``app.stepper.stream``. Practice posts one line's result, worked by hand, to
``/runs/{id}/steps/{k}/check`` (JSON), checked as a class's answers are (``app.stepper.view.quantities``).
The app's limits come from the ``SettingsDep`` dependency.

Left out: anything computed here. Numbers come from the engine, their
presentation from ``app.stepper.view``.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict, Field

from backprop_lens.app.core.compute import run_replay
from backprop_lens.app.core.deps import SettingsDep, is_htmx
from backprop_lens.app.core.errors import InputError, error_response
from backprop_lens.app.core.forms import Form, ascii_minus
from backprop_lens.app.core.schemas import ErrorBody
from backprop_lens.app.core.settings import Settings
from backprop_lens.app.core.templating import root_of, templates_of
from backprop_lens.app.stepper.form import (
    MAX_SEED,
    FormError,
    PageRequest,
    has_configuration,
    parse_form,
    read_position,
    with_new_numbers,
)
from backprop_lens.app.stepper.history import chart
from backprop_lens.app.stepper.runs import Run, RunStore, Store
from backprop_lens.app.stepper.stage_cache import StageCache
from backprop_lens.app.stepper.view import step_view
from backprop_lens.app.stepper.view.export import SVG_CSP, diagram_svg, equation_tex
from backprop_lens.app.stepper.view.model import RunView, StepView
from backprop_lens.app.stepper.view.present import present_view
from backprop_lens.app.stepper.view.quantities import (
    KEY_PATTERN,
    MAX_ANSWER_CHARS,
    AnswerError,
    check,
    find,
    parse_answer,
)
from backprop_lens.engine import Trace

PAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "The run is unknown or has expired: an HTML page linking back to /."},
    413: {"model": ErrorBody, "description": "The form is larger than the body limit."},
    415: {"description": "The form is not application/x-www-form-urlencoded."},
    422: {"description": "A field of the form is invalid: the form again, each error beside its field."},
}

router = APIRouter(tags=["page"], include_in_schema=False)


def compute(page: PageRequest) -> tuple[Trace, list[float]]:
    """The trace of the configuration after ``page.iteration`` gradient steps and C at each iteration up to
    it; FormError if it overflows."""
    try:
        return run_replay(page.request, page.iteration)
    except (InputError, ValueError) as e:
        message = e.message if isinstance(e, InputError) else str(e)
        raise FormError({"form": f"network: {message}"}, page.form) from None


def _new_run(store: RunStore, page: PageRequest) -> Run:
    return store.add(page, *compute(page))


def view_of(run: Run, k: int) -> StepView:
    """Step k of the run as the page shows it; in lecture mode with the diagram drawn for a projector."""
    view = step_view(run.id, run.trace, k, lecture=run.page.present, scale=run.page.scale)
    return present_view(view) if run.page.present else view


def _context(settings: Settings, run: Run, k: int, **extra: Any) -> dict[str, Any]:
    return {
        "run": run,
        "line": extra.pop("line", 0),  # the line of the equation on screen, from 1 (lecture mode walks them)
        "view": view_of(run, k),
        "form": extra.pop("form", run.page.form),
        "errors": extra.pop("errors", {}),
        "max_layers": settings.max_trace_layers_page,
        "shown": run.page,  # the network on screen, which the configuration's summary describes
        "previous_sizes": ", ".join(str(n) for n in run.page.request.network.sizes),
        "notice": run.page.notice,
        "history": chart(list(run.history)),
        "history_note": extra.pop("history_note", ""),
        "max_iterations": settings.max_page_iterations,
        "max_answer_chars": MAX_ANSWER_CHARS,
        **extra,
    }


def made_once(
    cache: StageCache | None, templates: Jinja2Templates, run: Run, k: int, make: Callable[[], str], *kind: str
) -> str:
    """What ``make`` gives for step k of the run (a ``kind`` of it: the step itself, its patch …), made once per
    run, root path and process with a cache, every time without one."""
    if cache is None:
        return make()
    return cache.get((run.id, str(templates.env.globals.get("root", "")), k, *kind), make)


def render_stage(templates: Jinja2Templates, run: Run, k: int, cache: StageCache | None = None) -> str:
    """The HTML of step k (the inside of ``#stage``), for a swap or a stream event; rendered once with a cache."""

    def render() -> str:
        return templates.get_template("page/_stage.html").render(view=view_of(run, k))

    return made_once(cache, templates, run, k, render)


_cache_lock = threading.Lock()


def stage_cache_of(request: Request, settings: Settings) -> StageCache:
    """The app's cache of rendered steps, made on first use with ``stage_cache_bytes``."""
    state = request.app.state
    with _cache_lock:
        cache: StageCache | None = getattr(state, "stage_cache", None)
        if cache is None:
            cache = state.stage_cache = StageCache(settings.stage_cache_bytes)
    return cache


def not_found(request: Request, message: str = "This run is unknown or has expired.") -> HTMLResponse:
    return templates_of(request).TemplateResponse(request, "page/not_found.html", {"message": message}, status_code=404)


def no_such_step(request: Request, run: Run, k: int) -> HTMLResponse:
    """The 404 of a step a live run does not have: its steps, and a link to its first (nothing about expiry)."""
    context = {"message": f"This run has steps 1 to {run.steps}; there is no step {k + 1}.", "run": run}
    return templates_of(request).TemplateResponse(request, "page/not_found.html", context, status_code=404)


def _parse(settings: Settings, form: Mapping[str, str]) -> PageRequest:
    return parse_form(form, settings.max_trace_layers_page, settings.max_page_iterations)


def _page(
    request: Request, settings: Settings, run: Run, k: int = 0, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    return templates_of(request).TemplateResponse(
        request, "page/page.html", _context(settings, run, k, **extra), status_code=status_code
    )


@router.get("/", response_class=HTMLResponse, responses=PAGE_RESPONSES)
def index(request: Request, store: Store, settings: SettingsDep) -> HTMLResponse:
    """The page, on the worked example or on the configuration a permalink carries, at its ``step`` and ``line``."""
    query = dict(request.query_params)
    try:
        if set(query) <= {"present", "step", "line"} and query.get("present", "") in ("", "0", "1"):
            # one shared run: a page load stores nothing, evicts nobody
            run = store.example(query.get("present") == "1")
        else:
            run = _new_run(store, _parse(settings, query))
    except FormError as e:
        return _page(request, settings, store.example(), status_code=422, form=e.form, errors=e.errors)
    return _at_position(request, settings, run, query)


def _at_position(request: Request, settings: Settings, run: Run, query: Mapping[str, str]) -> HTMLResponse:
    """The page of ``run`` at the step and line ``query`` names; a 422 at its first step if it names them wrong."""
    try:
        k, line = read_position(query, run.steps)
    except ValueError as e:
        return _page(request, settings, run, status_code=422, errors={"form": str(e)})
    return _page(request, settings, run, k, line=line)


def _found(request: Request, store: RunStore, settings: Settings, run_id: str) -> Run | None:
    """The run, or, if unknown, the run made again under its id from the configuration in the URL's query."""
    run = store.get(run_id)
    query = dict(request.query_params)
    if run is not None or not has_configuration(query):
        return run
    try:
        return store.revive(run_id, _parse(settings, query))
    except FormError:
        return None


@router.post("/runs", response_class=HTMLResponse, responses=PAGE_RESPONSES)
def create_run(request: Request, store: Store, form: Form, settings: SettingsDep) -> Response:
    """A new run from the form: its region for htmx, a redirect to its permalink otherwise. *New numbers*
    (``numbers=new``) keeps the architecture and draws a fresh seed for the weights, x and y."""
    if form.get("numbers") == "new":
        form = with_new_numbers(form, secrets.randbelow(MAX_SEED + 1))
    try:
        run = _new_run(store, _parse(settings, form))
    except FormError as e:
        if not is_htmx(request):
            return _page(request, settings, store.example(), status_code=422, form=e.form, errors=e.errors)
        # The error goes beside its field; the network on screen stays, and so does the summary describing it.
        html = (
            templates_of(request)
            .get_template("page/_config_form.html")
            .render(
                form=e.form,
                errors=e.errors,
                max_layers=settings.max_trace_layers_page,
                previous_sizes=form.get("previous_sizes", ""),
            )
        )
        return HTMLResponse(html, status_code=422, headers={"HX-Retarget": "#config", "HX-Reswap": "outerHTML"})
    if not is_htmx(request):
        return RedirectResponse(f"{root_of(request)}/?{run.page.query()}", status_code=303)
    return _run_region(request, settings, run, config=True)


def _run_region(request: Request, settings: Settings, run: Run, config: bool = False, k: int = 0) -> HTMLResponse:
    ctx = _context(settings, run, k)
    html = templates_of(request).get_template("page/_run.html").render(ctx)
    if config:
        # Clear earlier error messages; the panel stays open for the next change.
        html += templates_of(request).get_template("page/_config.html").render(ctx, oob=True)
    return HTMLResponse(html)


@router.get("/runs/{run_id}", response_class=HTMLResponse, responses=PAGE_RESPONSES)
def show_run(
    request: Request, run_id: str, store: Store, settings: SettingsDep, present: str | None = None
) -> HTMLResponse:
    """The page of a run (at ``?step=`` and ``?line=``, else its first step); ``?present=1`` in lecture mode,
    ``?present=0`` out of it. An unknown run whose URL carries its configuration is made again under its id."""
    run = _found(request, store, settings, run_id)
    if run is None:
        return not_found(request)
    if present is not None:
        if present not in ("0", "1"):
            errors = {"form": f"present: 1 or 0, got {present!r}"}
            return _page(request, settings, run, status_code=422, errors=errors)
        run = store.presenting(run, present == "1")
    return _at_position(request, settings, run, request.query_params)


@router.post("/runs/{run_id}/present", response_class=HTMLResponse, responses=PAGE_RESPONSES)
def present_run(
    request: Request, run_id: str, store: Store, settings: SettingsDep, on: bool = True, step: int = 0
) -> Response:
    """The run in lecture mode (``on=true``) or out of it (``on=false``), at step ``step``: its region for htmx."""
    run = store.get(run_id)
    if run is None:
        return not_found(request)
    if not 0 <= step < run.steps:
        return no_such_step(request, run, step)
    toggled = store.presenting(run, on)
    if not is_htmx(request):
        return RedirectResponse(f"{root_of(request)}/runs/{toggled.id}/steps/{step}", status_code=303)
    return _run_region(request, settings, toggled, k=step)


@router.get("/runs/{run_id}/steps/{k}", response_class=HTMLResponse, responses=PAGE_RESPONSES)
def show_step(request: Request, run_id: str, k: int, store: Store, settings: SettingsDep) -> HTMLResponse:
    """Step k: the inside of ``#stage`` for htmx, the full page otherwise (at ``?line=``). An unknown run whose URL
    carries its configuration (as every address the page writes does) is made again under its id."""
    run = _found(request, store, settings, run_id)
    if run is None:
        return not_found(request)
    if not 0 <= k < run.steps:
        return no_such_step(request, run, k)
    if is_htmx(request):
        response = HTMLResponse(render_stage(templates_of(request), run, k, stage_cache_of(request, settings)))
    else:
        try:
            _, line = read_position({"line": request.query_params.get("line", "")}, run.steps)
            response = _page(request, settings, run, k, line=line)
        except ValueError as e:
            response = _page(request, settings, run, k, status_code=422, errors={"form": str(e)})
    response.headers["Vary"] = "HX-Request"
    return response


def _status_422(message: str) -> HTMLResponse:
    """A refusal of *Run the next iteration*: its message, in the chart's status line for htmx."""
    return HTMLResponse(message, status_code=422, headers={"HX-Retarget": "#history-status", "HX-Reswap": "innerHTML"})


def _shown(digits: str) -> str:
    """A count of iterations as a message shows it: whole up to 30 digits, else its first digits and its length."""
    return digits if len(digits) <= 30 else f"{digits[:6]}… ({len(digits)} digits)"


def _iterations(by: str) -> tuple[int, str] | str:
    """``by`` as a count of iterations and the count as a message shows it, or the message that names what is
    wrong with it. A whole number of any length is one: past 4000 digits (``int`` reads at most 4300) it stands as
    10⁴³⁰⁰, above every limit, and the limit's message names it by its first digits and its length."""
    m = re.fullmatch(r"([+-]?)0*([0-9]+)", ascii_minus(by.strip()))
    if m is None:
        return f"by: a whole number of iterations, got {by[:40]!r}" + ("…" if len(by) > 40 else "")
    sign, digits = m.groups()
    if sign == "-" or digits == "0":
        return f"by: run 1 or more iterations, got {sign + _shown(digits) if digits != '0' else 0}"
    return (int(digits) if len(digits) <= 4000 else 10**4300), _shown(digits)


@router.post("/runs/{run_id}/next", response_class=HTMLResponse, responses=PAGE_RESPONSES)
def next_iteration(request: Request, run_id: str, store: Store, settings: SettingsDep, by: str = "1") -> Response:
    """The same configuration ``by`` gradient steps further (1, 10, 100 …), as a new run at its first step.

    ``by`` is read here rather than by FastAPI so that every bad value is the same 422 as the limit's."""
    run = store.get(run_id)
    if run is None:
        return not_found(request)
    parsed = _iterations(by)
    if isinstance(parsed, str):
        return _status_422(parsed)
    count, shown = parsed
    most = settings.max_page_iterations
    # a run is its configuration, which must stay recomputable within the limits
    if run.page.iteration + count > most:
        return _status_422(
            f"iteration: the page replays at most {most} iterations; this run is at {run.page.iteration}, "
            f"so it can run {max(0, most - run.page.iteration)} more, not {shown}"
        )
    try:
        new = _new_run(store, run.page.next(count))
    except FormError as e:
        return _status_422(e.errors.get("form", "the next iteration cannot be computed"))
    if not is_htmx(request):
        return RedirectResponse(f"{root_of(request)}/runs/{new.id}", status_code=303)
    return _run_region(request, settings, new)


def _step_of(request: Request, store: RunStore, run_id: str, k: int) -> Run | HTMLResponse:
    run = store.get(run_id)
    if run is None:
        return not_found(request)
    if not 0 <= k < run.steps:
        return no_such_step(request, run, k)
    return run


@router.get("/runs/{run_id}/steps/{k}/diagram.svg", responses=PAGE_RESPONSES)
def download_diagram(request: Request, run_id: str, k: int, store: Store) -> Response:
    """Step k's diagram as a standalone SVG file (styles inside, generic fonts), for slides."""
    run = _step_of(request, store, run_id, k)
    if isinstance(run, HTMLResponse):
        return run
    svg = diagram_svg(templates_of(request).env, view_of(run, k), run.page.iteration)
    name = f"diagram-{run.id[:8]}-step{k + 1}.svg"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Content-Security-Policy": SVG_CSP}
    return Response(svg, media_type="image/svg+xml", headers=headers)


@router.get("/runs/{run_id}/steps/{k}/equation.tex", responses=PAGE_RESPONSES)
def download_equation(request: Request, run_id: str, k: int, store: Store, settings: SettingsDep) -> Response:
    """Step k's equation with this example's numbers, as LaTeX (amsmath's gather*), for slides."""
    run = _step_of(request, store, run_id, k)
    if isinstance(run, HTMLResponse):
        return run
    # absolute, for a slide that leaves the browser: the host and root path this request came through
    permalink = f"{str(request.base_url).rstrip('/')}/?{run.page.query()}"
    tex = equation_tex(run.trace, k, permalink, settings.max_export_neurons)
    name = f"equation-{run.id[:8]}-step{k + 1}.tex"
    return Response(
        tex,
        media_type="application/x-tex; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/runs/{run_id}/trace.json", responses=PAGE_RESPONSES)
def download_trace(request: Request, run_id: str, store: Store) -> Response:
    """The run's configuration, network and every step, as a JSON file."""
    run = store.get(run_id)
    if run is None:
        return not_found(request)
    body = {
        "permalink": f"{root_of(request)}/?{run.page.query()}",
        "iteration": run.page.iteration,
        "network": run.trace.network.to_dict(),
        "inputs": run.page.request.inputs,
        "targets": run.page.request.targets,
        **run.trace.to_dict(),
    }
    return JSONResponse(body, headers={"Content-Disposition": f'attachment; filename="trace-{run.id[:8]}.json"'})


class CheckBody(BaseModel):
    """One line of a step worked by hand: the quantity it computes and the number as typed."""

    model_config = ConfigDict(extra="forbid", strict=True)
    key: str = Field(pattern=KEY_PATTERN, description="The line's quantity, as its data-q: delta-3-1, nabla_w-3-1-2.")
    answer: str = Field(max_length=MAX_ANSWER_CHARS, description="The number as typed: −0.0123, −0,0123, -1.2e-2.")


@router.post("/runs/{run_id}/steps/{k}/check", responses=PAGE_RESPONSES)
def check_line(request: Request, run_id: str, k: int, body: CheckBody, store: Store, settings: SettingsDep) -> Response:
    """Practice: a person's result for one line of step k, checked as the class's answers are (the value's 4
    significant digits or 1%), and when wrong, the usual mistake it matches with its first wrong factor named.
    JSON ``{key, symbol, right, mistake, text}``; an unknown run whose URL carries its configuration is made again."""
    run = _found(request, store, settings, run_id)
    if run is None:
        return error_response(404, "run_id: this run is unknown or has expired; reload the page to practise on it")
    if not 0 <= k < run.steps:
        return error_response(404, f"k: this run has steps 1 to {run.steps}; there is no step {k + 1}")
    quantity = find(RunView(run.trace), run.trace.steps[k], body.key)
    if quantity is None:
        return error_response(422, f"key: step {k + 1} computes no {body.key}")
    try:
        answer = parse_answer(body.answer)
    except AnswerError as e:
        return error_response(422, f"answer: {e}")
    verdict = check(quantity, answer)
    return JSONResponse(
        {
            "key": quantity.key,
            "symbol": quantity.symbol,
            "right": verdict.right,
            "mistake": verdict.mistake.name if verdict.mistake else None,
            "text": verdict.text,
        },
        headers={"Cache-Control": "no-store"},
    )
