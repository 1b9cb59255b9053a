"""One pattern subscription per process and event loop, calling back for every message: the one way a process
hears Redis publish.

Its connection neither times out between messages nor retries (``async_client(url, subscriber=True)``): a lost
connection is subscribed again after a short pause, growing to ``RETRY_SECONDS[-1]``, and ``on_resubscribed``
then catches up on what was missed while it was down (messages are not kept by Redis). The callbacks run on the
loop that started the subscription.

Used by the class sessions (every session's events, passed to the process's hub) and by the trainings (a worker's
word that a training has new events, which wakes the relays waiting for it).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import redis

from backprop_lens.app.core.lifecycle import cancel_and_wait
from backprop_lens.app.core.redis_client import async_client
from backprop_lens.app.core.state import StateUnavailableError


class PatternFanIn:
    """``on_message(channel, data)`` for every message published on a channel matching ``pattern``."""

    RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0)

    def __init__(
        self,
        url: str,
        pattern: str,
        on_message: Callable[[str, str], None],
        on_resubscribed: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.url = url
        self.pattern = pattern
        self.on_message = on_message
        self.on_resubscribed = on_resubscribed
        self.subscribed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Subscribe in a task of the running loop (once; again if the task ended)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def ready(self, within: float) -> bool:
        """Start, and whether the subscription is in place within ``within`` seconds."""
        self.start()
        try:
            await asyncio.wait_for(self.subscribed.wait(), within)
        except TimeoutError:
            return False
        return True

    def cancel(self) -> None:
        """End the subscription's task (on its own loop; from another thread, through ``call_soon_threadsafe``)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()

    async def aclose(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def _run(self) -> None:
        failures = 0
        resync = False
        while True:
            client = async_client(self.url, subscriber=True)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(self.pattern)
                self.subscribed.set()
                if resync and self.on_resubscribed is not None:
                    await self.on_resubscribed()
                failures = 0
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None and message.get("type") == "pmessage":
                        self.on_message(str(message["channel"]), str(message["data"]))
            except (redis.RedisError, OSError, StateUnavailableError):  # the last: catching up failed
                self.subscribed.clear()
                resync = True
                await asyncio.sleep(self.RETRY_SECONDS[min(failures, len(self.RETRY_SECONDS) - 1)])
                failures += 1
            finally:
                with contextlib.suppress(redis.RedisError, OSError, RuntimeError):
                    await pubsub.aclose()
                    await client.aclose()
