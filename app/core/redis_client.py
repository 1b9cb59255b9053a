"""The one place Redis clients are made: a synchronous client and an asyncio client, configured alike.

Threads (the run store, trainings, ``backprop-lens worker``) take ``sync_client``; the class sessions, which
live on the event loop, take ``async_client``. Both fail fast when Redis is lost (a 503 within seconds, not a
hung page) and retry a failed command on a new connection, so they reconnect by themselves once Redis is back.
``retry_on_error`` is explicit: redis-py 5.0 retries nothing without it. The asyncio client takes redis-py's
asyncio ``Retry``: given the synchronous one, redis-py 8.2 warns (and warnings are errors in the tests).

A subscriber (``async_client(url, subscriber=True)``) neither times out while waiting for a message nor retries:
its owner must see a lost connection, subscribe again and catch up on what it missed.

Work already accepted keeps going when Redis is full (``maxmemory`` reached under the documented ``noeviction``):
its writes are Lua scripts flagged ``allow-oom`` (``keeps_working``), which Redis runs when it refuses other
writes; new work (a run, a session, a training) is refused with a 503 saying Redis is full. Each such write
overwrites a key or appends to a capped stream, so what it adds beyond ``maxmemory`` is bounded.

Left out: what the clients store (the stores say), and Redis Cluster or Sentinel URLs.
"""

from __future__ import annotations

import redis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry

CONNECT_TIMEOUT = 2.0  # seconds to open a connection
COMMAND_TIMEOUT = 2.0  # seconds a command may take before the request gets a 503
RETRIES = 2  # a failed command tries again this many times, on a new connection
HEALTH_CHECK_SECONDS = 15  # an idle connection older than this is checked before use
RETRY_ON = [redis.ConnectionError, redis.TimeoutError]


def keeps_working(script: str) -> str:
    """``script`` flagged to run also when Redis is full (Redis 7's ``allow-oom``; see the module's docstring)."""
    return "#!lua flags=allow-oom\n" + script.lstrip("\n")


def new_work(script: str) -> str:
    """``script`` refused whole when Redis is full: a flagged script without ``allow-oom`` (one without flags that
    has written once may write on past ``maxmemory``, to stay atomic)."""
    return "#!lua\n" + script.lstrip("\n")


SET_SCRIPT = keeps_working("return redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])")
"""KEYS: the key. ARGV: its value, its time to live (ms). SET for accepted work: a lease, a heartbeat, a control."""


def _backoff() -> ExponentialWithJitterBackoff:
    return ExponentialWithJitterBackoff(cap=0.5, base=0.05)


def sync_client(url: str) -> redis.Redis:
    """A thread-safe client (redis-py's pool) answering text; ValueError if ``url`` is not a Redis URL."""
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=CONNECT_TIMEOUT,
        socket_timeout=COMMAND_TIMEOUT,
        retry=Retry(_backoff(), retries=RETRIES),
        retry_on_error=RETRY_ON,
        health_check_interval=HEALTH_CHECK_SECONDS,
    )


def async_client(url: str, max_connections: int = 32, wait: float = 5.0, subscriber: bool = False) -> aioredis.Redis:
    """A client for the running event loop (its connections belong to that loop), answering text.

    Its pool blocks: a command beyond ``max_connections`` at once waits its turn up to ``wait`` seconds (then
    ``redis.ConnectionError``) instead of failing as redis-py's default pool does beyond its connections.
    ``aclose()`` closes the pool with the client. ``subscriber``: one connection for pub/sub, which neither
    times out between messages nor retries (see the module's docstring).
    """
    if subscriber:
        return aioredis.Redis.from_url(url, decode_responses=True, socket_connect_timeout=CONNECT_TIMEOUT)
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=wait,
        decode_responses=True,
        socket_connect_timeout=CONNECT_TIMEOUT,
        socket_timeout=COMMAND_TIMEOUT,
        retry=AsyncRetry(_backoff(), retries=RETRIES),
        retry_on_error=RETRY_ON,
    )
    return aioredis.Redis.from_pool(pool)  # owns the pool: aclose closes its connections
