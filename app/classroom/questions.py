"""Ask the class: the lecturer asks for one quantity of the step on screen, students answer, the lecturer shows the
answers and reveals the value with the share that was right and the usual mistakes, each named.

* ``GET /sessions/{code}/ask?run_id=…&step=…`` (the lecturer's token): the quantities the step computes, a radio
  each, named by its symbol (``app.stepper.view.quantities``).
* ``POST /sessions/{code}/questions`` (the token; JSON ``run_id``, ``step``, ``key``): a new question, open for
  answers. Its value, factors and mistakes are computed once and kept with it (the run may change meanwhile).
* ``POST …/questions/{n}/answers`` (``X-Student``, the page's random id; JSON ``answer``, the number as typed): a
  student's answer, which replaces theirs until the reveal. The same rules read it as the page does.
* ``POST …/questions/{n}/show`` and ``…/reveal`` (the token): the histogram for everyone; then the value,
  the share within the tolerance and the mistakes' bins, which also go on the session's recap.
* ``GET …/questions/{n}/panel``: the question as the lecturer (token) or a student (``X-Student``: their own answer,
  marked at the reveal) sees it; ``GET …/questions/{n}/results`` the results as JSON, ``…/answers.csv`` as CSV.

Answers are anonymous: a student is a hash of the session and the page's id, and only counts and numbers leave.

Left out: where questions are kept (the session stores) and how the page hides the value (static/js/ask.js).
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from backprop_lens.app.classroom.routes import (
    RESPONSES,
    RUN_ID_PATTERN,
    STUDENT_HEADER,
    TOKEN_HEADER,
    a_code,
    as_lecturer,
    classroom_of,
    find_run,
    find_session,
    no_session,
    run_problem,
    student_of,
)
from backprop_lens.app.classroom.store import SessionError
from backprop_lens.app.core.deps import settings_of
from backprop_lens.app.core.errors import error_response
from backprop_lens.app.core.format import fmt, pretty
from backprop_lens.app.core.slots import client_of
from backprop_lens.app.core.templating import root_of, templates_of
from backprop_lens.app.stepper.view.model import RunView
from backprop_lens.app.stepper.view.quantities import (
    KEY_PATTERN,
    MAX_ANSWER_CHARS,
    AnswerError,
    Mistake,
    Quantity,
    askable,
    check,
    find,
    parse_answer,
)

router = APIRouter(tags=["classroom"])

STUDENT = r"^[A-Za-z0-9_-]{8,64}$"
MAX_QUESTION = 1_000_000


class AskBody(BaseModel):
    """The quantity the class is asked for, on the run and step on the lecturer's screen."""

    model_config = ConfigDict(extra="forbid", strict=True)
    run_id: str = Field(pattern=RUN_ID_PATTERN, description="The run's id (``#run``'s ``data-run-id``).")
    step: int = Field(ge=0, le=100_000, description="The step shown, from 0.")
    key: str = Field(pattern=KEY_PATTERN, description="The quantity, as the tables' data-q: delta-3-1, nabla_w-3-1-2.")


class AnswerBody(BaseModel):
    """A student's answer as typed: −0.0123, −0,0123, -1.23e-2 or −1.23×10⁻²."""

    model_config = ConfigDict(extra="forbid", strict=True)
    answer: str = Field(max_length=MAX_ANSWER_CHARS, description="The number, as the student typed it.")


def quantity_of(record: dict[str, Any]) -> Quantity:
    mistakes = tuple(Mistake(name, value, sentence) for name, value, sentence in record["mistakes"])
    factors = tuple(record["factors"])
    return Quantity(record["key"], record["symbol"], record["value"], (), factors, mistakes, record.get("scale"))


def record_of(q: Quantity, run_id: str, query: str, step: int, title: str) -> str:
    return json.dumps({
        "key": q.key, "symbol": q.symbol, "value": q.value, "factors": list(q.factors),
        "mistakes": [[m.name, m.value, m.sentence] for m in q.mistakes], "scale": q.scale, "run_id": run_id,
        "query": query,
        "step": step, "title": title,
    }, ensure_ascii=False)  # fmt: skip


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    count: int
    low: float
    high: float


@dataclass(frozen=True)
class Histogram:
    """The answers in bars on a scale their own spread sets (before the reveal nothing on it hints at the value);
    answers far outside go into the end bars, which say so."""

    bars: list[Bar]
    low: float
    high: float
    outside: int
    value_x: float | None  # where the true value stands, once revealed and on the scale
    text: str  # the same in words, for a screen reader

    WIDTH = 320.0
    HEIGHT = 110.0


def _nice(span: float) -> float:
    """A step of 1, 2 or 5 × 10ⁿ not below ``span``."""
    power = 10.0 ** math.floor(math.log10(span))
    return next(f * power for f in (1.0, 2.0, 5.0, 10.0) if f * power >= span * (1 - 1e-12))


def histogram(values: list[float], revealed: float | None = None) -> Histogram | None:
    if not values:
        return None
    ordered = sorted(values)
    n = len(ordered)
    cut = n // 20 if n >= 20 else 0  # 5% at each end may lie outside the scale
    low, high = ordered[cut], ordered[n - 1 - cut]
    if high - low <= 1e-12 * max(abs(low), abs(high), 1e-300):
        pad = max(abs(low) * 0.05, 1e-6)
        low, high = low - pad, high + pad
    count = min(12, max(4, math.ceil(math.sqrt(n))))
    step = _nice((high - low) / count)
    low = math.floor(low / step) * step
    count = max(1, math.ceil((high - low) / step - 1e-9))
    high = low + count * step
    counts = [0] * count
    outside = 0
    for v in ordered:
        i = math.floor((v - low) / step)
        if i < 0 or i >= count:
            outside += 1
        counts[min(count - 1, max(0, i))] += 1
    most = max(counts)
    w = Histogram.WIDTH / count
    bars = [
        Bar(round(i * w, 2), round(Histogram.HEIGHT * (1 - c / most), 2), round(w - 2, 2),
            round(Histogram.HEIGHT * c / most, 2), c, low + i * step, low + (i + 1) * step)
        for i, c in enumerate(counts)
    ]  # fmt: skip
    value_x = None
    if revealed is not None and low <= revealed <= high:
        value_x = round((revealed - low) / (high - low) * Histogram.WIDTH, 2)
    words = "; ".join(f"{b.count} from {fmt(b.low, 3)} to {fmt(b.high, 3)}" for b in bars if b.count)
    more = f" ({outside} further out, counted in the end bars)" if outside else ""
    return Histogram(bars, low, high, outside, value_x, f"{n} answers: {words}{more}.")


@dataclass(frozen=True)
class Results:
    count: int
    right: int
    bins: list[tuple[str, int]]  # each usual mistake with the answers it gives, in the record's order
    other: int  # wrong answers no usual mistake explains

    @property
    def share(self) -> str:
        return "no answers" if not self.count else f"{round(100 * self.right / self.count)}% right"

    def public(self) -> dict[str, Any]:
        return {
            "answers": self.count,
            "right": self.right,
            "share": self.share,
            "mistakes": [{"mistake": name, "answers": c} for name, c in self.bins],
            "other": self.other,
        }


def results(q: Quantity, answers: list[float]) -> Results:
    verdicts = [check(q, a) for a in answers]
    bins = [(m.name, sum(1 for v in verdicts if v.mistake == m)) for m in q.mistakes]
    right = sum(1 for v in verdicts if v.right)
    other = sum(1 for v in verdicts if not v.right and v.mistake is None)
    return Results(len(answers), right, bins, other)


def _phase(state_question: str, n: int) -> str | None:
    """The phase of question ``n`` when it is the session's current question."""
    if not state_question:
        return None
    number, _, phase = state_question.split(":")
    return phase if int(number) == n else None


async def _question(request: Request, code: str, n: int) -> tuple[dict[str, Any], dict[str, float], str] | JSONResponse:
    """Question ``n``'s record, answers and phase ("revealed" once a newer one replaced it), or the 404."""
    sessions = classroom_of(request).sessions
    state = await find_session(request, code)
    if state is None:
        return error_response(404, no_session(code))
    kept = await sessions.question(code, n)
    if kept is None:
        return error_response(404, f"question: this session has no question {n}")
    phase = _phase(state.question, n) or "revealed"
    return json.loads(kept[0]), kept[1], phase


def _refused(e: SessionError) -> JSONResponse:
    headers = {"Retry-After": "10"} if e.status == 429 else None
    return error_response(e.status, e.message, headers)


@router.get("/sessions/{code}/ask", response_class=HTMLResponse, responses=RESPONSES, include_in_schema=False)
async def ask_form(
    request: Request,
    code: str,
    run_id: Annotated[str, Query(pattern=RUN_ID_PATTERN)],
    step: Annotated[int, Query(ge=0, le=100_000)],
    token: Annotated[str | None, Header(alias=TOKEN_HEADER, max_length=200)] = None,
) -> Response:
    """What the step on the lecturer's screen computes, a radio each named by its symbol."""
    lecturer = await as_lecturer(request, code, token, "asks the class")
    if isinstance(lecturer, JSONResponse):
        return lecturer
    run = await find_run(request, run_id)
    problem = run_problem(run, step)
    if problem is not None or run is None:
        return error_response(422, problem or "run_id: unknown")
    lecture = run.page.present  # lecture mode's lines: every neuron drawn and each of its inputs, to pick from
    quantities = await anyio.to_thread.run_sync(
        lambda: askable(RunView(run.trace), run.trace.steps[step], lecture=lecture)
    )
    title = pretty(run.trace.steps[step].title)
    html = (
        templates_of(request)
        .get_template("classroom/_ask.html")
        .render({"quantities": quantities, "run_id": run.id, "step": step, "title": title})
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


@router.post("/sessions/{code}/questions", status_code=201, responses=RESPONSES)
async def ask(
    request: Request,
    code: str,
    body: AskBody,
    token: Annotated[str | None, Header(alias=TOKEN_HEADER, max_length=200)] = None,
) -> JSONResponse:
    """Ask the class for one quantity of the step on the lecturer's screen; it replaces any question before it.
    Followers hear it in their next ``state`` event (``question``: its number, key and phase)."""
    lecturer = await as_lecturer(request, code, token, "asks the class")
    if isinstance(lecturer, JSONResponse):
        return lecturer
    found, token = lecturer
    run = await find_run(request, body.run_id)
    problem = run_problem(run, body.step)
    if problem is not None or run is None:
        return error_response(422, problem or "run_id: unknown")
    step = run.trace.steps[body.step]
    q = await anyio.to_thread.run_sync(lambda: find(RunView(run.trace), step, body.key))
    if q is None:
        offered = await anyio.to_thread.run_sync(lambda: askable(RunView(run.trace), step))
        return error_response(422, f"key: step {body.step + 1} ({step.title}) does not compute {body.key}; "
                          f"it computes {', '.join(x.key for x in offered) or 'nothing to ask'}")  # fmt: skip
    record = record_of(q, run.id, run.page.query(step=body.step), body.step, pretty(step.title))
    try:
        state = await classroom_of(request).sessions.ask(found, token, q.key, record)
    except SessionError as e:
        return _refused(e)
    n = int(state.question.split(":")[0])
    return JSONResponse(
        {
            "n": n,
            "key": q.key,
            "symbol": q.symbol,
            "phase": "open",
            "panel_url": f"{root_of(request)}/sessions/{found}/questions/{n}/panel",
        },
        status_code=201,
    )


async def _move(request: Request, code: str, n: int, token: str | None, phase: str) -> JSONResponse:
    lecturer = await as_lecturer(request, code, token, "shows and reveals the answers")
    if isinstance(lecturer, JSONResponse):
        return lecturer
    found, token = lecturer
    sessions = classroom_of(request).sessions
    entry = ""
    if phase == "revealed":
        kept = await sessions.question(found, n)
        if kept is None:
            return error_response(404, f"question: this session has no question {n}")
        record = json.loads(kept[0])
        done = results(quantity_of(record), list(kept[1].values()))
        entry = json.dumps({"question": record["symbol"], "value": record["value"], "query": record["query"],
                            "step": record["step"], "title": record["title"], "iteration": 0,
                            "equation": "", **done.public()}, ensure_ascii=False, sort_keys=True)  # fmt: skip
    try:
        state = await sessions.set_phase(found, token, n, phase, entry)
    except SessionError as e:
        return _refused(e)
    return JSONResponse({"n": n, "phase": _phase(state.question, n)})


@router.post("/sessions/{code}/questions/{n}/answers", responses=RESPONSES)
async def answer(
    request: Request,
    code: str,
    n: Annotated[int, Path(ge=1, le=MAX_QUESTION)],
    body: AnswerBody,
    student: Annotated[str, Header(alias=STUDENT_HEADER, pattern=STUDENT)],
) -> JSONResponse:
    """A student's answer to question ``n``, which replaces their earlier one until the reveal. A number written
    as people write it; anything else is a 422 naming the field, and it is not kept."""
    found = await a_code(request, code)
    if isinstance(found, JSONResponse):
        return found
    classroom = classroom_of(request)
    settings = settings_of(request)
    if not classroom.student_answers.allow(f"{found}:{student}"):
        most = settings.max_answers_per_minute_per_student
        return error_response(
            429,
            f"answers: this page sent {most} answers within a minute, the most one student may "
            "(max_answers_per_minute_per_student); try again in a few seconds",
            {"Retry-After": "10"},
        )
    client = client_of(request)
    if not classroom.client_answers.allow(client):
        most = settings.max_answers_per_minute_per_client
        return error_response(
            429,
            f"answers: this address ({client}) sent {most} answers within a minute, the most one "
            "client may (max_answers_per_minute_per_client); try again shortly",
            {"Retry-After": "10"},
        )
    try:
        value = parse_answer(body.answer)
    except AnswerError as e:
        return error_response(422, f"answer: {e}")
    try:
        count = await classroom.sessions.answer(found, n, student_of(found, student), value,
                                                settings.max_answers_per_question)  # fmt: skip
    except SessionError as e:
        return _refused(e)
    said = f"Sent: {fmt(value, 6)}. You may change it until the lecturer reveals the answer."
    return JSONResponse({"n": n, "value": value, "answers": count, "text": said})


@router.post("/sessions/{code}/questions/{n}/show", responses=RESPONSES)
async def show_answers(
    request: Request,
    code: str,
    n: Annotated[int, Path(ge=1, le=MAX_QUESTION)],
    token: Annotated[str | None, Header(alias=TOKEN_HEADER, max_length=200)] = None,
) -> JSONResponse:
    """Everyone sees the histogram of the answers (students may still answer and change theirs)."""
    return await _move(request, code, n, token, "shown")


@router.post("/sessions/{code}/questions/{n}/reveal", responses=RESPONSES)
async def reveal(
    request: Request,
    code: str,
    n: Annotated[int, Path(ge=1, le=MAX_QUESTION)],
    token: Annotated[str | None, Header(alias=TOKEN_HEADER, max_length=200)] = None,
) -> JSONResponse:
    """Everyone sees the value and the results; the answers are final, and the results join the recap."""
    return await _move(request, code, n, token, "revealed")


@router.get("/sessions/{code}/questions/{n}/panel", response_class=HTMLResponse, include_in_schema=False)
async def question_panel(
    request: Request,
    code: str,
    n: Annotated[int, Path(ge=1, le=MAX_QUESTION)],
    token: Annotated[str | None, Header(alias=TOKEN_HEADER, max_length=200)] = None,
    student: Annotated[str | None, Header(alias=STUDENT_HEADER, pattern=STUDENT)] = None,
) -> Response:
    """The question as its lecturer (with the token) or a student sees it, in its phase."""
    found = await a_code(request, code)
    if isinstance(found, JSONResponse):
        return found
    lecturer = False
    if token:
        checked = await as_lecturer(request, found, token, "sees the answers")
        if isinstance(checked, JSONResponse):
            return checked
        lecturer = True
    got = await _question(request, found, n)
    if isinstance(got, JSONResponse):
        return got
    record, answers, phase = got
    q = quantity_of(record)
    revealed = phase == "revealed"
    mine = answers.get(student_of(found, student)) if student else None
    context = {
        "n": n, "q": q, "record": record, "phase": phase, "lecturer": lecturer, "count": len(answers),
        "histogram": histogram(list(answers.values()), q.value if revealed else None) if phase != "open" else None,
        "results": results(q, list(answers.values())) if revealed else None,
        "verdict": check(q, mine) if revealed and mine is not None else None,
        "value": fmt(q.value, 6), "mine_text": None if mine is None else fmt(mine, 6),
        "answers_url": f"{root_of(request)}/sessions/{found}/questions/{n}/answers",
        "base_url": f"{root_of(request)}/sessions/{found}/questions/{n}",
        "max_chars": MAX_ANSWER_CHARS,
    }  # fmt: skip
    html = templates_of(request).get_template("classroom/_question.html").render(context)
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


@router.get("/sessions/{code}/questions/{n}/results", responses=RESPONSES)
async def question_results(
    request: Request,
    code: str,
    n: Annotated[int, Path(ge=1, le=MAX_QUESTION)],
    token: Annotated[str | None, Header(alias=TOKEN_HEADER, max_length=200)] = None,
) -> JSONResponse:
    """The results: anyone's once revealed, only the lecturer's before (the value is hidden until then)."""
    found = await a_code(request, code)
    if isinstance(found, JSONResponse):
        return found
    got = await _question(request, found, n)
    if isinstance(got, JSONResponse):
        return got
    record, answers, phase = got
    if phase != "revealed":
        checked = await as_lecturer(request, found, token, "sees the results before the reveal")
        if isinstance(checked, JSONResponse):
            return checked
    q = quantity_of(record)
    done = results(q, list(answers.values()))
    body = {"n": n, "key": q.key, "symbol": q.symbol, "phase": phase, "value": q.value, **done.public()}
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.get("/sessions/{code}/questions/{n}/answers.csv", responses=RESPONSES)
async def answers_csv(
    request: Request,
    code: str,
    n: Annotated[int, Path(ge=1, le=MAX_QUESTION)],
    token: Annotated[str | None, Header(alias=TOKEN_HEADER, max_length=200)] = None,
) -> Response:
    """The lecturer's download: one row an answer (anonymous, in no particular order), whether it is right within
    the tolerance, and the usual mistake it matches."""
    lecturer = await as_lecturer(request, code, token, "downloads the answers")
    if isinstance(lecturer, JSONResponse):
        return lecturer
    got = await _question(request, lecturer[0], n)
    if isinstance(got, JSONResponse):
        return got
    record, answers, _ = got
    q = quantity_of(record)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["question", "quantity", "value", "answer", "right", "mistake"])
    for value in sorted(answers.values()):
        verdict = check(q, value)
        mistake = verdict.mistake.name if verdict.mistake else ""
        writer.writerow([n, q.symbol, repr(q.value), repr(value), "yes" if verdict.right else "no", mistake])
    disposition = f'attachment; filename="backprop-lens-{lecturer[0]}-question-{n}.csv"'
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": disposition, "Cache-Control": "no-store"})  # fmt: skip
