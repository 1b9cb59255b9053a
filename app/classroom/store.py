"""Where class sessions live (``Sessions``) and the embedded default, ``MemorySessions``.

A session is small: its join code, the hash of the lecturer's token, the run on the lecturer's screen
(its id and its configuration, so that an expired run can be stored again under the same id), the step,
and a sequence number that grows with every change. Two implementations of one interface, chosen by
``app.classroom.stream.Classroom`` from the settings:

* ``MemorySessions`` (here): one process; a change reaches the followers through its ``Hub``.
* ``app.classroom.redis_store.RedisSessions`` (``BACKPROP_LENS_REDIS_URL``): shared by every process.

Both also keep what the limits on clients need to count where every process sees it: the client address that
opened each session (``max_sessions_per_client``), the followers of each session (``max_followers``, counted
over every process: ``follow`` and ``unfollow``), and each client's unknown join codes of the last minute
(``max_failed_joins_per_minute``: ``failures`` and ``fail``). An operator lists and ends sessions with
``listing`` and ``close`` (``backprop-lens sessions``, ``app.classroom.cli``).

Left out: what a run is (the routes ask the step-through's run store) and HTTP (``app.classroom.routes``).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

from backprop_lens.app.classroom.codes import MAX_CODE_DRAWS, new_code, spaced, token_hash
from backprop_lens.app.classroom.hub import Hub, SessionState
from backprop_lens.app.core.lru import LRU


class SessionError(Exception):
    """A request the sessions refuse; ``status`` is the HTTP status that says why."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SessionsFullError(SessionError):
    status = 503


class ClientSessionsError(SessionError):
    """The client address holds as many sessions as one client may (``max_sessions_per_client``)."""

    status = 429


class NoSessionError(SessionError):
    status = 404


class NotLecturerError(SessionError):
    status = 403


class NoQuestionError(SessionError):
    status = 404


class QuestionClosedError(SessionError):
    """The question was revealed: its answers are final."""

    status = 409


class AnswersFullError(SessionError):
    """The question holds ``max_answers_per_question`` answers (a student who answered may still change theirs)."""

    status = 429


MAX_QUESTIONS = 200  # the questions a session keeps (the newest)


FAILURE_WINDOW_SECONDS = 60.0  # the join throttle counts a client's unknown codes per minute
REACTION_WINDOW_SECONDS = 60.0  # the lecturer sees the reactions of the last minute
REACTIONS: dict[str, str] = {"lost": "lost", "slower": "slower", "got_it": "got it"}
"""What a student may send the lecturer, and how the lecturer's toolbar names it."""
MAX_REACTIONS_KEPT = 10_000  # a session's reactions of the last minute, at most (each student's rate is bounded)


MAX_OUTLINE = 500  # the steps a session's recap keeps (the newest)


@dataclass(frozen=True)
class Recap:
    """What a session showed, kept after the lecturer stopped sharing: each step as its outline entry (JSON from
    the routes: the permalink's query, the step's equation and title, the iteration), oldest first."""

    code: str
    entries: list[str]
    ended: float  # Unix seconds


@dataclass(frozen=True)
class Glance:
    """The class at a glance, over every process: students following the lecturer, students exploring on their
    own (their page still hears the lecturer), and each reaction's count over the last minute."""

    following: int
    exploring: int
    reactions: dict[str, int]  # students who sent each in the last minute
    answers: int | None = None  # answers to the current question, when one is asked

    def public(self) -> dict[str, object]:
        """The JSON the lecturer's page reads: the counts, and the words it shows (the server writes every text)."""
        said = " · ".join(f"{REACTIONS[r]} {self.reactions.get(r, 0)}" for r in REACTIONS)
        answers: dict[str, object] = {}
        if self.answers is not None:
            answers = {
                "answers": self.answers,
                "answers_text": f"{self.answers} answer{'' if self.answers == 1 else 's'}",
            }
        return {
            "following": self.following,
            "exploring": self.exploring,
            "reactions": {r: self.reactions.get(r, 0) for r in REACTIONS},
            "text": f"{self.following} following · {self.exploring} exploring",
            "reactions_text": f"{said} (students, last minute)",
            **answers,
        }


@dataclass(frozen=True)
class SessionInfo:
    """What an operator sees of a session (``backprop-lens sessions list``): never its token."""

    code: str
    run_id: str
    step: int
    client: str
    followers: int  # over every process
    idle_seconds: float  # since the lecturer's last change


class Sessions(Protocol):
    """Where the class sessions live; every method may raise StateUnavailableError (Redis lost)."""

    hub: Hub

    async def create(
        self, run_id: str, step: int, query: str, client: str = "", per_client: int | None = None, entry: str = ""
    ) -> tuple[SessionState, str]:
        """A new session on the lecturer's run and step, and the lecturer's token, opened by ``client``;
        SessionsFullError at the limit, ClientSessionsError when ``client`` holds ``per_client`` already. ``entry``
        begins its outline."""

    async def get(self, code: str) -> SessionState | None:
        """The session's current state; None when unknown or expired."""

    async def update(
        self, code: str, token: str, run_id: str, step: int, query: str, line: int = 0, point: str = "", entry: str = ""
    ) -> SessionState:
        """The lecturer's new run, step, line and point, told to every follower; NoSessionError, NotLecturerError.
        ``entry`` goes on the session's outline unless it is the last one there (a new line of the same step)."""

    async def is_lecturer(self, code: str, token: str) -> bool:
        """Whether ``token`` is the lecturer's of a session that is there (it changes nothing)."""

    async def end(self, code: str, token: str) -> None:
        """The lecturer ends the session; its followers hear ``ended``; its outline becomes its recap."""

    async def recap(self, code: str) -> Recap | None:
        """The recap of a session that ended within ``ttl_seconds`` (its code is not given to another meanwhile)."""

    async def count(self) -> int:
        """Sessions open now."""

    async def listing(self) -> list[SessionInfo]:
        """Every session open now, the most recently changed first."""

    async def close(self, code: str) -> bool:
        """An operator ends the session, whoever leads it (its followers hear ``ended``, it leaves a recap); False if
        there is none."""

    async def follow(self, code: str, limit: int, exploring: bool = False) -> str | None:
        """A place among the session's followers (over every process), or None when ``limit`` are taken;
        ``exploring``: the student explores on their own (their stream still hears the lecturer)."""

    async def unfollow(self, code: str, place: str) -> None:
        """Give back a place ``follow`` gave."""

    async def glance(self, code: str, question: int = 0) -> Glance:
        """Followers and explorers now, the reactions of the last ``REACTION_WINDOW_SECONDS``, and the answers to
        question ``question`` (0: none)."""

    async def react(self, code: str, reaction: str, who: str) -> None:
        """Count ``who`` (an opaque id of one student's page) as having sent ``reaction`` now (a key of
        ``REACTIONS``; the routes check it and the rates): the glance counts students, not presses."""

    async def ask(self, code: str, token: str, key: str, record: str) -> SessionState:
        """The lecturer asks the class for quantity ``key``: a new question, numbered after the last, open for
        answers; ``record`` (JSON from the routes: the run, step, symbol, value and mistakes) is kept with it."""

    async def set_phase(self, code: str, token: str, n: int, phase: str, entry: str = "") -> SessionState:
        """Question ``n`` (the current one, else NoQuestionError) moves to ``phase``; ``entry`` goes on the outline
        (the results, at the reveal)."""

    async def answer(self, code: str, n: int, who: str, value: float, most: int) -> int:
        """``who``'s answer to question ``n``, replacing theirs; the count of answers after it. NoQuestionError,
        QuestionClosedError once revealed, AnswersFullError when ``most`` others answered."""

    async def question(self, code: str, n: int) -> tuple[str, dict[str, float]] | None:
        """Question ``n``'s record and its answers by student, or None."""

    async def failures(self, client: str) -> int:
        """Unknown join codes ``client`` tried in the current minute."""

    async def fail(self, client: str) -> None:
        """Count one more unknown join code of ``client``."""

    async def ready(self) -> None:
        """Returns once this process hears every change (Redis: its subscription is in place)."""

    async def aclose(self) -> None:
        """Let go of connections (the app's shutdown)."""


@dataclass
class _Kept:
    state: SessionState
    token_hash: str
    used: float
    client: str = ""
    outline: list[str] = field(default_factory=list)
    questions: dict[int, tuple[str, dict[str, float]]] = field(default_factory=dict)  # record, answers by student

    def add(self, entry: str) -> None:
        if entry and (not self.outline or self.outline[-1] != entry):
            self.outline.append(entry)
            del self.outline[:-MAX_OUTLINE]


class MemorySessions:
    """In this process's memory: at most ``max_sessions``, each dropped ``ttl_seconds`` after its last change."""

    def __init__(self, max_sessions: int, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_sessions = max_sessions
        self.ttl_seconds = ttl_seconds
        self.hub = Hub()
        self._clock = clock
        self._sessions: dict[str, _Kept] = {}
        self._followers: dict[str, dict[str, bool]] = {}  # places by session code, each with whether it explores
        self._reactions: dict[str, deque[tuple[float, str, str]]] = {}  # when, which, who
        self._recaps = LRU[str, Recap](max_sessions * 4, ttl_seconds=ttl_seconds, clock=clock)
        self._wall = time.time  # a recap says when it ended in Unix seconds
        self._failures = LRU[str, tuple[float, int]](
            MAX_CLIENTS_THROTTLED, ttl_seconds=FAILURE_WINDOW_SECONDS, clock=clock
        )
        self._lock = threading.Lock()

    async def create(
        self, run_id: str, step: int, query: str, client: str = "", per_client: int | None = None, entry: str = ""
    ) -> tuple[SessionState, str]:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._expire()
            if per_client is not None:
                held = sum(1 for k in self._sessions.values() if k.client == client)
                if held >= per_client:
                    raise ClientSessionsError(client_full_message(client, held))
            if len(self._sessions) >= self.max_sessions:
                raise SessionsFullError(full_message(self.max_sessions))
            code = new_code()
            for _ in range(MAX_CODE_DRAWS):
                if code not in self._sessions and self._recaps.peek(code) is None:
                    break
                code = new_code()
            else:
                raise SessionsFullError("sessions: no free join code was found; try again")
            state = SessionState(code, run_id, step, query, seq=1, sid=secrets.token_hex(4))
            kept = _Kept(state, token_hash(token), self._clock(), client)
            kept.add(entry)
            self._sessions[code] = kept
        return state, token

    async def get(self, code: str) -> SessionState | None:
        with self._lock:
            self._expire()
            kept = self._sessions.get(code)
            return None if kept is None else kept.state

    async def update(
        self, code: str, token: str, run_id: str, step: int, query: str, line: int = 0, point: str = "", entry: str = ""
    ) -> SessionState:
        with self._lock:
            kept = self._lecturers(code, token)
            kept.add(entry)
            kept.state = replace(
                kept.state, run_id=run_id, step=step, query=query, line=line, point=point, seq=kept.state.seq + 1
            )
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
            self._keep_recap(kept)
        self.hub.publish(replace(kept.state, ended=True))

    async def recap(self, code: str) -> Recap | None:
        with self._lock:
            return self._recaps.peek(code)  # kept ttl_seconds from its end, however often it is read

    def _keep_recap(self, kept: _Kept) -> None:
        self._recaps.put(kept.state.code, Recap(kept.state.code, list(kept.outline), self._wall()))

    async def count(self) -> int:
        with self._lock:
            self._expire()
            return len(self._sessions)

    async def listing(self) -> list[SessionInfo]:
        with self._lock:
            self._expire()
            now = self._clock()
            kept = sorted(self._sessions.values(), key=lambda k: -k.used)
            return [
                SessionInfo(k.state.code, k.state.run_id, k.state.step, k.client,
                            len(self._followers.get(k.state.code, ())), now - k.used)
                for k in kept
            ]  # fmt: skip

    async def close(self, code: str) -> bool:
        with self._lock:
            self._expire()
            kept = self._sessions.pop(code, None)
            if kept is not None:
                self._keep_recap(kept)
        if kept is not None:
            self.hub.publish(replace(kept.state, ended=True))
        return kept is not None

    async def follow(self, code: str, limit: int, exploring: bool = False) -> str | None:
        with self._lock:
            places = self._followers.setdefault(code, {})
            if len(places) >= limit:
                return None
            place = secrets.token_hex(8)
            places[place] = exploring
            return place

    async def unfollow(self, code: str, place: str) -> None:
        with self._lock:
            places = self._followers.get(code)
            if places is not None:
                places.pop(place, None)
                if not places:
                    del self._followers[code]

    async def glance(self, code: str, question: int = 0) -> Glance:
        with self._lock:
            places = self._followers.get(code, {})
            exploring = sum(places.values())
            counts: dict[str, int] = {}
            for reaction, _ in {(reaction, who) for _, reaction, who in self._recent(code)}:
                counts[reaction] = counts.get(reaction, 0) + 1
            kept = self._sessions.get(code)
            asked = kept.questions.get(question) if kept is not None and question else None
            return Glance(len(places) - exploring, exploring, counts, None if asked is None else len(asked[1]))

    async def ask(self, code: str, token: str, key: str, record: str) -> SessionState:
        with self._lock:
            kept = self._lecturers(code, token)
            n = max(kept.questions, default=0) + 1
            kept.questions[n] = (record, {})
            for old in sorted(kept.questions)[:-MAX_QUESTIONS]:
                del kept.questions[old]
            state = self._changed(kept, question=f"{n}:{key}:open")
        self.hub.publish(state)
        return state

    async def set_phase(self, code: str, token: str, n: int, phase: str, entry: str = "") -> SessionState:
        with self._lock:
            kept = self._lecturers(code, token)
            number, key, _ = (kept.state.question or "0::").split(":")
            if int(number) != n:
                raise NoQuestionError(no_question_message(n))
            kept.add(entry)
            state = self._changed(kept, question=f"{n}:{key}:{phase}")
        self.hub.publish(state)
        return state

    async def answer(self, code: str, n: int, who: str, value: float, most: int) -> int:
        with self._lock:
            self._expire()
            kept = self._sessions.get(code)
            if kept is None:
                raise NoSessionError(no_session_message(code))
            asked = kept.questions.get(n)
            if asked is None:
                raise NoQuestionError(no_question_message(n))
            if kept.state.question.split(":")[0] != str(n) or kept.state.question.endswith(":revealed"):
                raise QuestionClosedError(closed_message(n))
            answers = asked[1]
            if who not in answers and len(answers) >= most:
                raise AnswersFullError(answers_full_message(most))
            answers[who] = value
            return len(answers)

    async def question(self, code: str, n: int) -> tuple[str, dict[str, float]] | None:
        with self._lock:
            kept = self._sessions.get(code)
            asked = kept.questions.get(n) if kept is not None else None
            return None if asked is None else (asked[0], dict(asked[1]))

    def _changed(self, kept: _Kept, **change: str) -> SessionState:
        """The session's state after a change of the lecturer's, with the next seq (call with the lock held)."""
        kept.state = replace(kept.state, **change, seq=kept.state.seq + 1)  # type: ignore[arg-type]
        kept.used = self._clock()
        return kept.state

    async def react(self, code: str, reaction: str, who: str) -> None:
        with self._lock:
            recent = self._recent(code)
            recent.append((self._clock(), reaction, who))
            self._reactions[code] = recent

    def _recent(self, code: str) -> deque[tuple[float, str, str]]:
        """The session's reactions of the last minute (older ones dropped); call with the lock held."""
        recent = self._reactions.get(code, deque(maxlen=MAX_REACTIONS_KEPT))
        cutoff = self._clock() - REACTION_WINDOW_SECONDS
        while recent and recent[0][0] <= cutoff:
            recent.popleft()
        if not recent:
            self._reactions.pop(code, None)
        return recent

    async def failures(self, client: str) -> int:
        window = self._failures.peek(client)
        return 0 if window is None or self._clock() - window[0] >= FAILURE_WINDOW_SECONDS else window[1]

    async def fail(self, client: str) -> None:
        with self._lock:
            window = self._failures.peek(client)
            now = self._clock()
            if window is None or now - window[0] >= FAILURE_WINDOW_SECONDS:
                window = (now, 0)  # a minute from the first unknown code
            self._failures.put(client, (window[0], window[1] + 1))

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
            self._reactions.pop(code, None)
            self.hub.publish(replace(kept.state, ended=True))


MAX_CLIENTS_THROTTLED = 100_000  # client addresses whose unknown join codes a process remembers (a minute each)


def full_message(limit: int) -> str:
    return f"sessions: all {limit} class sessions are in use; end one or try again later"


def client_full_message(client: str, held: int) -> str:
    return (
        f"sessions: this address ({client}) has {held} class sessions open, the most one client may hold "
        "(max_sessions_per_client); stop sharing one first, or ask the server's operator for a lecturer key"
    )


def no_question_message(n: int) -> str:
    return f"question: this session has no question {n} open; it may have been replaced by a newer one"


def closed_message(n: int) -> str:
    return f"question: question {n} was revealed (or replaced by a newer one); its answers are final"


def answers_full_message(most: int) -> str:
    return (f"answers: this question has {most} answers, the most one question takes (max_answers_per_question); "
            "a student who answered may still change their answer")  # fmt: skip


def no_session_message(code: str) -> str:
    return f"code: no class session has the code {spaced(code)}; it may have ended"


NOT_LECTURER = "token: only the lecturer's browser, which holds the session's lecturer link, can drive this session"
