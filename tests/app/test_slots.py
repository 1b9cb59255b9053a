"""Stream slots: the limit with 503 + Retry-After, and release on disconnect, stall and time limit."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient
from starlette.types import Message

from app.main import create_app
from app.schemas import WORKED_EXAMPLE
from app.settings import Settings
from app.slots import SlottedEventStream, StreamSlots, sse


def run_in_thread(fn: Callable[[], Awaitable[None]]) -> float:
    """Run an async function with its own event loop in a thread; return the seconds it took."""
    took: list[float] = []
    errors: list[BaseException] = []

    def target() -> None:
        start = time.monotonic()
        try:
            anyio.run(fn)
        except BaseException as exc:  # handed to the test thread
            errors.append(exc)
        took.append(time.monotonic() - start)

    worker = threading.Thread(target=target)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive()
    if errors:
        raise errors[0]
    return took[0]


async def endless() -> AsyncIterator[bytes]:
    n = 0
    while True:
        yield sse("step", {"n": n}, str(n))
        n += 1
        await anyio.sleep(0.05)


async def silent_forever() -> AsyncIterator[bytes]:
    await anyio.sleep(3600)
    yield b""


SCOPE: dict[str, Any] = {"type": "http", "asgi": {"spec_version": "2.4"}}


def test_the_stream_after_the_limit_gets_503_with_retry_after() -> None:
    app = create_app(Settings(max_streams=2))
    held = [app.state.streams.acquire(), app.state.streams.acquire()]
    with TestClient(app) as client:
        r = client.post("/api/trace/stream", json=WORKED_EXAMPLE)
        assert r.status_code == 503
        assert r.headers["retry-after"] == "5"
        assert r.json()["message"].startswith("streams: all 2 stream slots are in use")
        held[0].release()
        held[0].release()  # twice is harmless
        assert app.state.streams.open == 1
        r = client.post("/api/trace/stream", json=WORKED_EXAMPLE)
        assert r.status_code == 200
        assert "event: done" in r.text.split("event: step")[-1]  # the last event is the final one
    assert app.state.streams.open == 1  # the finished stream gave its slot back


def test_disconnect_before_the_first_event_frees_the_slot_at_once() -> None:
    pool = StreamSlots(1)
    slot = pool.acquire()
    sent: list[Message] = []

    async def receive() -> Message:
        await anyio.sleep(0.1)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    async def main() -> None:
        response = SlottedEventStream(silent_forever(), slot, send_timeout=5, max_seconds=60)
        await response(SCOPE, receive, send)

    took = run_in_thread(main)
    assert took < 1.0
    assert pool.open == 0


def test_a_client_that_stops_reading_loses_its_slot_after_the_send_timeout() -> None:
    pool = StreamSlots(1)
    slot = pool.acquire()

    async def receive() -> Message:
        await anyio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            await anyio.sleep(3600)  # the socket buffer is full and stays full

    async def main() -> None:
        response = SlottedEventStream(endless(), slot, send_timeout=0.3, max_seconds=60)
        await response(SCOPE, receive, send)

    took = run_in_thread(main)
    assert 0.3 <= took < 2.0
    assert pool.open == 0


def test_a_stream_past_its_time_ends_with_the_final_event() -> None:
    pool = StreamSlots(1)
    slot = pool.acquire()
    body = bytearray()

    async def receive() -> Message:
        await anyio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        body.extend(message.get("body", b""))

    async def main() -> None:
        response = SlottedEventStream(endless(), slot, send_timeout=5, max_seconds=0.3)
        await response(SCOPE, receive, send)

    run_in_thread(main)
    text = body.decode()
    assert text.count("event: step") >= 2
    assert text.rstrip().endswith('data: {"reason": "time limit", "seconds": 0.3}')
    assert pool.open == 0


def test_pool_counts_across_threads() -> None:
    pool = StreamSlots(50)
    slots: list[Any] = []
    lock = threading.Lock()

    def grab() -> None:
        for _ in range(10):
            s = pool.acquire()
            with lock:
                slots.append(s)

    threads = [threading.Thread(target=grab) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert pool.open == 50
    with pytest.raises(Exception, match="503") as exc:
        pool.acquire()
    assert "retry-after" in {k.lower() for k in exc.value.headers}  # type: ignore[attr-defined]
    for s in slots:
        s.release()
    assert pool.open == 0
