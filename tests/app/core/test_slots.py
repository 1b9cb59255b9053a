"""Stream slots: the limit with 503 + Retry-After, release on disconnect, stall and time limit; the closing event.

The disconnect, stall and time-limit tests run on an event loop with a fake clock (``VirtualTimeLoop``):
time stands still while any task can run and jumps to the next timer when every task waits, so each
test knows the exact moment the slot was freed, whatever the machine's speed, and takes no real time.
"""

from __future__ import annotations

import asyncio
import selectors
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient
from starlette.types import Message

from backprop_lens.app.core.schemas import WORKED_EXAMPLE
from backprop_lens.app.core.settings import Settings
from backprop_lens.app.core.slots import SlottedEventStream, StreamSlots, sse
from backprop_lens.app.main import create_app

STEP = 0.25  # seconds between the events of ``endless``; a power of two, so fake times add up exactly
HORIZON = 7200.0  # fake seconds; a test still running then is stuck (a stream that never ends)


class _JumpingSelector(selectors.DefaultSelector):
    """Where the loop would sleep until its next timer, move its clock there instead."""

    def __init__(self, loop: VirtualTimeLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:
            raise RuntimeError("every task waits for something that never comes, and no timer is set")
        self._loop.now += timeout
        if self._loop.now > HORIZON:
            raise RuntimeError(f"still running after {HORIZON} fake seconds")
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An asyncio loop whose clock (``loop.time()``, ``anyio.current_time()``) is fake: it starts at 0."""

    def __init__(self) -> None:
        self.now = 0.0
        super().__init__(_JumpingSelector(self))

    def time(self) -> float:
        return self.now


def run_virtual(fn: Callable[[], Awaitable[float]]) -> float:
    """Run ``fn`` on a VirtualTimeLoop; returns what it returns (the fake time it ended at)."""
    return anyio.run(fn, backend="asyncio", backend_options={"loop_factory": VirtualTimeLoop})


async def endless() -> AsyncIterator[bytes]:
    n = 0
    while True:
        yield sse("step", {"n": n}, str(n))
        n += 1
        await anyio.sleep(STEP)


async def silent_forever() -> AsyncIterator[bytes]:
    await anyio.sleep(3600)
    yield sse("step", {"n": 0}, "0")


async def never() -> Message:
    await anyio.sleep_forever()
    raise AssertionError("unreachable")


SCOPE: dict[str, Any] = {"type": "http", "asgi": {"spec_version": "2.4"}}


def test_the_fake_clock_jumps_to_each_timer() -> None:
    async def main() -> float:
        start = anyio.current_time()
        await anyio.sleep(3600)
        with anyio.move_on_after(2.5):
            await anyio.sleep_forever()
        return anyio.current_time() - start

    assert run_virtual(main) == 3602.5


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
    open_at_disconnect: list[int] = []

    async def receive() -> Message:
        await anyio.sleep(1)  # the client goes away after a second; the first event is an hour off
        open_at_disconnect.append(pool.open)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    async def main() -> float:
        response = SlottedEventStream(silent_forever(), slot, send_timeout=5, max_seconds=7200)
        await response(SCOPE, receive, send)
        return anyio.current_time()

    assert run_virtual(main) == 1.0  # ended at the disconnect, not at the first event
    assert open_at_disconnect == [1]
    assert pool.open == 0
    assert [m["type"] for m in sent] == ["http.response.start"]  # and no event


def test_a_client_that_stops_reading_loses_its_slot_after_the_send_timeout() -> None:
    pool = StreamSlots(1)
    slot = pool.acquire()
    stalled: list[float] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            stalled.append(anyio.current_time())
            await anyio.sleep_forever()  # the socket buffer is full and stays full

    async def main() -> float:
        response = SlottedEventStream(endless(), slot, send_timeout=0.5, max_seconds=60)
        await response(SCOPE, never, send)
        return anyio.current_time()

    assert run_virtual(main) == 0.5  # the first event's send, stalled at 0, given up after send_timeout
    assert stalled == [0.0]
    assert pool.open == 0


def test_a_stream_past_its_time_ends_with_the_final_event() -> None:
    pool = StreamSlots(1)
    slot = pool.acquire()
    body = bytearray()

    async def send(message: Message) -> None:
        body.extend(message.get("body", b""))

    async def main() -> float:
        response = SlottedEventStream(endless(), slot, send_timeout=5, max_seconds=1.0, clock=anyio.current_time)
        await response(SCOPE, never, send)
        return anyio.current_time()

    assert run_virtual(main) == 5 * STEP  # the first event past the deadline is replaced by the final one
    events = [chunk.split("\n")[0] for chunk in body.decode().strip().split("\n\n")]
    assert events == ["event: step"] * 5 + ["event: done"]  # sent at 0, ¼, ½, ¾ and 1 s: none past 1 s
    assert body.decode().rstrip().endswith('data: {"reason": "time limit", "seconds": 1.0}')
    assert pool.open == 0


def test_a_stream_ends_with_the_final_event_when_the_server_begins_to_close() -> None:
    pool = StreamSlots(1)
    slot = pool.acquire()
    body = bytearray()
    ended: list[bool] = []

    async def send(message: Message) -> None:
        body.extend(message.get("body", b""))
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            ended.append(True)

    async def main() -> float:
        # Set from outside the stream at 0.9 s, as a signal handler would (call_soon_threadsafe).
        asyncio.get_running_loop().call_later(0.9, pool.closing.set)
        response = SlottedEventStream(endless(), slot, send_timeout=5, max_seconds=60)
        await response(SCOPE, never, send)
        return anyio.current_time()

    assert run_virtual(main) == 0.9  # at once, not at the next event (1 s) nor the time limit
    events = [chunk.split("\n")[0] for chunk in body.decode().strip().split("\n\n")]
    assert events == ["event: step"] * 4 + ["event: done"]
    assert body.decode().rstrip().endswith('data: {"reason": "restarting"}')
    assert ended == [True]  # the response is complete, so the server can close the connection
    assert pool.open == 0


def test_a_stream_opened_while_the_server_closes_sends_only_the_final_event() -> None:
    pool = StreamSlots(1)
    pool.closing.set()
    body = bytearray()

    async def send(message: Message) -> None:
        body.extend(message.get("body", b""))

    async def main() -> float:
        response = SlottedEventStream(endless(), pool.acquire(), send_timeout=5, max_seconds=60)
        await response(SCOPE, never, send)
        return anyio.current_time()

    assert run_virtual(main) == 0.0
    assert body.decode() == 'event: done\ndata: {"reason": "restarting"}\n\n'
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


def test_one_address_may_not_take_the_room() -> None:
    app = create_app(Settings(max_streams=4, max_streams_per_client=2))
    pool: StreamSlots = app.state.streams
    mine = [pool.acquire("10.0.0.7", 2, "max_streams_per_client") for _ in range(2)]
    assert pool.held_by("10.0.0.7") == 2 and pool.open == 2
    page = TestClient(app).get("/").text
    run_id = page.split('data-run-id="', 1)[1].split('"', 1)[0]
    with TestClient(app, client=("10.0.0.7", 5000)) as greedy, TestClient(app, client=("10.0.0.8", 5000)) as other:
        r = greedy.get(f"/runs/{run_id}/stream?interval_ms=100")
        assert r.status_code == 429 and r.headers["retry-after"] == "5"
        assert r.json()["message"].startswith("streams: this address (10.0.0.7) has 2 step streams open")
        assert "max_streams_per_client" in r.json()["message"]
        assert greedy.post("/api/trace/stream", json=WORKED_EXAMPLE).status_code == 429  # the API's streams too
        assert other.get(f"/runs/{run_id}/stream?interval_ms=100").status_code == 200  # another client still may
        mine[0].release()
        assert pool.held_by("10.0.0.7") == 1
        assert greedy.get(f"/runs/{run_id}/stream?interval_ms=100").status_code == 200
    assert pool.open == 1 and pool.held_by("10.0.0.7") == 1 and pool.held_by("10.0.0.8") == 0
    mine[1].release()
    assert pool.open == 0 and pool.held_by("10.0.0.7") == 0


def test_one_address_may_send_so_many_gradient_requests_a_second() -> None:
    from backprop_lens.app.core.slots import RateLimits

    clock = [0.0]
    limits = RateLimits(3, clock=lambda: clock[0])
    assert [limits.allow("a") for _ in range(4)] == [True, True, True, False]  # a burst of 3, then refused
    assert limits.allow("b")  # another address has its own bucket
    clock[0] = 1 / 3  # a third of a second: one more token
    assert [limits.allow("a") for _ in range(2)] == [True, False]
    clock[0] = 100.0
    assert [limits.allow("a") for _ in range(4)] == [True, True, True, False]  # never more than the burst

    app = create_app(Settings(max_gradients_per_second_per_client=2))
    app.state.gradient_rate = RateLimits(2, clock=lambda: 0.0)  # the app's own limit, on a clock that stands still
    with TestClient(app, client=("10.0.0.9", 1)) as c, TestClient(app, client=("10.0.0.10", 1)) as other:
        codes = [c.post("/api/gradients", json=WORKED_EXAMPLE).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        r = c.post("/api/gradients", json={**WORKED_EXAMPLE, "trace": True})  # the documented path too
        assert r.status_code == 429 and r.headers["retry-after"] == "1"
        assert "max_gradients_per_second_per_client" in r.json()["message"] and "10.0.0.9" not in r.text
        assert other.post("/api/gradients", json=WORKED_EXAMPLE).status_code == 200


def test_one_address_holds_its_total_share_over_every_kind() -> None:
    """Each kind has its own share, and all of an address's streams together are within per_client_total: one
    address may not take a whole process by mixing kinds; another still gets its streams."""
    pool = StreamSlots(10, per_client_total=3)
    mine = [pool.acquire("10.0.0.7", 3, "max_streams_per_client", kind="step") for _ in range(2)]
    mine.append(pool.acquire("10.0.0.7", 3, "max_training_streams_per_client", kind="training"))
    with pytest.raises(HTTPException) as refused:
        pool.acquire("10.0.0.7", 3, "max_training_streams_per_client", kind="training")
    assert refused.value.status_code == 429
    assert refused.value.detail == (
        "streams: this address (10.0.0.7) has 3 streams open, the most one client may hold (max_streams_per_client); "
        "close one (another tab?) or try again shortly"
    )
    other = pool.acquire("10.0.0.8", 3, "max_streams_per_client", kind="training")
    mine.pop().release()
    mine.append(pool.acquire("10.0.0.7", 3, "max_training_streams_per_client", kind="training"))
    assert pool.by_kind() == {"step": 2, "training": 2} and pool.open == 4
    for slot in [*mine, other]:
        slot.release()
    assert pool.open == 0 and pool.by_kind() == {"step": 0, "training": 0}
