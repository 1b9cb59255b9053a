"""Class sessions in Redis (``BACKPROP_LENS_REDIS_URL``), shared by every process naming the same URL.

Each session is a hash at its own key, expiring ``session_ttl_seconds`` after the lecturer's last change;
every change is written and published (``PUBLISH``) in one script, so the order of the events is the
order of the changes. Each process holds one pattern subscription (``RedisFanIn``) and passes what it
hears to its own ``Hub``: 300 students on a process cost one Redis connection, not 300. After a lost
connection it subscribes again and gives every follower the current state, so nothing missed stays missed.
Clients come from ``app.core.redis_client``.

Followers are counted over every process in a sorted set per session: each follow stream holds a member
whose score is when it lapses, ``FOLLOWER_TTL_SECONDS`` ahead. The process renews its members every
``FOLLOWER_RENEW_SECONDS`` and removes each when its stream ends; a process that is killed renews nothing,
and its followers drop out of the count within ``FOLLOWER_TTL_SECONDS``. Unknown join codes are counted per
client address at a key that expires a minute after the first.

Left out: the interface and its errors (``app.classroom.store``), and HTTP (``app.classroom.routes``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import redis
import redis.asyncio as aioredis

from backprop_lens.app.classroom.codes import MAX_CODE_DRAWS, new_code, token_hash
from backprop_lens.app.classroom.hub import Hub, SessionState, ended
from backprop_lens.app.classroom.store import (
    FAILURE_WINDOW_SECONDS,
    MAX_OUTLINE,
    MAX_REACTIONS_KEPT,
    NOT_LECTURER,
    REACTION_WINDOW_SECONDS,
    REACTIONS,
    AnswersFullError,
    ClientSessionsError,
    Glance,
    NoQuestionError,
    NoSessionError,
    NotLecturerError,
    QuestionClosedError,
    Recap,
    SessionInfo,
    SessionsFullError,
    answers_full_message,
    client_full_message,
    closed_message,
    full_message,
    no_question_message,
    no_session_message,
)
from backprop_lens.app.core.fanin import PatternFanIn
from backprop_lens.app.core.lifecycle import cancel_and_wait
from backprop_lens.app.core.redis_client import async_client, keeps_working, new_work
from backprop_lens.app.core.state import KEY_PREFIX, StateUnavailableError, unavailable

# KEYS: the session's key, the index (codes scored by last change, µs of the server's clock).
# ARGV: code, token hash, run id, step, query, sid, time to live (ms), max sessions, sessions one client may hold
# (-1: no limit), the client, the prefix of the sessions' keys, the outline's first entry. KEYS[3], KEYS[4]: the
# session's outline and the recap of an ended session with this code (which keeps the code taken).
# Returns 1 (made), 0 (at the limit), -1 (the code is taken: draw another) or -2 (the client's limit). The
# client's sessions are counted among the live ones (at most max sessions, a few dozen: no index of its own).
_CREATE = new_work("""
local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
local ttl = tonumber(ARGV[7])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('%.0f', now - ttl * 1000))
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[4]) == 1 then return -1 end
local per_client = tonumber(ARGV[9])
if per_client >= 0 then
  local held = 0
  for _, code in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
    if redis.call('HGET', ARGV[11] .. code, 'client') == ARGV[10] then held = held + 1 end
  end
  if held >= per_client then return -2 end
end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[8]) then return 0 end
redis.call('HSET', KEYS[1], 'token', ARGV[2], 'run', ARGV[3], 'step', ARGV[4], 'query', ARGV[5], 'sid', ARGV[6],
           'seq', 1, 'client', ARGV[10])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[2], string.format('%.0f', now), ARGV[1])
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('DEL', KEYS[3])
if ARGV[12] ~= '' then
  redis.call('RPUSH', KEYS[3], ARGV[12])
  redis.call('PEXPIRE', KEYS[3], ttl)
end
return 1
""")

# KEYS: the session's key, the index, its outline. ARGV: code, token hash, run id, step, query, time to live (ms),
# channel, line, point, the outline's entry ("" for none; not added again after itself), the entries kept.
# Returns the new seq, -1 (no such session) or -2 (not the lecturer's token). The change and its event are one
# script, so that every process hears the changes in the order they were made.
_UPDATE = keeps_working("""
local token = redis.call('HGET', KEYS[1], 'token')
if not token then return -1 end
if token ~= ARGV[2] then return -2 end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('HSET', KEYS[1], 'run', ARGV[3], 'step', ARGV[4], 'query', ARGV[5], 'line', ARGV[8], 'point', ARGV[9])
local ttl = tonumber(ARGV[6])
redis.call('PEXPIRE', KEYS[1], ttl)
local t = redis.call('TIME')
redis.call('ZADD', KEYS[2], string.format('%.0f', t[1] * 1000000 + t[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[2], ttl)
if ARGV[10] ~= '' and redis.call('LINDEX', KEYS[3], -1) ~= ARGV[10] then
  redis.call('RPUSH', KEYS[3], ARGV[10])
  redis.call('LTRIM', KEYS[3], -tonumber(ARGV[11]), -1)
end
redis.call('PEXPIRE', KEYS[3], ttl)
local sid = redis.call('HGET', KEYS[1], 'sid')
redis.call('PUBLISH', ARGV[7], cjson.encode({run=ARGV[3], step=tonumber(ARGV[4]), line=tonumber(ARGV[8]),
                                             point=ARGV[9], seq=seq, sid=sid,
                                             question=redis.call('HGET', KEYS[1], 'question') or ''}))
return seq
""")

# The event of a question's change, as _UPDATE's (KEYS[1] the session's key, ARGV[3] the channel; seq and q set).
_QUESTION_EVENT = """
local f = redis.call('HMGET', KEYS[1], 'run', 'step', 'line', 'point', 'sid')
redis.call('PUBLISH', ARGV[3], cjson.encode({run=f[1], step=tonumber(f[2]), line=tonumber(f[3]) or 0,
                                             point=f[4] or '', seq=seq, sid=f[5], question=q}))
"""

# KEYS: the session's key. ARGV: token hash, time to live (ms), channel, the quantity's key, the record, the prefix of
# the session's question keys. Returns {seq, n} or -1, -2 as _UPDATE. The question's record is kept at prefix .. n,
# its answers (a hash by student) at prefix .. n .. ':a'.
_ASK = keeps_working(
    """
local token = redis.call('HGET', KEYS[1], 'token')
if not token then return -1 end
if token ~= ARGV[1] then return -2 end
local n = redis.call('HINCRBY', KEYS[1], 'questions', 1)
redis.call('SET', ARGV[6] .. n, ARGV[5], 'PX', ARGV[2])
local q = n .. ':' .. ARGV[4] .. ':open'
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('HSET', KEYS[1], 'question', q)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
"""
    + _QUESTION_EVENT
    + """
return {seq, n}
"""
)

# KEYS: the session's key, its outline. ARGV: token hash, time to live (ms), channel, n, the phase, the outline's
# entry ("" for none), the entries kept, the prefix of the question keys. Returns seq, -1, -2 or -3 (n is not the
# current question).
_PHASE = keeps_working(
    """
local token = redis.call('HGET', KEYS[1], 'token')
if not token then return -1 end
if token ~= ARGV[1] then return -2 end
local n, key = string.match(redis.call('HGET', KEYS[1], 'question') or '', '^(%d+):([^:]+):')
if n ~= ARGV[4] then return -3 end
local q = n .. ':' .. key .. ':' .. ARGV[5]
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('HSET', KEYS[1], 'question', q)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', ARGV[8] .. n, ARGV[2])
redis.call('PEXPIRE', ARGV[8] .. n .. ':a', ARGV[2])
if ARGV[6] ~= '' then
  redis.call('RPUSH', KEYS[2], ARGV[6])
  redis.call('LTRIM', KEYS[2], -tonumber(ARGV[7]), -1)
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
"""
    + _QUESTION_EVENT
    + """
return seq
"""
)

# KEYS: the session's key, the question's answers. ARGV: n, who, the value, the most answers, time to live (ms).
# Returns the answers' count, or -1 (no session), -3 (no such question), -4 (revealed or replaced), -5 (full).
# One hash field per student: an answer changed is counted once, whichever process took it.
_ANSWER = keeps_working("""
local n, phase = string.match(redis.call('HGET', KEYS[1], 'question') or '', '^(%d+):[^:]+:(%a+)$')
if not n then
  if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
  return -3
end
if tonumber(ARGV[1]) > tonumber(n) then return -3 end
if ARGV[1] ~= n or phase == 'revealed' then return -4 end
if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 0 and redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[4]) then
  return -5
end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return redis.call('HLEN', KEYS[2])
""")

# KEYS: the session's key, the index, its outline, its recap, when it ended. ARGV: code, token hash, channel,
# "operator" (an operator ends it: no token), the recap's time to live (ms), now (Unix seconds).
# Returns 1, -1 or -2 as _UPDATE. The outline becomes the recap.
_END = keeps_working("""
local token = redis.call('HGET', KEYS[1], 'token')
if not token then return -1 end
if token ~= ARGV[2] and ARGV[4] ~= 'operator' then return -2 end
local seq = redis.call('HGET', KEYS[1], 'seq')
local sid = redis.call('HGET', KEYS[1], 'sid')
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('RENAME', KEYS[3], KEYS[4])
else
  redis.call('DEL', KEYS[4])
  redis.call('RPUSH', KEYS[4], '')
end
redis.call('PEXPIRE', KEYS[4], ARGV[5])
redis.call('SET', KEYS[5], ARGV[6], 'PX', ARGV[5])
redis.call('PUBLISH', ARGV[3], cjson.encode({ended=true, seq=tonumber(seq), sid=sid}))
return 1
""")


# KEYS: the session's followers, those of them exploring. ARGV: now (ms), time to live of a place (ms), the limit,
# the new place, "1" when it explores. Returns 1 (a place) or 0 (every place is taken). Lapsed places (a killed
# process's) go first.
_FOLLOW = keeps_working("""
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if ARGV[5] == '1' then
  redis.call('SADD', KEYS[2], ARGV[4])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
return 1
""")

# KEYS: the session's followers, those exploring, then one sorted set per reaction. ARGV: now (ms), the start of
# the reactions' window (ms). Returns the live places, those exploring, and each reaction's count in the window.
_GLANCE = """
local now = tonumber(ARGV[1])
local exploring = 0
for _, place in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local until_ = redis.call('ZSCORE', KEYS[1], place)
  if until_ and tonumber(until_) > now then exploring = exploring + 1 end
end
local out = {redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[1], '+inf'), exploring}
for i = 3, #KEYS do out[#out + 1] = redis.call('ZCOUNT', KEYS[i], '(' .. ARGV[2], '+inf') end
return out
"""

# KEYS: the reaction's sorted set. ARGV: now (ms), the start of the window (ms), its length (ms), who sent it (one
# member a student: the count is of students), the most kept.
_REACT = keeps_working("""
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -tonumber(ARGV[5]) - 1)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
""")

# KEYS: the session's followers, those exploring. ARGV: until (ms), time to live (ms), this process's places (XX: a
# place given back is not brought back).
_RENEW = keeps_working("""
for i = 3, #ARGV do redis.call('ZADD', KEYS[1], 'XX', ARGV[1], ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
return 1
""")


def _unavailable(e: Exception) -> StateUnavailableError:
    error = unavailable(e)
    error.__cause__ = e
    return error


class RedisSessions:
    """In Redis, shared by every process naming the same URL. Clients are made on the running event loop."""

    READY_WITHIN = 3.0  # seconds to wait for the subscription before a follower gets a 503
    POOL_SIZE = 32  # connections to Redis per process and event loop (commands are short)
    POOL_WAIT = 5.0  # seconds a command waits for one of them before the request gets a 503

    FOLLOWER_TTL_SECONDS = 60.0  # a follower whose process stopped renewing it is no longer counted after this
    FOLLOWER_RENEW_SECONDS = 15.0

    def __init__(
        self,
        url: str,
        max_sessions: int,
        ttl_seconds: float,
        prefix: str = KEY_PREFIX,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self.max_sessions = max_sessions
        self.ttl_ms = max(1, round(ttl_seconds * 1000))
        self.hub = Hub()
        self._key_prefix = f"{prefix}session:"
        self._index = f"{prefix}sessions"
        self._channel_prefix = f"{prefix}session-events:"
        self._followers_prefix = f"{prefix}followers:"
        self._failures_prefix = f"{prefix}join-failures:"
        self._reactions_prefix = f"{prefix}reactions:"
        self._recap_prefix = f"{prefix}recap:"
        self._clock = clock  # seconds; the followers' places lapse by it (every process's wall clock)
        self._places: dict[str, set[str]] = {}  # this process's places, by session code, renewed by _renew
        self._renewer: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._redis: aioredis.Redis | None = None
        self._fan_in: RedisFanIn | None = None

    def _client(self) -> aioredis.Redis:
        loop = asyncio.get_running_loop()
        if self._redis is None or self._loop is not loop:
            # A client's connections belong to the loop that made them: another loop (a test's second client)
            # gets clients of its own. A class that joins at once waits its turn for a connection (POOL_WAIT).
            self._loop = loop
            self._redis = async_client(self.url, self.POOL_SIZE, self.POOL_WAIT)
            self._fan_in = RedisFanIn(self.url, self._channel_prefix, self)
        return self._redis

    def _key(self, code: str) -> str:
        return self._key_prefix + code

    def _channel(self, code: str) -> str:
        return self._channel_prefix + code

    def _outline(self, code: str) -> str:
        return f"{self._key_prefix}{code}:outline"

    def _recap(self, code: str) -> tuple[str, str]:
        """The recap's keys: its entries, and when the session ended."""
        return f"{self._recap_prefix}{code}", f"{self._recap_prefix}{code}:ended"

    async def create(
        self, run_id: str, step: int, query: str, client: str = "", per_client: int | None = None, entry: str = ""
    ) -> tuple[SessionState, str]:
        redis_client = self._client()
        token = secrets.token_urlsafe(24)
        sid = secrets.token_hex(4)
        limit = -1 if per_client is None else per_client
        for _ in range(MAX_CODE_DRAWS):
            code = new_code()
            args: list[str | int] = [code, token_hash(token), run_id, step, query, sid, self.ttl_ms, self.max_sessions,
                                     limit, client, self._key_prefix, entry]  # fmt: skip
            keys = [self._key(code), self._index, self._outline(code), self._recap(code)[0]]
            try:
                made = await redis_client.eval(_CREATE, len(keys), *keys, *args)
            except redis.RedisError as e:
                raise _unavailable(e) from e
            if made == 0:
                raise SessionsFullError(full_message(self.max_sessions))
            if made == -2:
                raise ClientSessionsError(client_full_message(client, limit))
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
            code,
            fields["run"],
            int(fields["step"]),
            fields.get("query", ""),
            int(fields["seq"]),
            fields["sid"],
            line=int(fields.get("line", 0)),
            point=fields.get("point", ""),
            question=fields.get("question", ""),
        )

    async def update(
        self, code: str, token: str, run_id: str, step: int, query: str, line: int = 0, point: str = "", entry: str = ""
    ) -> SessionState:
        args: list[str | int] = [code, token_hash(token), run_id, step, query, self.ttl_ms, self._channel(code), line,
                                 point, entry, MAX_OUTLINE]  # fmt: skip
        keys = [self._key(code), self._index, self._outline(code)]
        try:
            seq = await self._client().eval(_UPDATE, len(keys), *keys, *args)
        except redis.RedisError as e:
            raise _unavailable(e) from e
        self._refuse(code, int(seq))
        state = await self.get(code)
        if state is None:  # ended between the two commands
            raise NoSessionError(no_session_message(code))
        return replace(state, run_id=run_id, step=step, query=query, line=line, point=point, seq=int(seq))

    async def is_lecturer(self, code: str, token: str) -> bool:
        try:
            kept = await self._client().hget(self._key(code), "token")
        except redis.RedisError as e:
            raise _unavailable(e) from e
        return isinstance(kept, str) and hmac.compare_digest(kept, token_hash(token))

    async def end(self, code: str, token: str) -> None:
        self._refuse(code, await self._end(code, token_hash(token), ""))

    async def close(self, code: str) -> bool:
        return await self._end(code, "", "operator") == 1

    async def _end(self, code: str, hashed: str, operator: str) -> int:
        args: list[str | int | float] = [code, hashed, self._channel(code), operator, self.ttl_ms, self._clock()]
        keys = [self._key(code), self._index, self._outline(code), *self._recap(code)]
        try:
            return int(await self._client().eval(_END, len(keys), *keys, *args))
        except redis.RedisError as e:
            raise _unavailable(e) from e

    async def recap(self, code: str) -> Recap | None:
        entries_key, ended_key = self._recap(code)
        try:
            pipe = self._client().pipeline(transaction=False)
            pipe.lrange(entries_key, 0, -1)
            pipe.get(ended_key)
            entries, ended = await pipe.execute()
        except redis.RedisError as e:
            raise _unavailable(e) from e
        if ended is None:
            return None
        return Recap(code, [str(e) for e in entries if e], float(ended))

    async def listing(self) -> list[SessionInfo]:
        client = self._client()
        try:
            seconds, micros = await client.time()
            now = seconds * 1_000_000 + micros
            raw: Any = await client.zrange(self._index, f"({now - self.ttl_ms * 1000}", "+inf", byscore=True,
                                           withscores=True)  # fmt: skip
            changed = [(str(code), float(score)) for code, score in raw]
            pipe = client.pipeline(transaction=False)
            for code, _ in changed:
                pipe.hgetall(self._key(code))
                pipe.zcount(self._followers_prefix + code, f"({self._clock() * 1000:.0f}", "+inf")
            answers = await pipe.execute()
        except redis.RedisError as e:
            raise _unavailable(e) from e
        found: list[SessionInfo] = []
        for i, (code, score) in enumerate(changed):
            fields, followers = answers[2 * i], answers[2 * i + 1]
            if "run" in fields:
                idle = (now - score) / 1e6
                found.append(SessionInfo(code, fields["run"], int(fields["step"]), fields.get("client", ""),
                                         int(followers), idle))  # fmt: skip
        return sorted(found, key=lambda info: info.idle_seconds)

    def _exploring(self, code: str) -> str:
        return self._followers_prefix + code + ":exploring"

    async def follow(self, code: str, limit: int, exploring: bool = False) -> str | None:
        place = secrets.token_hex(8)
        args: list[str | int] = [round(self._clock() * 1000), round(self.FOLLOWER_TTL_SECONDS * 1000), limit, place,
                                 "1" if exploring else "0"]  # fmt: skip
        try:
            got = await self._client().eval(_FOLLOW, 2, self._followers_prefix + code, self._exploring(code), *args)
        except redis.RedisError as e:
            raise _unavailable(e) from e
        if got != 1:
            return None
        self._places.setdefault(code, set()).add(place)
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.get_running_loop().create_task(self._renew())
        return place

    async def unfollow(self, code: str, place: str) -> None:
        places = self._places.get(code)
        if places is not None:
            places.discard(place)
            if not places:
                del self._places[code]
        with contextlib.suppress(redis.RedisError):  # unremoved, the place lapses by itself
            pipe = self._client().pipeline(transaction=False)
            pipe.zrem(self._followers_prefix + code, place)
            pipe.srem(self._exploring(code), place)
            await pipe.execute()

    async def glance(self, code: str, question: int = 0) -> Glance:
        now = round(self._clock() * 1000)
        since = now - round(REACTION_WINDOW_SECONDS * 1000)
        keys = [self._followers_prefix + code, self._exploring(code), *(self._reaction(code, r) for r in REACTIONS)]
        try:
            live, exploring, *counts = await self._client().eval(_GLANCE, len(keys), *keys, now, since)
        except redis.RedisError as e:
            raise _unavailable(e) from e
        answers = None
        if question:
            try:
                answers = int(await self._client().hlen(self._answers(code, question)))
            except redis.RedisError as e:
                raise _unavailable(e) from e
        reactions = dict(zip(REACTIONS, map(int, counts), strict=True))
        return Glance(int(live) - int(exploring), int(exploring), reactions, answers)

    def _questions(self, code: str) -> str:
        """The prefix of a session's question keys: the record of question n at prefix + n."""
        return f"{self._key_prefix}{code}:q:"

    def _answers(self, code: str, n: int) -> str:
        return f"{self._questions(code)}{n}:a"

    async def ask(self, code: str, token: str, key: str, record: str) -> SessionState:
        args: list[str | int] = [token_hash(token), self.ttl_ms, self._channel(code), key, record,
                                 self._questions(code)]  # fmt: skip
        try:
            done = await self._client().eval(_ASK, 1, self._key(code), *args)
        except redis.RedisError as e:
            raise _unavailable(e) from e
        if not isinstance(done, list):
            self._refuse(code, int(done))
        return await self._current(code)

    async def set_phase(self, code: str, token: str, n: int, phase: str, entry: str = "") -> SessionState:
        args: list[str | int] = [token_hash(token), self.ttl_ms, self._channel(code), n, phase, entry, MAX_OUTLINE,
                                 self._questions(code)]  # fmt: skip
        try:
            seq = int(await self._client().eval(_PHASE, 2, self._key(code), self._outline(code), *args))
        except redis.RedisError as e:
            raise _unavailable(e) from e
        if seq == -3:
            raise NoQuestionError(no_question_message(n))
        self._refuse(code, seq)
        return await self._current(code)

    async def _current(self, code: str) -> SessionState:
        state = await self.get(code)
        if state is None:  # ended between the two commands
            raise NoSessionError(no_session_message(code))
        return state

    async def answer(self, code: str, n: int, who: str, value: float, most: int) -> int:
        args: list[str | int] = [n, who, repr(value), most, self.ttl_ms]
        try:
            count = int(await self._client().eval(_ANSWER, 2, self._key(code), self._answers(code, n), *args))
        except redis.RedisError as e:
            raise _unavailable(e) from e
        if count == -3:
            raise NoQuestionError(no_question_message(n))
        if count == -4:
            raise QuestionClosedError(closed_message(n))
        if count == -5:
            raise AnswersFullError(answers_full_message(most))
        self._refuse(code, count)
        return count

    async def question(self, code: str, n: int) -> tuple[str, dict[str, float]] | None:
        try:
            pipe = self._client().pipeline(transaction=False)
            pipe.get(f"{self._questions(code)}{n}")
            pipe.hgetall(self._answers(code, n))
            record, answers = await pipe.execute()
        except redis.RedisError as e:
            raise _unavailable(e) from e
        if record is None:
            return None
        return str(record), {str(k): float(v) for k, v in answers.items()}

    async def react(self, code: str, reaction: str, who: str) -> None:
        now = round(self._clock() * 1000)
        window = round(REACTION_WINDOW_SECONDS * 1000)
        args: list[str | int] = [now, now - window, window, who, MAX_REACTIONS_KEPT]
        try:
            await self._client().eval(_REACT, 1, self._reaction(code, reaction), *args)
        except redis.RedisError as e:
            raise _unavailable(e) from e

    def _reaction(self, code: str, reaction: str) -> str:
        return f"{self._reactions_prefix}{code}:{reaction}"

    async def _renew(self) -> None:
        """Push this process's places forward while it has any (XX: a place given back is not brought back)."""
        while self._places:
            await asyncio.sleep(self.FOLLOWER_RENEW_SECONDS)
            until = round((self._clock() + self.FOLLOWER_TTL_SECONDS) * 1000)
            ttl = round(self.FOLLOWER_TTL_SECONDS * 1000)
            with contextlib.suppress(redis.RedisError):  # Redis away: the places lapse, the counts heal later
                pipe = self._client().pipeline(transaction=False)
                for code, places in list(self._places.items()):
                    if places:
                        keys = (self._followers_prefix + code, self._exploring(code))
                        pipe.eval(_RENEW, 2, *keys, until, ttl, *places)
                await pipe.execute()

    async def failures(self, client: str) -> int:
        try:
            count = await self._client().get(self._failures_prefix + client)
        except redis.RedisError as e:
            raise _unavailable(e) from e
        return int(count or 0)

    async def fail(self, client: str) -> None:
        key = self._failures_prefix + client
        try:
            pipe = self._client().pipeline(transaction=True)  # MULTI: the minute starts with the first
            pipe.set(key, 0, ex=round(FAILURE_WINDOW_SECONDS), nx=True)
            pipe.incr(key)
            await pipe.execute()
        except redis.RedisError as e:
            raise _unavailable(e) from e

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
        renewer, self._renewer = self._renewer, None
        await cancel_and_wait(renewer)
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
                line=int(event.get("line", 0)),
                point=str(event.get("point", "")),
                question=str(event.get("question", "")),
            )
        except (ValueError, KeyError, TypeError):
            return None


class RedisFanIn:
    """Every session's events, from one pattern subscription per process and loop, passed to the process's hub."""

    def __init__(self, url: str, channel_prefix: str, sessions: RedisSessions) -> None:
        self.sessions = sessions
        self._fan_in = PatternFanIn(url, channel_prefix + "*", self._publish, self._resync)

    async def ready(self, within: float) -> None:
        """Returns once the subscription is in place; StateUnavailableError if Redis does not answer in time."""
        if not await self._fan_in.ready(within):
            raise StateUnavailableError("Redis is unavailable (no subscription); try again shortly")

    async def aclose(self) -> None:
        await self._fan_in.aclose()

    def _publish(self, channel: str, data: str) -> None:
        state = self.sessions.state_from_event(channel, data)
        if state is not None:
            self.sessions.hub.publish(state)

    async def _resync(self) -> None:
        for code in self.sessions.hub.codes():
            state = await self.sessions.get(code)
            self.sessions.hub.publish(state or ended(code))
