"""The JSON API: gradients, the step trace (whole or streamed) and health.

Handlers are plain ``def`` so FastAPI runs the engine in its thread pool and
the event loop stays free for other requests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Query, Request, Response

from app import __version__
from app.core.compute import run_trace
from app.core.deps import require_json
from app.core.errors import ERRORS, OVERFLOW, InputError
from app.core.schemas import (
    GradientRequest,
    GradientResponse,
    Health,
    LayerValues,
    TraceRequest,
    TraceResponse,
)
from app.core.slots import FINAL_EVENT, SlottedEventStream, sse, sse_text, stream_slot
from engine import Trace, backprop

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
    """Liveness: answers while gradients are being computed."""
    return Health(status="ok", version=__version__)


@router.post("/gradients", response_model=GradientResponse, responses=ERRORS)
def gradients(req: GradientRequest) -> GradientResponse:
    """∂C/∂w and ∂C/∂b of the mean cost over the batch, by BP1–BP4."""
    g = backprop(req.network.build(), req.inputs, req.targets, req.cost)
    if not g.finite:
        raise InputError("network", OVERFLOW)
    layers = None
    if req.trace:
        layers = [
            LayerValues(layer=i + 2, z=z.tolist(), a=a.tolist(), sigma_prime=sp.tolist(), delta=d.tolist())
            for i, (z, a, sp, d) in enumerate(
                zip(g.forward.zs, g.forward.activations[1:], g.sigma_primes, g.deltas, strict=True)
            )
        ]
    return GradientResponse(
        cost=g.cost,
        nabla_w=[w.tolist() for w in g.nabla_w],
        nabla_b=[b.tolist() for b in g.nabla_b],
        layers=layers,
    )


def traced(req: TraceRequest) -> Trace:
    """The trace of a validated request, as a dependency: the stream's 422 is raised before its 200 is sent."""
    return run_trace(req)


Traced = Annotated[Trace, Depends(traced)]


@router.post("/trace", response_model=TraceResponse, responses=ERRORS)
def trace_json(t: Traced) -> dict[str, object]:
    """Every step of one forward pass, one backward pass and one update, in the book's order."""
    return t.to_dict()


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
    interval_ms: Annotated[
        int, Query(ge=0, le=3000, description="Pause between steps, for clients that animate as they read.")
    ] = 0,
) -> SlottedEventStream:
    """One `step` event per step (its JSON as data), then a final `done` event; the stream ends there."""
    settings = request.app.state.settings
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
