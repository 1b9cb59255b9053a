"""Shared state: what every process serving the app must see alike, kept in memory or in Redis.

The engine is deterministic, so a run of the step-through is its configuration: any process that
lacks the trace recomputes it. What processes must share is therefore small text, a run's
configuration under its id. ``State`` is that interface, with two implementations:

* ``MemoryState``, the embedded default: one process, no other service. At most ``max_runs``
  configurations (the least recently used goes first), none kept ``run_ttl_seconds`` after its
  last use.
* ``RedisState`` (``BACKPROP_LENS_REDIS_URL``): each configuration at its own key, expiring
  ``run_ttl_seconds`` after its last use, and at most ``max_runs`` of them (a sorted set of the
  ids by last use, trimmed in the same script), so any web process on any machine serves any
  run and a restart of every web process loses nothing.

Redis lost while serving is ``StateUnavailableError``, which ``on_state_unavailable`` answers with a
503 naming Redis; redis-py reconnects by itself once Redis is back (the client, from
``app.core.redis_client``, retries a failed command on a new connection and checks an idle one
before use). Redis unreachable when the app is made is a ``RuntimeError`` naming the URL
(``make_state``), so a misconfigured server stops at once instead of failing on its first page.

Left out: what a configuration means (the core imports no feature; the step-through writes and
reads it as opaque text), and trainings and class sessions, which are later methods of the same
interface.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

import redis
from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from backprop_lens.app.core.errors import error_response
from backprop_lens.app.core.lru import LRU
from backprop_lens.app.core.redis_client import keeps_working, new_work, sync_client
from backprop_lens.app.core.settings import Settings

T = TypeVar("T")
log = logging.getLogger("backprop_lens")
RETRY_AFTER_SECONDS = 5
KEY_PREFIX = "backprop-lens:"


class StateUnavailableError(Exception):
    """The shared state cannot be reached (Redis is down or refuses); the request may be retried."""


def unavailable(e: BaseException) -> StateUnavailableError:
    """The one wording of a Redis failure, telling full from down (each its own sentence, and its own 503)."""
    text = str(e)
    if isinstance(e, redis.ResponseError) and (text.startswith("OOM") or "maxmemory" in text):
        return StateUnavailableError(
            "Redis is full: it refuses writes past its maxmemory, so nothing new can be kept; an operator frees "
            "memory or raises maxmemory (docs/deploy.md, Redis); try again shortly"
        )
    return StateUnavailableError(f"Redis is unavailable ({type(e).__name__}); try again shortly")


class State(Protocol):
    """Where the processes' shared state lives: run configurations as opaque text under their ids."""

    def put_run(self, run_id: str, config: str) -> None:
        """Keep a run's configuration; the least recently used runs go when there are too many."""

    def get_run(self, run_id: str) -> str | None:
        """The run's configuration, its time to live restarted; None when unknown or expired."""

    def run_count(self) -> int:
        """How many runs are kept."""

    def ready(self) -> list[str]:
        """Nothing when this state can serve; else what is wrong, in words."""

    def close(self) -> None:
        """Let go of connections (the app's shutdown)."""


class MemoryState:
    """In this process's memory: least recently used first out, with a time limit; thread-safe."""

    def __init__(self, max_runs: int, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_runs = max_runs
        self.ttl_seconds = ttl_seconds
        self._runs: LRU[str, str] = LRU(max_runs, ttl_seconds=ttl_seconds, clock=clock)

    def put_run(self, run_id: str, config: str) -> None:
        self._runs.put(run_id, config)

    def get_run(self, run_id: str) -> str | None:
        return self._runs.get(run_id)  # a use restarts its time to live

    def run_count(self) -> int:
        return len(self._runs)

    def close(self) -> None:
        pass

    def ready(self) -> list[str]:
        return []  # this process's own memory


# KEYS: the run's key, the index (ids scored by last use, in µs of the server's clock).
# ARGV: id, configuration, time to live (ms), max runs, the prefix of run keys.
# The server's clock, not the callers': web processes on several machines agree on it. Scores are
# written with %.0f: Lua's own number-to-text keeps 14 digits, too few for microseconds.
_PUT = new_work("""
local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
local ttl = tonumber(ARGV[3])
redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
redis.call('ZADD', KEYS[2], string.format('%.0f', now), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('%.0f', now - ttl * 1000))
local extra = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4])
if extra > 0 then
  for _, old in ipairs(redis.call('ZRANGE', KEYS[2], 0, extra - 1)) do
    redis.call('DEL', ARGV[5] .. old)
  end
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, extra - 1)
end
redis.call('PEXPIRE', KEYS[2], ttl)
return 1
""")

# KEYS: the run's key, the index. ARGV: id, time to live (ms). A run in use stays in use when Redis is full.
_GET = keeps_working("""
local config = redis.call('GET', KEYS[1])
if not config then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return false
end
local t = redis.call('TIME')
local ttl = tonumber(ARGV[2])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[2], string.format('%.0f', t[1] * 1000000 + t[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[2], ttl)
return config
""")


def redacted(url: str) -> str:
    """The URL without its password, for messages: redis://:secret@host → redis://:***@host."""
    return re.sub(r"(//[^/@]*?:)[^/@]*@", r"\1***@", url)


class RedisState:
    """In Redis, shared by every process that names the same URL; thread-safe (redis-py's pool)."""

    def __init__(self, url: str, max_runs: int, ttl_seconds: float, prefix: str = KEY_PREFIX) -> None:
        self.url = url
        self.max_runs = max_runs
        self.ttl_ms = max(1, round(ttl_seconds * 1000))
        self._run_prefix = f"{prefix}run:"
        self._index = f"{prefix}runs"
        try:
            self._redis = sync_client(url)
        except ValueError as e:  # redis-py's words for a URL it cannot read (no scheme, a bad port)
            raise RuntimeError(f"{redacted(url)} is not a Redis URL: {e}") from None
        self._put = self._redis.register_script(_PUT)
        self._get = self._redis.register_script(_GET)

    def ping(self) -> None:
        """Nothing if Redis answers; RuntimeError naming the URL otherwise."""
        try:
            self._redis.ping()
        except redis.RedisError as e:
            self.close()
            raise RuntimeError(f"Redis at {redacted(self.url)} is unreachable: {e}") from None

    def put_run(self, run_id: str, config: str) -> None:
        keys = [self._run_prefix + run_id, self._index]
        args: list[str | int] = [run_id, config, self.ttl_ms, self.max_runs, self._run_prefix]
        self._call(lambda: self._put(keys=keys, args=args))

    def get_run(self, run_id: str) -> str | None:
        keys = [self._run_prefix + run_id, self._index]
        found = self._call(lambda: self._get(keys=keys, args=[run_id, self.ttl_ms]))
        return found if isinstance(found, str) else None

    def run_count(self) -> int:
        def count() -> int:
            seconds, micros = self._redis.time()
            now = seconds * 1_000_000 + micros
            return int(self._redis.zcount(self._index, f"({now - self.ttl_ms * 1000}", "+inf"))

        return int(self._call(count))

    def close(self) -> None:
        self._redis.close()

    def ready(self) -> list[str]:
        """Nothing when Redis answers and takes a write; else what is wrong, telling full from down."""
        probe = f"{self._run_prefix}ready-probe"
        try:
            self._redis.set(probe, "1", px=1000)
        except redis.ResponseError as e:  # it answers, but refuses: full (maxmemory), read-only, or not allowed
            full = "maxmemory" in str(e) or str(e).startswith("OOM")
            return [f"Redis at {redacted(self.url)} {'is full and ' if full else ''}refuses writes: {e}"]
        except redis.RedisError as e:
            return [f"Redis at {redacted(self.url)} is unreachable ({type(e).__name__})"]
        return []

    def _call(self, command: Callable[[], T]) -> T:
        try:
            return command()
        except redis.RedisError as e:
            raise unavailable(e) from e


def make_state(settings: Settings) -> State:
    """Redis if ``settings.redis_url`` names one (RuntimeError now if it does not answer), else memory."""
    if not settings.redis_url:  # unset, or set to nothing
        return MemoryState(settings.max_runs, settings.run_ttl_seconds)
    state = RedisState(settings.redis_url, settings.max_runs, settings.run_ttl_seconds)
    state.ping()
    return state


async def on_state_unavailable(request: Request, exc: Exception) -> Response:
    """A 503 naming Redis (full or down), with Retry-After: the request may succeed once Redis is back.

    JSON for the API and for scripts; an HTML page, in the page's layout, for a browser asking for a page."""
    message = str(exc) or "Redis is unavailable; try again shortly"
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.count_error(exc)
    log.warning("%s %s: %s (%s)", request.method, request.url.path, message, exc.__cause__)  # the cause
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    wants_page = "text/html" in request.headers.get("accept", "") and "/api/" not in request.url.path
    templates = getattr(request.app.state, "templates", None)
    if wants_page and templates is not None and request.headers.get("hx-request") != "true":
        page = templates.get_template("page/unavailable.html").render(
            message=message, root=request.scope.get("root_path", "")
        )
        return HTMLResponse(page, status_code=503, headers=headers)
    return error_response(503, message, headers)
