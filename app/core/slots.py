"""Bounded, finite event streams: a slot per open stream, released however the stream ends.

* At most ``Settings.max_streams`` streams are open at once; the next one gets a
  503 with ``Retry-After`` before anything is computed.
* A stream ends with its final named event (``done``), also when it runs out of
  time (``Settings.max_stream_seconds``), so a browser never reconnects into a replay.
* A client that disconnects, even before the first event, ends its stream at
  once: the disconnect is listened for while the events are sent.
* A client that stops reading cannot hold a slot: every send has a timeout
  (``Settings.stream_send_timeout``).
* When the server begins to shut down (``StreamSlots.closing``, set on SIGTERM by
  ``app.core.lifecycle``), every open stream ends at once with ``done``
  ``{"reason": "restarting"}``: the page reconnects, to whichever process answers.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import Any

import anyio
from fastapi import HTTPException, Request
from fastapi.sse import format_sse_event
from starlette.responses import StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from backprop_lens.app.core.lifecycle import RESTARTING, Closing
from backprop_lens.app.core.lru import LRU

FINAL_EVENT = "done"


class Slot:
    """One open stream's claim on the pool (and on its client's share of it); releasing twice is harmless."""

    def __init__(self, pool: StreamSlots, client: str | None = None, kind: str = "step") -> None:
        self._pool = pool
        self._client = client
        self.kind = kind
        self._released = False
        self.closing = pool.closing

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._pool._release(self._client, self.kind)


class StreamSlots:
    """A counter of open streams with a hard limit, safe across threads; ``closing`` ends them all."""

    def __init__(self, limit: int, retry_after_seconds: int = 5, per_client_total: int | None = None) -> None:
        """``per_client_total``: the most streams of every kind together one client may hold, named in its 429 as
        ``max_streams_per_client`` (each kind's own share is ``acquire``'s)."""
        self.limit = limit
        self.retry_after_seconds = retry_after_seconds
        self.per_client_total = per_client_total
        self.closing = Closing()
        self._open = 0
        self._by_kind: dict[str, int] = {}
        self._by_client: dict[tuple[str, str], int] = {}
        self._client_total: dict[str, int] = {}
        self._lock = threading.Lock()

    @property
    def open(self) -> int:
        return self._open

    def by_kind(self) -> dict[str, int]:
        """Streams open now, by kind (for /metrics)."""
        with self._lock:
            return dict(self._by_kind)

    def held_by(self, client: str, kind: str = "step") -> int:
        """Streams of ``kind`` that ``client`` holds open now."""
        with self._lock:
            return self._by_client.get((client, kind), 0)

    def acquire(
        self, client: str | None = None, per_client: int | None = None, setting: str = "", kind: str = "step"
    ) -> Slot:
        """A slot, or a 503 that says when to try again; a 429 naming ``setting`` when ``client`` already holds
        ``per_client`` streams of ``kind`` (one address may not take the room; each kind has its own share), or
        ``per_client_total`` of every kind together."""
        with self._lock:
            held = self._by_client.get((client, kind), 0) if client is not None else 0
            total = self._client_total.get(client, 0) if client is not None else 0
            over = None
            if client is not None and per_client is not None and held >= per_client:
                over = f"{held} {kind} streams open, the most one client may hold ({setting})"
            elif client is not None and self.per_client_total is not None and total >= self.per_client_total:
                over = f"{total} streams open, the most one client may hold (max_streams_per_client)"
            if over is not None:
                raise HTTPException(
                    429,
                    f"streams: this address ({client}) has {over}; close one (another tab?) or try again shortly",
                    headers={"Retry-After": str(self.retry_after_seconds)},
                )
            if self._open >= self.limit:
                raise HTTPException(
                    503,
                    f"streams: all {self.limit} stream slots are in use; try again shortly",
                    headers={"Retry-After": str(self.retry_after_seconds)},
                )
            self._open += 1
            self._by_kind[kind] = self._by_kind.get(kind, 0) + 1
            if client is not None:
                self._by_client[(client, kind)] = held + 1
                self._client_total[client] = total + 1
        return Slot(self, client, kind)

    def _release(self, client: str | None, kind: str) -> None:
        with self._lock:
            self._open -= 1
            self._by_kind[kind] = self._by_kind.get(kind, 1) - 1
            if client is not None:
                left = self._by_client.get((client, kind), 1) - 1
                if left > 0:
                    self._by_client[(client, kind)] = left
                else:
                    self._by_client.pop((client, kind), None)
                total = self._client_total.get(client, 1) - 1
                if total > 0:
                    self._client_total[client] = total
                else:
                    self._client_total.pop(client, None)


class RateLimits:
    """A token bucket per client (an address, or any key): ``per_second`` requests a second, in bursts of
    ``burst`` (default: as many as a second's); thread-safe.

    The buckets of at most ``KEPT`` clients are kept (the least recently seen go; a returning one starts full).
    """

    KEPT = 10_000

    def __init__(
        self, per_second: float, clock: Callable[[], float] = time.monotonic, burst: float | None = None
    ) -> None:
        self.per_second = per_second
        self.burst = max(1.0, per_second if burst is None else burst)
        self._clock = clock
        self._buckets: LRU[str, list[float]] = LRU(self.KEPT)  # tokens, when last counted
        self._lock = threading.Lock()

    def allow(self, client: str) -> bool:
        """Whether ``client`` may make one more request now (and count it when it may)."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(client)
            if bucket is None:
                bucket = [self.burst, now]
                self._buckets.put(client, bucket)
            tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.per_second)
            bucket[1] = now
            if tokens < 1.0:
                bucket[0] = tokens
                return False
            bucket[0] = tokens - 1.0
            return True


def client_of(request: Request) -> str:
    """The client's address: the proxy's X-Forwarded-For only when uvicorn trusts that proxy
    (``--forwarded-allow-ips``), which then writes it into the request's client."""
    return request.client.host if request.client is not None else "unknown"


def stream_slot(request: Request) -> Slot:
    """A slot from the app's pool (``app.state.streams``) within the client's share (``max_streams_per_client``)."""
    pool: StreamSlots = request.app.state.streams
    per_client: int = request.app.state.settings.max_streams_per_client
    return pool.acquire(client_of(request), per_client, "max_streams_per_client")


def sse(event: str, data: Any, ident: str | None = None) -> bytes:
    """One event in the wire format, its data as JSON."""
    return sse_text(event, json.dumps(data), ident)


def sse_text(event: str, json_text: str, ident: str | None = None) -> bytes:
    """One event whose data is already JSON text."""
    return format_sse_event(data_str=json_text, event=event, id=ident)


CLOSING_EVENT = sse(FINAL_EVENT, {"reason": RESTARTING})


async def within_time(
    events: AsyncIterable[bytes], max_seconds: float, final: bytes, clock: Callable[[], float] = time.monotonic
) -> AsyncIterator[bytes]:
    """Pass events through until they end or time runs out; then, if it ran out, the final event.

    ``clock`` reads seconds; tests pass a fake one so that the limit does not depend on the machine.
    """
    deadline = clock() + max_seconds
    async for chunk in events:
        if clock() > deadline:
            yield final
            return
        yield chunk


class SlottedEventStream(StreamingResponse):
    """An event stream that holds ``slot`` exactly as long as the client is being served.

    Deliberately not FastAPI's ``EventSourceResponse``: FastAPI treats a route
    with that class as a generator to drive itself, and here the response
    drives its own events, timeouts and disconnects.
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        content: AsyncIterable[bytes],
        slot: Slot,
        send_timeout: float,
        max_seconds: float,
        headers: dict[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.slot = slot
        self.send_timeout = send_timeout
        timeout_event = sse(FINAL_EVENT, {"reason": "time limit", "seconds": max_seconds})
        super().__init__(
            within_time(content, max_seconds, timeout_event, clock),
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **(headers or {})},
        )

    async def stream_response(self, send: Send) -> None:
        """The events until they end, or until the server begins to shut down: then the final event says so."""
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        ended = False
        async with anyio.create_task_group() as tg:

            async def end_when_closing() -> None:
                await self.slot.closing.wait()
                tg.cancel_scope.cancel()

            tg.start_soon(end_when_closing)
            await anyio.lowlevel.checkpoint()  # the watch is on before the first event is computed
            async for chunk in self.body_iterator:
                body = chunk if isinstance(chunk, bytes | memoryview) else chunk.encode(self.charset)
                await send({"type": "http.response.body", "body": body, "more_body": True})
            ended = True
            tg.cancel_scope.cancel()
        if not ended:
            await send({"type": "http.response.body", "body": CLOSING_EVENT, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def timed_send(message: Message) -> None:
            with anyio.fail_after(self.send_timeout):
                await send(message)

        try:
            async with anyio.create_task_group() as tg:

                async def serve() -> None:
                    await self.stream_response(timed_send)
                    tg.cancel_scope.cancel()

                async def watch() -> None:
                    await self.listen_for_disconnect(receive)
                    tg.cancel_scope.cancel()

                tg.start_soon(serve)
                tg.start_soon(watch)
        except* (TimeoutError, OSError):
            pass  # a stalled or vanished client: drop it, the slot is freed below
        finally:
            self.slot.release()
