"""The JSON API: gradients, the step trace (whole or streamed) and health.

``POST /api/gradients`` is ``async``: a small gradient (at most ``INLINE_WORK``
parameters × examples, tens of microseconds in the engine's ``backprop``) is
computed on the event loop, where a hop to the thread pool would cost more than
the work; a larger one goes to the thread pool, so the loop stays free for other
requests (``/api/health`` answers while the largest gradient computes). Its reply
is encoded by orjson. In front of the endpoint, ``app.api.fastlane.GradientRoute``
answers a small valid request without trace itself, without FastAPI's body handling
or a Python call per number; the endpoint gets everything else, and words every 4xx.
The trace routes are plain ``def``: FastAPI runs them in its thread pool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse

from backprop_lens import __version__
from backprop_lens.app.api.fastlane import INLINE_WORK as INLINE_WORK  # re-exported: the threshold is this route's
from backprop_lens.app.api.fastlane import GradientRoute, gradient_json
from backprop_lens.app.core.compute import run_trace
from backprop_lens.app.core.deps import SettingsDep, require_json
from backprop_lens.app.core.errors import ERRORS, OVERFLOW, InputError
from backprop_lens.app.core.gradients import gradient_response
from backprop_lens.app.core.schemas import (
    ErrorBody,
    GradientRequest,
    GradientResponse,
    Health,
    NetworkSpec,
    Ready,
    SeededNetwork,
    TraceRequest,
    TraceResponse,
)
from backprop_lens.app.core.slots import FINAL_EVENT, SlottedEventStream, sse, sse_text, stream_slot
from backprop_lens.engine import Trace
from backprop_lens.engine.network import parameter_count

router = APIRouter(prefix="/api", tags=["api"], dependencies=[Depends(require_json)])

# The stream answers errors in JSON, not as events: say so, or clients and fuzzers are misled.
STREAM_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {**spec, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
    for code, spec in ERRORS.items()
}

SSE_ITEM: dict[str, Any] = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "event": {"type": "string", "enum": ["step", "done"]},
        "data": {"type": "string", "contentMediaType": "application/json"},
        "id": {"type": "string"},
        "retry": {"type": "integer", "minimum": 0},
    },
}


@router.get("/health", response_model=Health)
def health() -> Health:
    """Liveness: answers while gradients are being computed, whatever Redis and the workers are doing."""
    return Health(status="ok", version=__version__)


ops = APIRouter()  # at the root: /metrics, where a Prometheus expects it


@ops.get("/metrics", include_in_schema=False)
async def metrics(request: Request, settings: SettingsDep) -> Response:
    """This process's metrics in Prometheus's text format (``app.core.metrics``); 404 when turned off."""
    if not settings.metrics:
        raise HTTPException(404, "metrics: turned off on this server (BACKPROP_LENS_METRICS=false)")
    body = await request.app.state.metrics.text()
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")


@router.get(
    "/ready",
    response_model=Ready,
    responses={503: {"model": Ready, "description": "Not ready: the reasons say what is wrong."}},
)
def ready(request: Request) -> JSONResponse:
    """Readiness: the shared state reachable and writable and, when trainings go to workers, a worker alive."""
    reasons = [*request.app.state.shared.ready(), *request.app.state.trainings.ready()]
    body = Ready(status="not ready" if reasons else "ready", reasons=reasons)
    return JSONResponse(body.model_dump(), status_code=503 if reasons else 200)


@router.get("/networks", operation_id="network", response_model=NetworkSpec, responses=ERRORS)
def network(query: Annotated[SeededNetwork, Query()]) -> NetworkSpec:
    """The weights and biases a seed gives: the network a request with `sizes` and `seed` (no weights) is computed
    on, written out so that it can be inspected, changed and sent back."""
    return query.spec()


async def post_gradients(req: GradientRequest) -> Response:
    """∂C/∂w and ∂C/∂b of the mean cost over the batch, by BP1–BP4."""
    if parameter_count(req.network.sizes) * len(req.inputs) <= INLINE_WORK:
        reply = _small_reply(req) if not req.trace else gradients(req).model_dump_json().encode()
    else:
        reply = await anyio.to_thread.run_sync(lambda: gradients(req).model_dump_json().encode())
    # The reply is GradientResponse's JSON, built here: validating it again would only copy the lists.
    return Response(reply, media_type="application/json")


# GradientRoute answers a small valid request itself (app.api.fastlane) and hands the rest to the endpoint.
router.add_api_route(
    "/gradients",
    post_gradients,
    methods=["POST"],
    name="gradients",
    response_model=GradientResponse,
    responses={
        **ERRORS,
        429: {"model": ErrorBody, "description": "This client address sent more requests a second than it may."},
    },
    route_class_override=GradientRoute,
)


def _small_reply(req: GradientRequest) -> bytes:
    """The JSON reply by the engine's ``backprop``, for a small request without trace."""
    reply = gradient_json(req.network.build(), req.inputs, req.targets, req.cost_function)
    if reply is None:
        raise InputError("network", OVERFLOW)
    return reply


def gradients(req: GradientRequest) -> GradientResponse:
    """The reply by ``app.core.gradients`` (``backprop``, which keeps every layer's values for the trace), for
    large requests (there the matrices' arithmetic, not NumPy's calls, is the cost) and for ``trace``."""
    reply = gradient_response(req)
    if reply is None:
        raise InputError("network", OVERFLOW)
    return reply


def traced(req: TraceRequest) -> Trace:
    """The trace of a validated request, as a dependency: the stream's 422 is raised before its 200 is sent."""
    return run_trace(req)


Traced = Annotated[Trace, Depends(traced)]


@router.post("/trace", operation_id="trace", response_model=TraceResponse, responses=ERRORS)
def trace_json(t: Traced) -> TraceResponse:
    """Every step of one forward pass, one backward pass and one update, in the book's order."""
    return TraceResponse.of(t)


@router.post(
    "/trace/stream",
    status_code=200,
    response_class=Response,  # the documented 200 above; the handler returns a SlottedEventStream
    responses={
        200: {
            "description": (
                "`step` events, one per step (data: the step's JSON), then one `done` event; a stream cut short "
                'ends with `done` `{"reason": "time limit"}`, or `{"reason": "restarting"}` when the server shuts down.'
            ),
            "content": {"text/event-stream": {"itemSchema": SSE_ITEM}},
        },
        **STREAM_ERRORS,
        503: {
            "description": "Every stream slot is in use; retry after the Retry-After seconds.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
        },
    },
    summary="The trace as Server-Sent Events",
)
def trace_stream(
    t: Traced,
    request: Request,
    settings: SettingsDep,
    interval_ms: Annotated[
        int, Query(ge=0, le=3000, description="Pause between steps, for clients that animate as they read.")
    ] = 0,
) -> SlottedEventStream:
    """One `step` event per step (its JSON as data), then a final `done` event; the stream ends there."""
    return SlottedEventStream(
        _step_events(t, interval_ms / 1000),
        stream_slot(request),
        send_timeout=settings.stream_send_timeout,
        max_seconds=settings.max_stream_seconds,
    )


async def _step_events(t: Trace, interval: float) -> AsyncIterator[bytes]:
    for step in t.steps:
        if interval and step.index:
            await anyio.sleep(interval)
        yield sse_text("step", step.to_json(), str(step.index))
    yield sse(FINAL_EVENT, {"steps": len(t.steps), "cost_before": t.cost_before, "cost_after": t.cost_after})
