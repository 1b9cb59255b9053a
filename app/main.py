"""Create the app: routers, static files, error handlers, body limit and security headers.

``create_app`` is a factory: importing this module makes no app and reads no settings. uvicorn calls it
(``uvicorn --factory backprop_lens.app.main:create_app``), and so do ``backprop-lens serve`` and the tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from backprop_lens import __version__
from backprop_lens.app.api import docs
from backprop_lens.app.api import routes as api
from backprop_lens.app.classroom import questions
from backprop_lens.app.classroom import routes as classroom
from backprop_lens.app.classroom.stream import Classroom
from backprop_lens.app.core.errors import InputError, on_http_error, on_input_error, on_validation_error
from backprop_lens.app.core.lifecycle import closing_on_signals
from backprop_lens.app.core.limits import document_limits
from backprop_lens.app.core.logs import AccessLogMiddleware
from backprop_lens.app.core.metrics import Metrics, MetricsMiddleware
from backprop_lens.app.core.middleware import (
    BodyLimitMiddleware,
    CompressionMiddleware,
    OriginMiddleware,
    SecurityHeadersMiddleware,
    SettingsMiddleware,
)
from backprop_lens.app.core.settings import Settings, get_settings
from backprop_lens.app.core.slots import RateLimits, StreamSlots
from backprop_lens.app.core.state import StateUnavailableError, make_state, on_state_unavailable
from backprop_lens.app.core.templating import make_templates
from backprop_lens.app.instruments import page as instruments_page
from backprop_lens.app.instruments import routes as instruments
from backprop_lens.app.stepper import routes as stepper
from backprop_lens.app.stepper import stream
from backprop_lens.app.stepper.runs import RunStore
from backprop_lens.app.training import routes as training
from backprop_lens.app.training.backend import TrainingBackend, make_backend


def operation_id(route: APIRoute) -> str:
    """A route's OpenAPI operationId: its name (``gradients``, ``trace``), so a generated client's methods are
    short; names are unique across the app (tests/app/api/test_openapi_names.py)."""
    return route.name


def _read_metrics(
    metrics: Metrics, streams: StreamSlots, classroom: Classroom, trainings: TrainingBackend, settings: Settings
) -> None:
    """What /metrics reads from this app's objects when scraped (``app.core.metrics``)."""
    hub = classroom.sessions.hub

    def open_streams() -> list[tuple[dict[str, str], float]]:
        follow = sum(hub.count(code) for code in hub.codes())
        kinds = {"step": 0, "training": 0} | streams.by_kind()
        return [({"kind": kind}, float(n)) for kind, n in sorted(kinds.items())] + [({"kind": "follow"}, follow)]

    metrics.gauge("open_streams", "Event streams open on this process, by kind.", ("kind",), open_streams)
    metrics.gauge(
        "followers", "Students following each session on this process.", ("session",),
        lambda: [({"session": code}, hub.count(code)) for code in hub.codes()],
    )  # fmt: skip
    metrics.gauge(
        "trainings", "Trainings by state (queued: the whole queue).", ("state",),
        lambda: [({"state": state}, n) for state, n in trainings.by_state().items()], blocking=True,
    )  # fmt: skip
    metrics.gauge(
        "training_queue_oldest_wait_seconds", "Seconds the training waiting longest for a worker has waited.", (),
        lambda: [({}, trainings.oldest_wait())], blocking=True,
    )  # fmt: skip
    metrics.gauge(
        "sessions_limit", "Class sessions allowed at once (max_sessions).", (), lambda: [({}, settings.max_sessions)]
    )

    async def sessions_in_use() -> float:
        return float(await classroom.sessions.count())

    metrics.async_gauge("sessions_in_use", "Class sessions live now, over every process.", sessions_in_use)


def create_app(settings: Settings | None = None) -> FastAPI:
    """An app on ``settings``; RuntimeError naming the URL when its Redis does not answer."""
    settings = settings or get_settings()
    state = make_state(settings)  # first: an unreachable Redis stops the server before it serves anything

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The server's SIGTERM/SIGINT handlers are in place by now: wrapped, a signal ends the open streams first.
        with closing_on_signals(app.state.streams.closing):
            yield
        await trainings.aclose()
        await app.state.classroom.aclose()
        state.close()

    app = FastAPI(
        lifespan=lifespan,
        title="backprop-lens",
        version=__version__,
        description=(
            "Exact gradients and the step-by-step trace of backpropagation, as in chapter 2 of "
            "Michael Nielsen's *Neural Networks and Deep Learning*. Matrices are lists of rows; "
            "examples in a batch are rows."
        ),
        # app.api.docs serves /docs from static/ under the CSP; FastAPI's own pages load Swagger UI and ReDoc from CDNs.
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=operation_id,
        # One schema per model, not a `-Input` and an `-Output` twin: a generated client then has one class of each.
        separate_input_output_schemas=False,
    )
    # Everything an app holds, made from its own settings: two apps in one process share nothing.
    app.state.settings = settings
    app.state.streams = StreamSlots(settings.max_streams, per_client_total=settings.max_streams_per_client)
    app.state.gradient_rate = RateLimits(settings.max_gradients_per_second_per_client)
    app.state.shared = state
    app.state.runs = RunStore(
        state, settings.max_cached_traces, settings.max_trace_layers_page, settings.max_page_iterations
    )
    app.state.trainings = trainings = make_backend(settings)
    app.state.classroom = Classroom(settings)
    app.state.templates = templates = make_templates(settings)
    app.state.metrics = metrics = Metrics()
    _read_metrics(metrics, app.state.streams, app.state.classroom, trainings, settings)
    instruments_page.register_templates(templates.env)
    training.register_templates(templates.env)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(InputError, on_input_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(StateUnavailableError, on_state_unavailable)
    for router in (
        api.router,
        api.ops,
        docs.router,
        stepper.router,
        stream.router,
        instruments.router,
        instruments_page.router,
        training.router,
        classroom.router,
        questions.router,
    ):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=settings.static_dir), name="static")
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(OriginMiddleware, trusted_origins=settings.trusted_origins)
    app.add_middleware(CompressionMiddleware, min_bytes=settings.compress_min_bytes)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(SettingsMiddleware, settings=settings)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(AccessLogMiddleware)
    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        """The OpenAPI document with this app's limits written into the request schemas (made once)."""
        if app.openapi_schema is None:
            document_limits(default_openapi(), settings)
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]
    return app
