"""The page's event stream: the steps of a run as Server-Sent Events, paced for the eye.

``GET /runs/{id}/stream?from=k&interval_ms=ms`` sends the rendered inside of
``#stage`` for steps k, k+1, … as unnamed messages (htmx swaps them in), one
every ``interval_ms`` milliseconds, then a final named ``done`` event. The page's
player element carries ``hx-sse:close="done"``, so the finished stream is not
reopened and replayed. A reconnect that sends ``Last-Event-ID`` resumes after
that step.

Every stream is bounded by the settings: at most ``max_stream_steps`` step
events; the slot pool, the time limit, the send timeout and the disconnect
watch are ``app.core.slots``'s, shared with the JSON API's stream (503 with
Retry-After once ``max_streams`` are open).

Left out: the JSON stream for programs, which is ``POST /api/trace/stream``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.sse import format_sse_event
from fastapi.templating import Jinja2Templates

from app.core.deps import settings_of
from app.core.schemas import ErrorBody
from app.core.slots import FINAL_EVENT, SlottedEventStream, StreamSlots, sse
from app.core.templating import templates_of
from app.stepper.routes import PAGE_RESPONSES, not_found, render_stage
from app.stepper.runs import Run, get_store

router = APIRouter(tags=["page"], include_in_schema=False)

MIN_INTERVAL_MS, MAX_INTERVAL_MS, DEFAULT_INTERVAL_MS = 100, 3000, 700


def first_step(start: int, last_event_id: str | None) -> int:
    """Where the stream starts: after the last step the client saw, else at ``start``."""
    if last_event_id is not None and last_event_id.strip().isdigit():
        return int(last_event_id.strip()) + 1
    return start


async def events(
    templates: Jinja2Templates, run: Run, start: int, interval: float, max_steps: int
) -> AsyncIterator[bytes]:
    """Steps ``start``… as unnamed messages, ``interval`` seconds apart, then the final ``done`` event."""
    last = start - 1
    reason = "end"
    for k in range(start, run.steps):
        if k - start >= max_steps:
            reason = "step limit"
            break
        html = await anyio.to_thread.run_sync(render_stage, templates, run, k)
        yield format_sse_event(data_str=html, id=str(k))
        last = k
        if k + 1 < run.steps:
            await anyio.sleep(interval)
    yield sse(FINAL_EVENT, {"step": last, "steps": run.steps, "reason": reason})


STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "Unnamed step messages (HTML), then `done`."},
    404: PAGE_RESPONSES[404],
    422: {"model": ErrorBody, "description": "`from` or `interval_ms` is out of range."},
    503: {"model": ErrorBody, "description": "Too many streams are open; retry after the Retry-After seconds."},
}


@router.get("/runs/{run_id}/stream", responses=STREAM_RESPONSES)
def stream_run(
    request: Request,
    run_id: str,
    start: Annotated[int, Query(alias="from", ge=0, description="The first step to send.")] = 0,
    interval_ms: Annotated[
        int, Query(ge=MIN_INTERVAL_MS, le=MAX_INTERVAL_MS, description="Milliseconds between steps.")
    ] = DEFAULT_INTERVAL_MS,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> Response:
    """The run's steps from ``from`` on, one every ``interval_ms``, ending with a ``done`` event."""
    settings = settings_of(request)
    run = get_store(request).get(run_id)
    if run is None:
        return not_found(request)
    if start >= run.steps:
        message = f"from: this run has steps 0 to {run.steps - 1}, got {start}"
        return JSONResponse(ErrorBody(message=message, detail=message).model_dump(), status_code=422)
    pool: StreamSlots = request.app.state.streams
    slot = pool.acquire()  # 503 with Retry-After when all are in use
    first = first_step(start, last_event_id)
    content = events(templates_of(request), run, first, interval_ms / 1000, settings.max_stream_steps)
    return SlottedEventStream(content, slot, settings.stream_send_timeout, settings.max_stream_seconds)
