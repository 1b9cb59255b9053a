"""Shutting down without making anyone wait: open streams end as soon as the server is told to stop.

Uvicorn waits for every open connection to finish before it runs the app's
lifespan shutdown, and an event stream only finishes when it has sent its last
event: a lifespan hook alone would run after the streams, too late. So the
lifespan's startup wraps the SIGTERM and SIGINT handlers that the server
installed before it (``closing_on_signals``): a signal first sets the app's
``Closing``, which every open stream watches and answers with its final event,
then runs the server's own handler, which stops accepting connections and waits
for the (now ending) streams. With ``--workers`` each worker process gets
SIGTERM from the supervisor and does the same.

Left out: what each stream sends when it closes (``app.core.slots`` and the
training's stream decide), and handlers for any other signal.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from types import FrameType
from typing import Any

RESTARTING = "restarting"  # the reason a final event gives when the server shuts down

Handler = Callable[[int, FrameType | None], Any]


class Closing:
    """Set once, when the server begins to shut down; awaited by every open stream.

    ``set`` is safe from a signal handler and from any thread: it never takes a
    lock, and wakes each event loop's waiters through ``call_soon_threadsafe``.
    """

    def __init__(self) -> None:
        self._flag = threading.Event()
        self._events: dict[asyncio.AbstractEventLoop, asyncio.Event] = {}

    def is_set(self) -> bool:
        return self._flag.is_set()

    def set(self) -> None:
        self._flag.set()
        for loop, event in list(self._events.items()):
            if not loop.is_closed():
                loop.call_soon_threadsafe(event.set)

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        event = self._events.get(loop)
        if event is None:
            for old in [old for old in self._events if old.is_closed()]:
                del self._events[old]
            event = self._events[loop] = asyncio.Event()
        # Registered before the flag is read: a set() in between either is seen here or wakes the event.
        if not self._flag.is_set():
            await event.wait()


@contextmanager
def closing_on_signals(
    closing: Closing, signals: Iterable[signal.Signals] = (signal.SIGTERM, signal.SIGINT)
) -> Iterator[None]:
    """While inside, each of ``signals`` first sets ``closing``, then runs the handler it had before.

    Outside the main thread (a test client runs the app in its own thread) nothing changes: only the
    main thread may set signal handlers, and there is no server's handler to wrap. Neither is there
    for a signal whose handler is the default or ignored. On exit the handlers are put back.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    installed: dict[signal.Signals, tuple[Handler, Handler]] = {}
    for sig in signals:
        previous = signal.getsignal(sig)
        if not callable(previous):
            continue

        def handler(signum: int, frame: FrameType | None, previous: Handler = previous) -> None:
            closing.set()
            previous(signum, frame)

        signal.signal(sig, handler)
        installed[sig] = (previous, handler)
    try:
        yield
    finally:
        for sig, (theirs, ours) in installed.items():
            if signal.getsignal(sig) is ours:
                signal.signal(sig, theirs)


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel a background task of this loop and wait until it has ended (its loop may be closing: nothing raised)."""
    if task is not None and not task.done():
        task.cancel()
        with suppress(asyncio.CancelledError, RuntimeError):
            await task
