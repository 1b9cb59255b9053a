"""The step-through page: the full page, the configuration form and the fragment of step k.

``GET /`` shows the worked example (one run shared by every page, stored
nowhere) or a permalink's configuration, ready to play. The form posts to
``/runs``, which validates it through the JSON API's schema, asks the engine for
the trace, keeps it in the run store and returns the run's region. Stepping is
``GET /runs/{id}/steps/{k}``: the trace already exists (a process that lacks it
recomputes it from the run's configuration), so the server only renders. The
same URL gives the full page to a browser without htmx (``Vary: HX-Request``).
Playing is ``app.stepper.stream``.

Left out: anything computed here. Numbers come from the engine, their
presentation from ``app.stepper.view``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from app.core.compute import run_trace
from app.core.deps import is_htmx, settings_of
from app.core.errors import InputError
from app.core.forms import Form
from app.core.schemas import ErrorBody
from app.core.templating import root_of, templates_of
from app.stepper.form import FormError, PageRequest, parse_form
from app.stepper.runs import Run, RunStore, Store
from app.stepper.stage_cache import StageCache
from app.stepper.view import step_view
from engine import Trace

PAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "The run is unknown or has expired: an HTML page linking back to /."},
    413: {"model": ErrorBody, "description": "The form is larger than the body limit."},
    415: {"description": "The form is not application/x-www-form-urlencoded."},
    422: {"description": "A field of the form is invalid: the form again, each error beside its field."},
}

router = APIRouter(tags=["page"], include_in_schema=False)


def compute(page: PageRequest) -> Trace:
    """The trace of the configuration after ``page.iteration`` gradient steps; FormError if it overflows."""
    try:
        return run_trace(page.request, page.iteration)
    except (InputError, ValueError) as e:
        message = e.message if isinstance(e, InputError) else str(e)
        raise FormError({"form": f"network: {message}"}, page.form) from None


def _new_run(store: RunStore, page: PageRequest) -> Run:
    return store.add(page, compute(page))


def _context(request: Request, run: Run, k: int, **extra: Any) -> dict[str, Any]:
    return {
        "run": run,
        "view": step_view(run.id, run.trace, k),
        "form": extra.pop("form", run.page.form),
        "errors": extra.pop("errors", {}),
        "max_layers": settings_of(request).max_trace_layers_page,
        "shown": run.page,  # the network on screen, which the configuration's summary describes
        "previous_sizes": ", ".join(str(n) for n in run.page.request.network.sizes),
        "notice": run.page.notice,
        **extra,
    }


def render_stage(templates: Jinja2Templates, run: Run, k: int, cache: StageCache | None = None) -> str:
    """The HTML of step k (the inside of ``#stage``), for a swap or a stream event; rendered once with a cache."""

    def render() -> str:
        return templates.get_template("page/_stage.html").render(view=step_view(run.id, run.trace, k))

    if cache is None:
        return render()
    return cache.get((run.id, str(templates.env.globals.get("root", "")), k), render)


_cache_lock = threading.Lock()


def stage_cache_of(request: Request) -> StageCache:
    """The app's cache of rendered steps, made on first use with ``stage_cache_bytes``."""
    state = request.app.state
    with _cache_lock:
        cache: StageCache | None = getattr(state, "stage_cache", None)
        if cache is None:
            cache = state.stage_cache = StageCache(settings_of(request).stage_cache_bytes)
    return cache


def not_found(request: Request, message: str = "This run is unknown or has expired.") -> HTMLResponse:
    return templates_of(request).TemplateResponse(request, "page/not_found.html", {"message": message}, status_code=404)


def _parse(request: Request, form: Mapping[str, str]) -> PageRequest:
    s = settings_of(request)
    return parse_form(form, s.max_trace_layers_page, s.max_page_iterations)


def _page(request: Request, run: Run, k: int = 0, status_code: int = 200, **extra: Any) -> HTMLResponse:
    return templates_of(request).TemplateResponse(
        request, "page/page.html", _context(request, run, k, **extra), status_code=status_code
    )


@router.get("/", response_class=HTMLResponse, responses=PAGE_RESPONSES)
def index(request: Request, store: Store) -> HTMLResponse:
    """The page, on the worked example or on the configuration a permalink carries."""
    query = dict(request.query_params)
    if not query:
        return _page(request, store.example())  # one shared run: a page load stores nothing, evicts nobody
    try:
        return _page(request, _new_run(store, _parse(request, query)))
    except FormError as e:
        return _page(request, store.example(), status_code=422, form=e.form, errors=e.errors)


@router.post("/runs", response_class=HTMLResponse, responses=PAGE_RESPONSES)
def create_run(request: Request, store: Store, form: Form) -> Response:
    """A new run from the form: its region for htmx, a redirect to its permalink otherwise."""
    try:
        run = _new_run(store, _parse(request, form))
    except FormError as e:
        if not is_htmx(request):
            return _page(request, store.example(), status_code=422, form=e.form, errors=e.errors)
        # The error goes beside its field; the network on screen stays, and so does the summary describing it.
        html = templates_of(request).get_template("page/_config_form.html").render(
            form=e.form,
            errors=e.errors,
            max_layers=settings_of(request).max_trace_layers_page,
            previous_sizes=form.get("previous_sizes", ""),
        )
        return HTMLResponse(html, status_code=422, headers={"HX-Retarget": "#config", "HX-Reswap": "outerHTML"})
    if not is_htmx(request):
        return RedirectResponse(f"{root_of(request)}/?{run.page.query()}", status_code=303)
    return _run_region(request, run, config=True)


def _run_region(request: Request, run: Run, config: bool = False) -> HTMLResponse:
    ctx = _context(request, run, 0)
    html = templates_of(request).get_template("page/_run.html").render(ctx)
    if config:
        # Clear earlier error messages; the panel stays open for the next change.
        html += templates_of(request).get_template("page/_config.html").render(ctx, oob=True)
    return HTMLResponse(html)


@router.get("/runs/{run_id}", response_class=HTMLResponse, responses=PAGE_RESPONSES)
def show_run(request: Request, run_id: str, store: Store) -> HTMLResponse:
    """The page of a run at its first step."""
    run = store.get(run_id)
    return not_found(request) if run is None else _page(request, run)


@router.get("/runs/{run_id}/steps/{k}", response_class=HTMLResponse, responses=PAGE_RESPONSES)
def show_step(request: Request, run_id: str, k: int, store: Store) -> HTMLResponse:
    """Step k: the inside of ``#stage`` for htmx, the full page otherwise."""
    run = store.get(run_id)
    if run is None:
        return not_found(request)
    if not 0 <= k < run.steps:
        return not_found(request, f"This run has steps 1 to {run.steps}; there is no step {k + 1}.")
    if is_htmx(request):
        response = HTMLResponse(render_stage(templates_of(request), run, k, stage_cache_of(request)))
    else:
        response = _page(request, run, k)
    response.headers["Vary"] = "HX-Request"
    return response


@router.post("/runs/{run_id}/next", response_class=HTMLResponse, responses=PAGE_RESPONSES)
def next_iteration(request: Request, run_id: str, store: Store) -> Response:
    """The next iteration: the same configuration one gradient step further, as a new run."""
    run = store.get(run_id)
    if run is None:
        return not_found(request)
    most = settings_of(request).max_page_iterations
    if run.page.iteration >= most:  # a run is its configuration, which must stay recomputable within the limits
        return HTMLResponse(f"iteration: the page replays at most {most} iterations", status_code=422)
    try:
        new = _new_run(store, run.page.next())
    except FormError as e:
        return HTMLResponse(e.errors.get("form", "the next iteration cannot be computed"), status_code=422)
    if not is_htmx(request):
        return RedirectResponse(f"{root_of(request)}/runs/{new.id}", status_code=303)
    return _run_region(request, new)


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
    return JSONResponse(
        body, headers={"Content-Disposition": f'attachment; filename="trace-{run.id[:8]}.json"'}
    )
