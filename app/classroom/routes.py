"""Follow the lecturer: share the step-through with a class, drive it, join it, follow it.

* ``POST /sessions`` (the step-through's "Share with the class"): a session on the run and step on the
  lecturer's screen. htmx gets the share panel (join code, join URL, its QR code, the lecturer link);
  a program gets the same as JSON. The lecturer's token is in that answer only; the session keeps its hash.
* ``POST /sessions/{code}/state`` with ``X-Lecturer-Token``: the lecturer's new run and step, told to
  every follower. Without the token, a 403 that says so. ``DELETE /sessions/{code}`` ends the session.
* ``GET /join`` (type the code), ``GET /join/{code}``: the step-through page of the lecturer's run at the
  lecturer's step, with the follow bar (``?follow=CODE``). ``GET /lead/{code}`` opens the lecturer's page
  again (the lecturer link carries the token after ``#``, which no request sends).
* ``GET /sessions/{code}/events``: the student's follow stream (``app.classroom.stream``).

Who may share: with ``BACKPROP_LENS_LECTURER_KEY`` set, only a request with one of its keys in
``X-Lecturer-Key`` (``app.classroom.keys``); without it anyone, but one client address holds at most
``max_sessions_per_client`` sessions (a 429 names the limit). Every lookup of a code that names no session (and
every wrong lecturer key) counts against the client's ``max_failed_joins_per_minute``; past it each lookup is a
429 for the rest of the minute, a right code too, so that codes cannot be guessed.

Runs are the step-through's (``app.stepper.runs``, the one arrow into another feature): a session names a
run by its id and keeps its configuration, so a run that expired while the class followed it is stored
again under the same id, and a followed run's time to live restarts whenever a student joins or follows.

Left out: rendering the step-through. The student's page is the step-through's own page, reached by a
redirect; ``static/js/follow.js`` loads each new step or run into it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import anyio
import segno
from fastapi import APIRouter, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from backprop_lens.app.classroom.addresses import JoinBase, is_loopback, join_base
from backprop_lens.app.classroom.codes import read_code, spaced
from backprop_lens.app.classroom.hub import SessionState
from backprop_lens.app.classroom.keys import KEY_HEADER
from backprop_lens.app.classroom.store import (
    FAILURE_WINDOW_SECONDS,
    NOT_LECTURER,
    ClientSessionsError,
    Recap,
    SessionError,
)
from backprop_lens.app.classroom.stream import Classroom, parse_event_id
from backprop_lens.app.core.deps import is_htmx, settings_of
from backprop_lens.app.core.errors import ERRORS, error_response
from backprop_lens.app.core.forms import Form
from backprop_lens.app.core.schemas import ErrorBody
from backprop_lens.app.core.slots import client_of
from backprop_lens.app.core.state import State
from backprop_lens.app.core.templating import root_of, templates_of
from backprop_lens.app.stepper.runs import Run, get_store

router = APIRouter(tags=["classroom"])

RUN_ID_PATTERN = r"^[A-Za-z0-9_\-]{1,64}$"
TOKEN_HEADER = "X-Lecturer-Token"
STUDENT_HEADER = "X-Student"
MAX_STEP = 100_000
MAX_LINE = 10_000  # as a step-through URL's line= (a step has far fewer)
POINT_PATTERN = r"^(|[ne](-[0-9]{1,4}){2,3}|line:[0-9]{1,5})$"  # the diagram's neuron and edge ids, an equation line

RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    403: {"model": ErrorBody, "description": f"No {TOKEN_HEADER}, or not the lecturer's."},
    404: {"model": ErrorBody, "description": "No session has this code (it may have ended or expired)."},
    422: {"model": ErrorBody, "description": "The run is unknown or expired, or the step is out of range."},
    429: {"model": ErrorBody, "description": "This client tried too many unknown codes, or holds too many streams."},
    503: {"model": ErrorBody, "description": "Every session or follower place is taken, or Redis is unavailable."},
}


def classroom_of(request: Request) -> Classroom:
    classroom: Classroom = request.app.state.classroom
    return classroom


RETRY_AFTER_THROTTLE = {"Retry-After": str(round(FAILURE_WINDOW_SECONDS))}


async def throttled(request: Request) -> str | None:
    """The 429's words when this client has tried ``max_failed_joins_per_minute`` unknown codes this minute."""
    client = client_of(request)
    tried = await classroom_of(request).sessions.failures(client)
    most = settings_of(request).max_failed_joins_per_minute
    if tried < most:
        return None
    return (
        f"code: this address ({client}) tried {tried} unknown join codes or lecturer keys within a minute, the most "
        "one client may (max_failed_joins_per_minute); check the code and try again in a minute"
    )


async def find_session(request: Request, code: str) -> SessionState | None:
    """The session, or None, which counts against the client's unknown codes (call ``throttled`` first)."""
    sessions = classroom_of(request).sessions
    state = await sessions.get(code)
    if state is None:
        await sessions.fail(client_of(request))
    return state


class StateBody(BaseModel):
    """The run, step and line on the lecturer's screen, and what the lecturer points at."""

    model_config = ConfigDict(extra="forbid", strict=True)
    run_id: str = Field(pattern=RUN_ID_PATTERN, description="The run's id (``#run``'s ``data-run-id``).")
    step: int = Field(ge=0, le=MAX_STEP, description="The step shown, from 0.")
    line: int = Field(
        0, ge=0, le=MAX_LINE, description="The line of the equation lecture mode shows, from 1; 0: every line."
    )
    point: str = Field(
        "",
        pattern=POINT_PATTERN,
        description="What the lecturer points at: a neuron's or an edge's id on the diagram (n-2-1, e-3-1-2), "
        "an equation line (line:3, from 1), or nothing.",
    )


async def find_run(request: Request, run_id: str, query: str = "") -> Run | None:
    """The run, its time to live restarted; stored again from ``query`` (its configuration) if it expired."""
    store = get_store(request)
    run = await anyio.to_thread.run_sync(store.get, run_id)
    if run is None and query:
        shared: State = request.app.state.shared
        await anyio.to_thread.run_sync(shared.put_run, run_id, query)
        run = await anyio.to_thread.run_sync(store.get, run_id)
    return run


def for_students(request: Request, run: Run) -> Run:
    """The run students load: a run in lecture mode becomes its twin out of it (same trace, the page's layout).

    The projector's layout is the lecturer's; a student's own screen, often a phone, shows the configuration and
    the tables. Each process makes the twin of a lecture-mode run once (``Classroom.twins``).
    """
    if not run.page.present:
        return run
    twins = classroom_of(request).twins
    twin = twins.get(run.id)
    if twin is not None:
        found = get_store(request).get(twin)
        if found is not None:
            return found
    plain = get_store(request).presenting(run, False)
    twins.put(run.id, plain.id)
    return plain


def run_problem(run: Run | None, step: int) -> str | None:
    if run is None:
        return "run_id: this run is unknown or has expired; start a new one on the page"
    if step >= run.steps:
        # Counted from 1, as the page counts; the field counts from 0.
        counting = f"this field counts from 0: {run.steps - 1} is the last"
        return f"step: this run has steps 1 to {run.steps}; there is no step {step + 1} ({counting})"
    return None


async def join_base_of(request: Request) -> JoinBase:
    """Where students open the join URL: the host and root path the lecturer's browser used, unless that host is
    this computer's own (``app.classroom.addresses``)."""
    base = str(request.base_url).rstrip("/")
    host = request.url.hostname or ""
    if not is_loopback(host):
        return JoinBase(base)
    server = request.scope.get("server")
    server_port = server[1] if server else None
    return await anyio.to_thread.run_sync(
        join_base, base, request.url.scheme, host, request.url.port, root_of(request), server_port
    )


def qr_svg(url: str) -> str:
    """The QR code of ``url`` as inline SVG (no size: the stylesheet sizes it), dark on white for any theme."""
    qr = segno.make(url, error="m", micro=False)  # a full QR code: every phone reads it; Micro QR not all
    svg: str = qr.svg_inline(
        scale=1, border=2, omitsize=True, dark="#000", light="#fff", svgclass="qr-code", lineclass=None,
        title="QR code of the join URL",
    )  # fmt: skip
    return svg


async def panel_context(request: Request, state: SessionState, token: str | None = None) -> dict[str, Any]:
    root = root_of(request)
    where = await join_base_of(request)
    url = f"{where.base}/join/{state.code}"
    return {
        "join_warning": where.warning,
        "join_note": where.note,
        "state": state,
        "code": state.code,
        "spaced_code": spaced(state.code),
        "join_url": url,
        "qr": qr_svg(url),
        "lead_url": f"{str(request.base_url).rstrip('/')}/lead/{state.code}",
        "state_url": f"{root}/sessions/{state.code}/state",
        "session_url": f"{root}/sessions/{state.code}",
        "token": token,
        "glance": (await classroom_of(request).sessions.glance(state.code)).public(),
        "error": None,
    }


def panel(request: Request, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    html = templates_of(request).get_template("classroom/_panel.html").render(context)
    return HTMLResponse(html, status_code=status_code)


def panel_error(request: Request, status_code: int, message: str, headers: dict[str, str] | None = None) -> Response:
    if is_htmx(request):
        response = panel(request, {"error": message}, status_code)
        response.headers.update(headers or {})
        return response
    return error_response(status_code, message, headers)


def panel_key(request: Request, message: str) -> Response:
    """The 401 of a share without a lecturer key: for htmx, the panel that asks for one."""
    headers = {"WWW-Authenticate": f'{KEY_HEADER} realm="share with the class"'}
    if is_htmx(request):
        response = panel(request, {"error": message, "ask_key": True}, 401)
        response.headers.update(headers)
        return response
    return error_response(401, message, headers)


async def lecturer_refused(request: Request, key: str | None) -> Response | None:
    """None when this request may share: no key is required, or it sends one of them; else its 401 (or 429)."""
    classroom = classroom_of(request)
    if not classroom.keys.required:
        return None
    if not key:
        return panel_key(request, f"key: sharing on this server needs a lecturer key ({KEY_HEADER}); the "
                         "server's operator gives them out")  # fmt: skip
    too_many = await throttled(request)
    if too_many is not None:
        return panel_error(request, 429, too_many, RETRY_AFTER_THROTTLE)
    if classroom.keys.admits(key):
        return None
    await classroom.sessions.fail(client_of(request))
    return panel_key(request, "key: this is not a lecturer key of this server; check it, or ask the server's operator")


@router.post("/sessions", status_code=201, responses=RESPONSES, include_in_schema=False)
async def create_session(
    request: Request, form: Form, key: Annotated[str | None, Header(alias=KEY_HEADER, max_length=200)] = None
) -> Response:
    """A session on the lecturer's run and step (form fields ``run_id``, ``step``): the share panel or JSON."""
    refused = await lecturer_refused(request, key)
    if refused is not None:
        return refused
    run_id, step_text = form.get("run_id", ""), form.get("step", "0").strip()
    if not step_text.isdigit() or int(step_text) > MAX_STEP:
        return panel_error(request, 422, f"step: a step number from 0, got {step_text[:12]!r}")
    step = int(step_text)
    run = await find_run(request, run_id) if len(run_id) <= 64 else None
    problem = run_problem(run, step)
    if problem is not None or run is None:
        return panel_error(request, 422, problem or "run_id: unknown")
    run = await anyio.to_thread.run_sync(for_students, request, run)
    classroom = classroom_of(request)
    per_client = None if classroom.keys.required else settings_of(request).max_sessions_per_client
    try:
        state, token = await classroom.sessions.create(
            run.id, step, run.page.query(), client_of(request), per_client, outline_entry(run, step)
        )
    except ClientSessionsError as e:  # sessions of a closed tab, which nobody can stop any more: offer to end them
        if is_htmx(request):
            return panel(request, {"error": e.message, "release_url": f"{root_of(request)}/sessions/release"}, 429)
        return error_response(e.status, e.message)
    except SessionError as e:
        return panel_error(request, e.status, e.message)
    context = await panel_context(request, state, token)
    if is_htmx(request):
        return panel(request, context, 201)
    body = {k: context[k] for k in ("code", "join_url", "join_warning", "lead_url", "state_url", "token")}
    body["events_url"] = f"{root_of(request)}/sessions/{state.code}/events"
    return JSONResponse(body, status_code=201)


async def a_code(request: Request, code: str) -> str | JSONResponse:
    """``code`` read as a join code, unless it is none (404) or the client is throttled for guessing (429)."""
    found = read_code(code)
    if found is None:
        return error_response(404, not_a_code(code))
    too_many = await throttled(request)
    if too_many is not None:
        return error_response(429, too_many, RETRY_AFTER_THROTTLE)
    return found


async def as_lecturer(request: Request, code: str, token: str | None, doing: str) -> tuple[str, str] | JSONResponse:
    """The session's code and the token when the token is its lecturer's; else the error, checked in this order: the
    code and the session (404; unknown codes count against the client's throttle, a 429), the token (403).
    ``doing`` completes "only the lecturer …" in the 403 without a token."""
    found = await a_code(request, code)
    if isinstance(found, JSONResponse):
        return found
    if await find_session(request, found) is None:
        return error_response(404, no_session(found))
    if not token:
        return error_response(403, f"token: send the lecturer's token in {TOKEN_HEADER}; only the lecturer {doing}")
    if not await classroom_of(request).sessions.is_lecturer(found, token):
        return error_response(403, NOT_LECTURER)
    return found, token


def outline_entry(run: Run, step: int) -> str:
    """A step the lecturer showed, as its recap keeps it: the permalink's query (configuration, iteration, step),
    the step's equation and title."""
    shown = run.trace.steps[step]
    entry = {"query": run.page.query(step=step), "step": step, "title": shown.title, "equation": shown.equation,
             "iteration": run.page.iteration}  # fmt: skip
    return json.dumps(entry, sort_keys=True, ensure_ascii=False)


def recap_context(request: Request, recap: Recap, absolute: bool = False) -> dict[str, Any]:
    """The recap's links (absolute in the file a student keeps), and when the session ended."""
    base = str(request.base_url).rstrip("/") if absolute else root_of(request)
    items = []
    for text in recap.entries:
        entry = json.loads(text)
        items.append({**entry, "step": int(entry["step"]) + 1, "href": f"{base}/?{entry['query']}"})
    ended = datetime.fromtimestamp(recap.ended, UTC).strftime("%Y-%m-%d %H:%M")
    download = None if absolute else f"{root_of(request)}/join/{recap.code}/recap.html"
    return {"spaced_code": spaced(recap.code), "items": items, "ended": ended, "download": download}


@router.post("/sessions/release", responses=RESPONSES, include_in_schema=False)
async def release_sessions(request: Request) -> Response:
    """End the sessions this client address opened, when the server asks for no lecturer key: a lecturer who
    closed the tabs that held them can share again (without a key the address is who shared, as the per-client
    limit already counts it). With a key, a 403: each session is its own lecturer's to end."""
    classroom = classroom_of(request)
    if classroom.keys.required:
        return panel_error(request, 403, "sessions: with lecturer keys, only a session's own lecturer link ends it")
    client = client_of(request)
    ended = [info.code for info in await classroom.sessions.listing() if info.client == client]
    for code in ended:
        await classroom.sessions.close(code)  # each leaves its recap, and its students hear that it ended
    message = f"Ended {len(ended)} class session{'s' if len(ended) != 1 else ''} this address had open."
    if is_htmx(request):
        html = templates_of(request).get_template("classroom/_released.html").render({"message": message})
        return HTMLResponse(html)
    return JSONResponse({"ended": ended, "message": message})


def not_a_code(text: str) -> str:
    return f"code: {text[:12]!r} is not a join code (six letters and digits, e.g. ABC 234)"


def no_session(code: str) -> str:
    return f"code: no class session has the code {spaced(code)}; it may have ended"


@router.get("/sessions/{code}/panel", response_class=HTMLResponse, include_in_schema=False)
async def session_panel(request: Request, code: str) -> Response:
    """The share panel of a session (the lecturer's page opened again from the lecturer link)."""
    found = read_code(code)
    if found is None:
        return panel_error(request, 404, not_a_code(code))
    too_many = await throttled(request)
    if too_many is not None:
        return panel_error(request, 429, too_many, RETRY_AFTER_THROTTLE)
    state = await find_session(request, found)
    if state is None:
        return panel_error(request, 404, no_session(found))
    return panel(request, await panel_context(request, state))


async def state_body(request: Request) -> StateBody:
    """The body of ``POST /sessions/{code}/state``, read once the session and the token are known to be good
    (FastAPI would read it first). Its errors are FastAPI's own, so that the app words them as for any route."""
    raw = await request.body()
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        position = e.pos if isinstance(e, json.JSONDecodeError) else e.start
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body", position), "msg": "JSON decode error", "input": {}}]
        ) from e
    try:
        return StateBody.model_validate(data)
    except ValidationError as e:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in e.errors(include_url=False)]
        raise RequestValidationError(errors) from e


STATE_BODY = {"required": True, "content": {"application/json": {"schema": StateBody.model_json_schema()}}}


@router.post("/sessions/{code}/state", responses=RESPONSES, openapi_extra={"requestBody": STATE_BODY})
async def drive_session(
    request: Request,
    code: str,
    token: Annotated[str | None, Header(alias=TOKEN_HEADER, max_length=200)] = None,
) -> JSONResponse:
    """The lecturer's new run, step and line (body: ``run_id``, ``step``, ``line``); every follower hears it. Only
    the lecturer's token may. Checked in this order: the session (404), the token (403), the body (422)."""
    lecturer = await as_lecturer(request, code, token, "drives a session")
    if isinstance(lecturer, JSONResponse):
        return lecturer
    found, token = lecturer  # the token is the lecturer's from here on
    sessions = classroom_of(request).sessions
    body = await state_body(request)
    run = await find_run(request, body.run_id)
    problem = run_problem(run, body.step)
    if problem is not None or run is None:
        return error_response(422, problem or "run_id: unknown")
    run = await anyio.to_thread.run_sync(for_students, request, run)
    try:
        entry = outline_entry(run, body.step)
        state = await sessions.update(found, token, run.id, body.step, run.page.query(), body.line, body.point, entry)
    except SessionError as e:
        return error_response(e.status, e.message)
    return JSONResponse({**state.public(), "followers_here": classroom_of(request).followers(found)})


@router.delete("/sessions/{code}", status_code=204, responses=RESPONSES)
async def end_session(
    request: Request, code: str, token: Annotated[str | None, Header(alias=TOKEN_HEADER, max_length=200)] = None
) -> Response:
    """The lecturer stops sharing: followers hear ``ended`` and their pages become their own."""
    found = read_code(code)
    if found is None:
        return error_response(404, not_a_code(code))
    if not token:
        return error_response(
            403, f"token: send the lecturer's token in {TOKEN_HEADER}; only the lecturer ends a session"
        )
    try:
        await classroom_of(request).sessions.end(found, token)
    except SessionError as e:
        return error_response(e.status, e.message)
    return Response(status_code=204)


@router.get(
    "/sessions/{code}/events",
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "`state` events, `ended`, then `done`."},
        **RESPONSES,
    },
)
async def follow_session(
    request: Request,
    code: str,
    last_event_id: Annotated[str | None, Header(max_length=40)] = None,
    mode: Annotated[
        Literal["following", "exploring"],
        Query(description="exploring: the student explores on their own (the lecturer counts them apart)."),
    ] = "following",
) -> Response:
    """The follow stream: the lecturer's state at once, then each change. A student who explores on their own
    opens it again with ``mode=exploring`` (and ``following`` to follow again)."""
    found = read_code(code)
    if found is None:
        return error_response(404, not_a_code(code))
    classroom = classroom_of(request)
    too_many = await throttled(request)
    if too_many is not None:
        return error_response(429, too_many, RETRY_AFTER_THROTTLE)
    await classroom.sessions.ready()  # this process hears every change before the current state is read
    state = await find_session(request, found)
    if state is None:
        return error_response(404, no_session(found))
    await find_run(request, state.run_id, state.query)  # a followed run stays alive
    closing = request.app.state.streams.closing
    last = parse_event_id(last_event_id)
    return await classroom.follow_stream(found, client_of(request), closing, last, mode == "exploring")


@router.get("/sessions/{code}/glance", responses=RESPONSES)
async def session_glance(
    request: Request,
    code: str,
    token: Annotated[str | None, Header(alias=TOKEN_HEADER, max_length=200)] = None,
    question: Annotated[int, Query(ge=0, le=1_000_000, description="Also count this question's answers.")] = 0,
) -> JSONResponse:
    """The class at a glance, for the lecturer: students following and exploring (over every process), the
    reactions of the last minute, with the words the lecturer's page shows, and the answers to ``question``."""
    lecturer = await as_lecturer(request, code, token, "sees the class")
    if isinstance(lecturer, JSONResponse):
        return lecturer
    glance = await classroom_of(request).sessions.glance(lecturer[0], question)
    return JSONResponse(glance.public(), headers={"Cache-Control": "no-store"})


class ReactionBody(BaseModel):
    """A student's reaction, anonymous: the lecturer sees only how many of each came in the last minute."""

    model_config = ConfigDict(extra="forbid", strict=True)
    reaction: Literal["lost", "slower", "got_it"] = Field(description="lost, slower or got_it.")


@router.post("/sessions/{code}/reactions", status_code=204, responses=RESPONSES)
async def react(
    request: Request,
    code: str,
    body: ReactionBody,
    student: Annotated[str, Header(alias=STUDENT_HEADER, pattern=r"^[A-Za-z0-9_-]{8,64}$")],
) -> Response:
    """A student's reaction to the lecture (*lost*, *slower*, *got it*). ``X-Student`` is a random id the page
    draws once per tab, so each student's rate is bounded (``max_reactions_per_minute_per_student``) without
    telling who they are; each address's too (``max_reactions_per_minute_per_client``)."""
    found = read_code(code)
    if found is None:
        return error_response(404, not_a_code(code))
    classroom = classroom_of(request)
    settings = settings_of(request)
    client = client_of(request)
    if not classroom.student_reactions.allow(f"{found}:{student}"):
        most = settings.max_reactions_per_minute_per_student
        message = (f"reactions: this page sent {most} reactions within a minute, the most one student may "
                   "(max_reactions_per_minute_per_student); try again in a few seconds")  # fmt: skip
        return error_response(429, message, {"Retry-After": "10"})
    if not classroom.client_reactions.allow(client):
        most = settings.max_reactions_per_minute_per_client
        message = (f"reactions: this address ({client}) sent {most} reactions within a minute, the most one client "
                   "may (max_reactions_per_minute_per_client); try again shortly")  # fmt: skip
        return error_response(429, message, {"Retry-After": "10"})
    too_many = await throttled(request)
    if too_many is not None:
        return error_response(429, too_many, RETRY_AFTER_THROTTLE)
    if await find_session(request, found) is None:
        return error_response(404, no_session(found))
    await classroom.sessions.react(found, body.reaction, student_of(found, student))
    return Response(status_code=204)


def student_of(code: str, student: str) -> str:
    """Who a student is to the session: a hash of the code and the page's random id (not kept as it came)."""
    return hashlib.sha256(f"{code}:{student}".encode()).hexdigest()[:16]


def join_page(request: Request, code: str = "", message: str = "", status_code: int = 200) -> HTMLResponse:
    return templates_of(request).TemplateResponse(
        request, "classroom/join.html", {"code": code, "message": message}, status_code=status_code
    )


async def _to_page(request: Request, text: str, role: str) -> Response:
    """A redirect to the step-through page of the session's run and step, marked ``?follow=`` or ``?lead=``."""
    code = read_code(text)
    if code is None:
        return join_page(request, text[:12], f"“{text[:12]}” is not a join code: six letters and digits.", 404)
    too_many = await throttled(request)
    if too_many is not None:
        page = join_page(request, spaced(code), "Too many unknown join codes from this address within a minute: "
                         "check the code and try again in a minute (max_failed_joins_per_minute).", 429)  # fmt: skip
        page.headers.update(RETRY_AFTER_THROTTLE)
        return page
    sessions = classroom_of(request).sessions
    state = await sessions.get(code)
    if state is None:
        recap = await sessions.recap(code) if role == "follow" else None
        if recap is not None:  # the lecturer stopped sharing: what the session showed
            return templates_of(request).TemplateResponse(
                request, "classroom/recap.html", recap_context(request, recap)
            )
        await sessions.fail(client_of(request))
        message = f"No class session has the code {spaced(code)}; it may have ended."
        return join_page(request, spaced(code), message, 404)
    run = await find_run(request, state.run_id, state.query)
    if run is None:
        return join_page(request, spaced(code), "The lecturer's run is no longer available; ask to share again.", 404)
    step = min(state.step, run.steps - 1)
    line = f"line={state.line}&" if state.line else ""  # the page writes its full address (with the configuration)
    return RedirectResponse(f"{root_of(request)}/runs/{run.id}/steps/{step}?{line}{role}={code}", status_code=303)


@router.get("/join/{code}/recap.html", response_class=HTMLResponse, include_in_schema=False)
async def download_recap(request: Request, code: str) -> Response:
    """The recap of an ended session as a file to keep: one page without script or stylesheet, links absolute."""
    found = await a_code(request, code)
    if isinstance(found, JSONResponse):
        return found
    sessions = classroom_of(request).sessions
    recap = await sessions.recap(found)
    if recap is None:
        await sessions.fail(client_of(request))
        return error_response(
            404, f"code: no ended class session with the code {spaced(found)} has a recap (kept for a while)"
        )
    html = templates_of(request).get_template("classroom/_recap_file.html").render(recap_context(request, recap, True))
    disposition = f'attachment; filename="backprop-lens-recap-{found}.html"'
    return HTMLResponse(html, headers={"Content-Disposition": disposition})


@router.get("/join", response_class=HTMLResponse, include_in_schema=False)
async def join(request: Request, code: str | None = None) -> Response:
    """The form a student types the join code into; with ``?code=``, the session's page."""
    if code is None:
        return join_page(request)
    return await _to_page(request, code, "follow")


@router.get("/join/{code}", response_class=HTMLResponse, include_in_schema=False)
async def join_code(request: Request, code: str) -> Response:
    """The lecturer's run at the lecturer's step, followed (the join URL and its QR code)."""
    return await _to_page(request, code, "follow")


@router.get("/lead/{code}", response_class=HTMLResponse, include_in_schema=False)
async def lead(request: Request, code: str) -> Response:
    """The lecturer's page again (the token stays after ``#`` in the browser, which carries it over the redirect)."""
    return await _to_page(request, code, "lead")
