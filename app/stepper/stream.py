"""The page's event stream: the steps of a run as Server-Sent Events, paced for the eye.

``GET /runs/{id}/stream?from=k&interval_ms=ms`` sends step k as the rendered inside of ``#stage``
in an unnamed message (htmx swaps it in), then steps k+1, … as named ``stage-patch`` events, one
every ``interval_ms`` milliseconds, then a final named ``done`` event. A patch is JSON,
``{"from": k-1, "to": k, "ops": [...]}`` (``app.stepper.view.patch``): what differs between the two
steps' HTML, matched by element id, which ``static/js/lens.js`` applies; where a patch would not
be much smaller than the step, the step goes whole, as an unnamed message. So the first event of
every stream (from ``from``, or after the step a reconnect's ``Last-Event-ID`` names) is a whole
step: a page that joins late needs nothing else. The page's player element carries
``hx-sse:close="done"``, so the finished stream is not reopened and replayed.

Each step and each patch is made once per run and process (``app.stepper.stage_cache``), and the
stream is compressed as a whole, flushed after every event, so that its compressor's window spans
the events: brotli with a 16 MB window when the client accepts ``br`` (every current browser), gzip
(a 32 KB window) otherwise, or nothing.

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
from fastapi.responses import Response
from fastapi.sse import format_sse_event
from fastapi.templating import Jinja2Templates
from starlette.types import Message, Send

from backprop_lens.app.core.deps import SettingsDep
from backprop_lens.app.core.errors import error_response
from backprop_lens.app.core.middleware import INLINE_BYTES, accepted_encoding, compressor
from backprop_lens.app.core.schemas import ErrorBody
from backprop_lens.app.core.slots import FINAL_EVENT, Slot, SlottedEventStream, sse, stream_slot
from backprop_lens.app.core.templating import templates_of
from backprop_lens.app.stepper.routes import PAGE_RESPONSES, made_once, not_found, render_stage, stage_cache_of
from backprop_lens.app.stepper.runs import Run, get_store
from backprop_lens.app.stepper.stage_cache import StageCache
from backprop_lens.app.stepper.view.patch import stage_patch

PATCH_EVENT = "stage-patch"

router = APIRouter(tags=["page"], include_in_schema=False)

MIN_INTERVAL_MS, MAX_INTERVAL_MS, DEFAULT_INTERVAL_MS = 100, 3000, 700


def first_step(start: int, last_event_id: str | None) -> int:
    """Where the stream starts: after the last step the client saw, else at ``start``."""
    if last_event_id is not None and last_event_id.strip().isdigit():
        return int(last_event_id.strip()) + 1
    return start


def render_patch(templates: Jinja2Templates, run: Run, k: int, cache: StageCache | None = None) -> str:
    """The JSON patch from step k-1 to step k, or "" when step k is better sent whole; made once with a cache."""

    def make() -> str:
        old, new = (render_stage(templates, run, i, cache) for i in (k - 1, k))
        return stage_patch(old, new, k - 1, k) or ""

    return made_once(cache, templates, run, k, make, "patch")


async def events(
    templates: Jinja2Templates, run: Run, start: int, interval: float, max_steps: int, cache: StageCache | None = None
) -> AsyncIterator[bytes]:
    """Step ``start`` whole, then patches, ``interval`` seconds apart, then the final ``done`` event."""
    last = start - 1
    reason = "end"
    for k in range(start, run.steps):
        if k - start >= max_steps:
            reason = "step limit"
            break
        patch = await anyio.to_thread.run_sync(render_patch, templates, run, k, cache) if k > start else ""
        if patch:
            yield format_sse_event(data_str=patch, event=PATCH_EVENT, id=str(k))
        else:
            html = await anyio.to_thread.run_sync(render_stage, templates, run, k, cache)
            yield format_sse_event(data_str=html, id=str(k))
        last = k
        if k + 1 < run.steps:
            await anyio.sleep(interval)
    yield sse(FINAL_EVENT, {"step": last, "steps": run.steps, "reason": reason})


class CompressedEventStream(SlottedEventStream):
    """The event stream with ``Content-Encoding``: every chunk is compressed and flushed as it is sent."""

    def __init__(
        self, content: AsyncIterator[bytes], slot: Slot, send_timeout: float, max_seconds: float, encoding: str | None
    ) -> None:
        headers = {"Vary": "Accept-Encoding"}
        if encoding:
            headers["Content-Encoding"] = encoding
        super().__init__(content, slot, send_timeout, max_seconds, headers=headers)
        self.encoding = encoding

    async def stream_response(self, send: Send) -> None:
        if self.encoding is None:
            return await super().stream_response(send)
        compress, finish = compressor(self.encoding)

        async def compressed(message: Message) -> None:
            if message["type"] == "http.response.body":
                body = bytes(message.get("body", b""))
                more = message.get("more_body", False)
                if len(body) > INLINE_BYTES:
                    body = await anyio.to_thread.run_sync(compress, body)
                elif body:
                    body = compress(body)
                if not more:
                    body += finish()
                message = {**message, "body": body}
            await send(message)

        await super().stream_response(compressed)


STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/event-stream": {}},
        "description": "The first step as an unnamed message (HTML), the next as `stage-patch` (JSON), then `done`.",
    },
    404: PAGE_RESPONSES[404],
    422: {"model": ErrorBody, "description": "`from` or `interval_ms` is out of range."},
    503: {"model": ErrorBody, "description": "Too many streams are open; retry after the Retry-After seconds."},
}


@router.get("/runs/{run_id}/stream", responses=STREAM_RESPONSES)
def stream_run(
    request: Request,
    run_id: str,
    settings: SettingsDep,
    start: Annotated[int, Query(alias="from", ge=0, description="The first step to send.")] = 0,
    interval_ms: Annotated[
        int, Query(ge=MIN_INTERVAL_MS, le=MAX_INTERVAL_MS, description="Milliseconds between steps.")
    ] = DEFAULT_INTERVAL_MS,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
    accept_encoding: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    """The run's steps from ``from`` on, one every ``interval_ms``, ending with a ``done`` event."""
    run = get_store(request).get(run_id)
    if run is None:
        return not_found(request)
    if start >= run.steps:
        message = f"from: this run has steps 0 to {run.steps - 1}, got {start}"
        return error_response(422, message)
    slot = stream_slot(request)  # 503 with Retry-After when all are in use; 429 past the client's share
    first = first_step(start, last_event_id)
    cache = stage_cache_of(request, settings)
    content = events(templates_of(request), run, first, interval_ms / 1000, settings.max_stream_steps, cache)
    encoding = accepted_encoding(accept_encoding)
    return CompressedEventStream(content, slot, settings.stream_send_timeout, settings.max_stream_seconds, encoding)
