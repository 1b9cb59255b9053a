"""Class sessions: which run and step the lecturer shows, who may change it, and who hears of each change.

A session is small: its join code, the hash of the lecturer's token, the run on the lecturer's screen
(its id and its configuration, so that an expired run can be stored again under the same id), the step,
and a sequence number that grows with every change. Two implementations of one interface:

* ``MemorySessions``, the embedded default: one process; a change reaches the followers through
  ``Hub``, this process's fan-out.
* ``RedisSessions`` (``BACKPROP_LENS_REDIS_URL``): each session a hash at its own key, expiring
  ``session_ttl_seconds`` after the lecturer's last change; every change is written and published
  (``PUBLISH``) in one script, so the order of the events is the order of the changes. Each process
  holds one pattern subscription (``RedisFanIn``) and passes what it hears to its own ``Hub``: 300
  students on a process cost one Redis connection, not 300. After a lost connection it subscribes
  again and gives every follower the current state, so nothing missed stays missed.

A follower keeps only the newest state (``Follower.offer``): the state replaces the one before, so a
slow student skips to the lecturer's step instead of replaying every step in between.

Left out: what a run is (the routes ask the step-through's run store) and HTTP (``app.classroom.routes``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

import redis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialWithJitterBackoff

from backprop_lens.app.core.state import KEY_PREFIX, StateUnavailableError

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
"""Letters and digits that are easy to read aloud and to type: no 0/O, 1/I/L (upper- or lowercase)."""
CODE_LENGTH = 6  # 31**6, about 887 million codes
MAX_CODE_DRAWS = 20  # a draw that hits a live code draws again; 20 misses in a row need a full code space


class SessionError(Exception):
    """A request the sessions refuse; ``status`` is the HTTP status that says why."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SessionsFullError(SessionError):
    status = 503


class NoSessionError(SessionError):
    status = 404


class NotLecturerError(SessionError):
    status = 403


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def read_code(text: str) -> str | None:
    """A join code as typed (any case, spaces or dashes between groups) in its canonical form; None if it is none."""
    code = "".join(c for c in text.upper() if c not in " -\u2009\u00a0")
    if len(code) != CODE_LENGTH or any(c not in ALPHABET for c in code):
        return None
    return code


def spaced(code: str) -> str:
    """``ABC234`` as ``ABC 234``: two groups are easier to read aloud and to copy from a projector."""
    half = len(code) // 2
    return f"{code[:half]} {code[half:]}"


def token_hash(token: str) -> str:
    """What a session keeps of the lecturer's token: its SHA-256 (a stolen store gives no token)."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SessionState:
    """What a follower needs: the lecturer's run and step, in the order of the changes (``sid``, ``seq``)."""

    code: str
    run_id: str
    step: int
    query: str  # the run's configuration (its permalink's query), to store the run again if it expired
    seq: int
    sid: str  # random per session: a code used again later is another session, whose seq starts again
    ended: bool = False

    @property
    def event_id(self) -> str:
        return f"{self.sid}.{self.seq}"

    def newer_than(self, other: SessionState | None) -> bool:
        return other is None or self.ended or self.sid != other.sid or self.seq > other.seq

    def public(self) -> dict[str, Any]:
        """The event's data: no configuration (the page fetches the run by its id), no token."""
        return {"code": self.code, "run_id": self.run_id, "step": self.step, "seq": self.seq}


def parse_event_id(text: str | None) -> tuple[str, int] | None:
    """``sid.seq`` from a ``Last-Event-ID`` header; None for anything else."""
    sid, _, seq = (text or "").strip().partition(".")
    return (sid, int(seq)) if sid and seq.isdigit() and len(seq) < 12 else None


class Follower:
    """One student's stream: the newest state not yet sent, and an event that wakes the stream."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.wake = asyncio.Event()
        self.latest: SessionState | None = None

    def offer(self, state: SessionState) -> None:
        """Keep ``state`` if it is newer than the one kept (call on the follower's loop)."""
        if state.newer_than(self.latest):
            self.latest = state
            self.wake.set()


class Hub:
    """This process's followers by session code; ``publish`` is safe from any thread."""

    def __init__(self) -> None:
        self._followers: dict[str, set[Follower]] = {}
        self._lock = threading.Lock()

    def add(self, code: str) -> Follower:
        follower = Follower()
        with self._lock:
            self._followers.setdefault(code, set()).add(follower)
        return follower

    def remove(self, code: str, follower: Follower) -> None:
        with self._lock:
            followers = self._followers.get(code)
            if followers is not None:
                followers.discard(follower)
                if not followers:
                    del self._followers[code]

    def codes(self) -> list[str]:
        with self._lock:
            return list(self._followers)

    def count(self, code: str) -> int:
        with self._lock:
            return len(self._followers.get(code, ()))

    def publish(self, state: SessionState) -> None:
        with self._lock:
            followers = list(self._followers.get(state.code, ()))
        try:
            here: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        for f in followers:
            if f.loop is here:
                f.offer(state)
            else:
                with contextlib.suppress(RuntimeError):  # a loop already closed has no follower left to tell
                    f.loop.call_soon_threadsafe(f.offer, state)


class Sessions(Protocol):
    """Where the class sessions live; every method may raise StateUnavailableError (Redis lost)."""

    hub: Hub

    async def create(self, run_id: str, step: int, query: str) -> tuple[SessionState, str]:
        """A new session on the lecturer's run and step, and the lecturer's token; SessionsFullError at the limit."""

    async def get(self, code: str) -> SessionState | None:
        """The session's current state; None when unknown or expired."""

    async def update(self, code: str, token: str, run_id: str, step: int, query: str) -> SessionState:
        """The lecturer's new run and step, told to every follower; NoSessionError, NotLecturerError."""

    async def is_lecturer(self, code: str, token: str) -> bool:
        """Whether ``token`` is the lecturer's of a session that is there (it changes nothing)."""

    async def end(self, code: str, token: str) -> None:
        """The lecturer ends the session; its followers hear ``ended``."""

    async def count(self) -> int:
        """Sessions open now."""

    async def ready(self) -> None:
        """Returns once this process hears every change (Redis: its subscription is in place)."""

    async def aclose(self) -> None:
        """Let go of connections (the app's shutdown)."""


@dataclass
class _Kept:
    state: SessionState
    token_hash: str
    used: float


class MemorySessions:
    """In this process's memory: at most ``max_sessions``, each dropped ``ttl_seconds`` after its last change."""

    def __init__(self, max_sessions: int, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_sessions = max_sessions
        self.ttl_seconds = ttl_seconds
        self.hub = Hub()
        self._clock = clock
        self._sessions: dict[str, _Kept] = {}
        self._lock = threading.Lock()

    async def create(self, run_id: str, step: int, query: str) -> tuple[SessionState, str]:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._expire()
            if len(self._sessions) >= self.max_sessions:
                raise SessionsFullError(full_message(self.max_sessions))
            code = new_code()
            for _ in range(MAX_CODE_DRAWS):
                if code not in self._sessions:
                    break
                code = new_code()
            else:
                raise SessionsFullError("sessions: no free join code was found; try again")
            state = SessionState(code, run_id, step, query, seq=1, sid=secrets.token_hex(4))
            self._sessions[code] = _Kept(state, token_hash(token), self._clock())
        return state, token

    async def get(self, code: str) -> SessionState | None:
        with self._lock:
            self._expire()
            kept = self._sessions.get(code)
            return None if kept is None else kept.state

    async def update(self, code: str, token: str, run_id: str, step: int, query: str) -> SessionState:
        with self._lock:
            kept = self._lecturers(code, token)
            kept.state = replace(kept.state, run_id=run_id, step=step, query=query, seq=kept.state.seq + 1)
            kept.used = self._clock()
            state = kept.state
        self.hub.publish(state)
        return state

    async def is_lecturer(self, code: str, token: str) -> bool:
        with self._lock:
            self._expire()
            kept = self._sessions.get(code)
            return kept is not None and hmac.compare_digest(kept.token_hash, token_hash(token))

    async def end(self, code: str, token: str) -> None:
        with self._lock:
            kept = self._lecturers(code, token)
            del self._sessions[code]
        self.hub.publish(replace(kept.state, ended=True))

    async def count(self) -> int:
        with self._lock:
            self._expire()
            return len(self._sessions)

    async def ready(self) -> None:
        pass

    async def aclose(self) -> None:
        pass

    def _lecturers(self, code: str, token: str) -> _Kept:
        self._expire()
        kept = self._sessions.get(code)
        if kept is None:
            raise NoSessionError(no_session_message(code))
        if not hmac.compare_digest(kept.token_hash, token_hash(token)):
            raise NotLecturerError(NOT_LECTURER)
        return kept

    def _expire(self) -> None:
        cutoff = self._clock() - self.ttl_seconds
        for code in [c for c, k in self._sessions.items() if k.used <= cutoff]:
            kept = self._sessions.pop(code)
            self.hub.publish(replace(kept.state, ended=True))


def ended(code: str) -> SessionState:
    """The state of a session found gone (expired, or ended while a process was not listening)."""
    return SessionState(code, "", 0, "", 0, "", ended=True)


def full_message(limit: int) -> str:
    return f"sessions: all {limit} class sessions are in use; end one or try again later"


def no_session_message(code: str) -> str:
    return f"code: no class session has the code {spaced(code)}; it may have ended"


NOT_LECTURER = "token: only the lecturer's browser, which holds the session's lecturer link, can drive this session"


# --- Redis --------------------------------------------------------------------------------------------------

# KEYS: the session's key, the index (codes scored by last change, µs of the server's clock).
# ARGV: code, token hash, run id, step, query, sid, time to live (ms), max sessions.
# Returns 1 (made), 0 (at the limit) or -1 (the code is taken: draw another).
_CREATE = """
local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
local ttl = tonumber(ARGV[7])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('%.0f', now - ttl * 1000))
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[8]) then return 0 end
redis.call('HSET', KEYS[1], 'token', ARGV[2], 'run', ARGV[3], 'step', ARGV[4], 'query', ARGV[5], 'sid', ARGV[6],
           'seq', 1)
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[2], string.format('%.0f', now), ARGV[1])
redis.call('PEXPIRE', KEYS[2], ttl)
return 1
"""

# KEYS: the session's key, the index. ARGV: code, token hash, run id, step, query, time to live (ms), channel.
# Returns the new seq, -1 (no such session) or -2 (not the lecturer's token). The change and its event are one
# script, so that every process hears the changes in the order they were made.
_UPDATE = """
local token = redis.call('HGET', KEYS[1], 'token')
if not token then return -1 end
if token ~= ARGV[2] then return -2 end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('HSET', KEYS[1], 'run', ARGV[3], 'step', ARGV[4], 'query', ARGV[5])
local ttl = tonumber(ARGV[6])
redis.call('PEXPIRE', KEYS[1], ttl)
local t = redis.call('TIME')
redis.call('ZADD', KEYS[2], string.format('%.0f', t[1] * 1000000 + t[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[2], ttl)
local sid = redis.call('HGET', KEYS[1], 'sid')
redis.call('PUBLISH', ARGV[7], cjson.encode({run=ARGV[3], step=tonumber(ARGV[4]), seq=seq, sid=sid}))
return seq
"""

# KEYS: the session's key, the index. ARGV: code, token hash, channel. Returns 1, -1 or -2 as _UPDATE.
_END = """
local token = redis.call('HGET', KEYS[1], 'token')
if not token then return -1 end
if token ~= ARGV[2] then return -2 end
local seq = redis.call('HGET', KEYS[1], 'seq')
local sid = redis.call('HGET', KEYS[1], 'sid')
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('PUBLISH', ARGV[3], cjson.encode({ended=true, seq=tonumber(seq), sid=sid}))
return 1
"""


def _unavailable(e: Exception) -> StateUnavailableError:
    return StateUnavailableError(f"Redis is unavailable ({type(e).__name__}); try again shortly")


class RedisSessions:
    """In Redis, shared by every process naming the same URL. Clients are made on the running event loop."""

    READY_WITHIN = 3.0  # seconds to wait for the subscription before a follower gets a 503
    POOL_SIZE = 32  # connections to Redis per process and event loop (commands are short)
    POOL_WAIT = 5.0  # seconds a command waits for one of them before the request gets a 503

    def __init__(self, url: str, max_sessions: int, ttl_seconds: float, prefix: str = KEY_PREFIX) -> None:
        self.url = url
        self.max_sessions = max_sessions
        self.ttl_ms = max(1, round(ttl_seconds * 1000))
        self.hub = Hub()
        self._key_prefix = f"{prefix}session:"
        self._index = f"{prefix}sessions"
        self._channel_prefix = f"{prefix}session-events:"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._redis: aioredis.Redis | None = None
        self._fan_in: RedisFanIn | None = None

    def _client(self) -> aioredis.Redis:
        loop = asyncio.get_running_loop()
        if self._redis is None or self._loop is not loop:
            # A client's connections belong to the loop that made them: another loop (a test's second client)
            # gets clients of its own. A lost connection fails within seconds and is replaced on the next command.
            # A blocking pool: a class that joins at once waits its turn for a connection (up to POOL_WAIT
            # seconds) instead of failing as redis-py's default pool does beyond its 100 connections.
            self._loop = loop
            pool = aioredis.BlockingConnectionPool.from_url(
                self.url,
                max_connections=self.POOL_SIZE,
                timeout=self.POOL_WAIT,
                decode_responses=True,
                socket_connect_timeout=2,
                socket_timeout=2,
                retry=AsyncRetry(ExponentialWithJitterBackoff(cap=0.5, base=0.05), retries=2),
                retry_on_error=[redis.ConnectionError, redis.TimeoutError],
            )
            self._redis = aioredis.Redis.from_pool(pool)  # owns the pool: aclose closes its connections
            self._fan_in = RedisFanIn(self.url, self._channel_prefix, self)
        return self._redis

    def _key(self, code: str) -> str:
        return self._key_prefix + code

    def _channel(self, code: str) -> str:
        return self._channel_prefix + code

    async def create(self, run_id: str, step: int, query: str) -> tuple[SessionState, str]:
        client = self._client()
        token = secrets.token_urlsafe(24)
        sid = secrets.token_hex(4)
        for _ in range(MAX_CODE_DRAWS):
            code = new_code()
            args: list[str | int] = [code, token_hash(token), run_id, step, query, sid, self.ttl_ms, self.max_sessions]
            try:
                made = await client.eval(_CREATE, 2, self._key(code), self._index, *args)
            except redis.RedisError as e:
                raise _unavailable(e) from e
            if made == 0:
                raise SessionsFullError(full_message(self.max_sessions))
            if made == 1:
                return SessionState(code, run_id, step, query, seq=1, sid=sid), token
        raise SessionsFullError("sessions: no free join code was found; try again")

    async def get(self, code: str) -> SessionState | None:
        try:
            raw = await self._client().hgetall(self._key(code))
        except redis.RedisError as e:
            raise _unavailable(e) from e
        fields = {str(k): str(v) for k, v in raw.items()}
        if "run" not in fields:
            return None
        return SessionState(
            code, fields["run"], int(fields["step"]), fields.get("query", ""), int(fields["seq"]), fields["sid"]
        )

    async def update(self, code: str, token: str, run_id: str, step: int, query: str) -> SessionState:
        args: list[str | int] = [code, token_hash(token), run_id, step, query, self.ttl_ms, self._channel(code)]
        try:
            seq = await self._client().eval(_UPDATE, 2, self._key(code), self._index, *args)
        except redis.RedisError as e:
            raise _unavailable(e) from e
        self._refuse(code, int(seq))
        state = await self.get(code)
        if state is None:  # ended between the two commands
            raise NoSessionError(no_session_message(code))
        return replace(state, run_id=run_id, step=step, query=query, seq=int(seq))

    async def is_lecturer(self, code: str, token: str) -> bool:
        try:
            kept = await self._client().hget(self._key(code), "token")
        except redis.RedisError as e:
            raise _unavailable(e) from e
        return isinstance(kept, str) and hmac.compare_digest(kept, token_hash(token))

    async def end(self, code: str, token: str) -> None:
        args = [code, token_hash(token), self._channel(code)]
        try:
            done = await self._client().eval(_END, 2, self._key(code), self._index, *args)
        except redis.RedisError as e:
            raise _unavailable(e) from e
        self._refuse(code, int(done))

    async def count(self) -> int:
        client = self._client()
        try:
            seconds, micros = await client.time()
            now = seconds * 1_000_000 + micros
            return int(await client.zcount(self._index, f"({now - self.ttl_ms * 1000}", "+inf"))
        except redis.RedisError as e:
            raise _unavailable(e) from e

    async def ready(self) -> None:
        self._client()
        assert self._fan_in is not None
        await self._fan_in.ready(self.READY_WITHIN)

    async def aclose(self) -> None:
        fan_in, client = self._fan_in, self._redis
        self._fan_in = self._redis = None
        if fan_in is not None:
            await fan_in.aclose()
        if client is not None:
            with contextlib.suppress(redis.RedisError, RuntimeError):
                await client.aclose()

    @staticmethod
    def _refuse(code: str, answer: int) -> None:
        if answer == -1:
            raise NoSessionError(no_session_message(code))
        if answer == -2:
            raise NotLecturerError(NOT_LECTURER)

    def state_from_event(self, channel: str, data: str) -> SessionState | None:
        """The state a published event describes (its configuration is not in it: followers do not need it)."""
        code = channel.removeprefix(self._channel_prefix)
        try:
            event = json.loads(data)
            return SessionState(
                code,
                str(event.get("run", "")),
                int(event.get("step", 0)),
                "",
                int(event["seq"]),
                str(event["sid"]),
                ended=bool(event.get("ended", False)),
            )
        except (ValueError, KeyError, TypeError):
            return None


class RedisFanIn:
    """One pattern subscription per process and loop, passing every session's events to the process's hub."""

    RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0)

    def __init__(self, url: str, channel_prefix: str, sessions: RedisSessions) -> None:
        self.url = url
        self.pattern = channel_prefix + "*"
        self.sessions = sessions
        self._subscribed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def ready(self, within: float) -> None:
        """Returns once the subscription is in place; StateUnavailableError if Redis does not answer in time."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        try:
            await asyncio.wait_for(self._subscribed.wait(), within)
        except TimeoutError:
            raise StateUnavailableError("Redis is unavailable (no subscription); try again shortly") from None

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, RuntimeError):
                await task

    async def _run(self) -> None:
        failures = 0
        resync = False
        while True:
            client = aioredis.Redis.from_url(self.url, decode_responses=True, socket_connect_timeout=2)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(self.pattern)
                self._subscribed.set()
                if resync:  # events may have been missed while the connection was down: send what is current
                    await self._resync()
                failures = 0
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None and message.get("type") == "pmessage":
                        state = self.sessions.state_from_event(str(message["channel"]), str(message["data"]))
                        if state is not None:
                            self.sessions.hub.publish(state)
            except (redis.RedisError, OSError, StateUnavailableError):
                self._subscribed.clear()
                resync = True
                await asyncio.sleep(self.RETRY_SECONDS[min(failures, len(self.RETRY_SECONDS) - 1)])
                failures += 1
            finally:
                with contextlib.suppress(redis.RedisError, OSError, RuntimeError):
                    await pubsub.aclose()
                    await client.aclose()

    async def _resync(self) -> None:
        for code in self.sessions.hub.codes():
            state = await self.sessions.get(code)
            self.sessions.hub.publish(state or ended(code))
