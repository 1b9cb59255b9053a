"""Ask the class, through the API, in process (memory): asking at the lecturer's step, answers as people type them
(changed until the reveal, counted once a student), the phases, the results with the usual mistakes, the CSV, the
recap, and every refusal in words. Every expected number is computed here in plain Python from the worked example
(Mazur's 2-2-2 network), sharing no code with the app. Over two apps sharing Redis: test_redis.py."""

from __future__ import annotations

import csv
import io
import math
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backprop_lens.app.core.settings import Settings
from backprop_lens.app.main import create_app
from tests.app.classroom.test_routes import Events, example_id, share

W2 = [[0.15, 0.2], [0.25, 0.3]]
B2 = [0.35, 0.35]
W3 = [[0.4, 0.45], [0.5, 0.55]]
B3 = [0.6, 0.6]
X = [0.05, 0.1]
Y = [0.01, 0.99]
BP2_STEP = 4  # input, eq. 25 at 2 and 3, BP1, then BP2 at layer 2


def sigma(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def by_hand() -> dict[str, float]:
    """δ²₁ of the worked example, and the numbers its usual mistakes give, in plain Python."""
    z2 = [sum(W2[j][k] * X[k] for k in range(2)) + B2[j] for j in range(2)]
    a2 = [sigma(z) for z in z2]
    z3 = [sum(W3[j][k] * a2[k] for k in range(2)) + B3[j] for j in range(2)]
    a3 = [sigma(z) for z in z3]
    d3 = [(a3[j] - Y[j]) * a3[j] * (1 - a3[j]) for j in range(2)]
    back = W3[0][0] * d3[0] + W3[1][0] * d3[1]  # (w³)ᵀδ³ at neuron 1
    sp = a2[0] * (1 - a2[0])
    return {
        "value": back * sp,
        "σ′ left out": back,
        "σ for σ′": back * a2[0],
        "not transposed": (W3[0][0] * d3[0] + W3[0][1] * d3[1]) * sp,
        "previous δ": d3[0],
    }


HAND = by_hand()


def student(n: int) -> dict[str, str]:
    return {"X-Student": f"student-number-{n:04d}"}


def lecturer(session: dict[str, Any]) -> dict[str, str]:
    return {"X-Lecturer-Token": session["token"]}


def ask(c: TestClient, session: dict[str, Any], run_id: str, key: str = "delta-2-1", step: int = BP2_STEP) -> Any:
    return c.post(f"/sessions/{session['code']}/questions", json={"run_id": run_id, "step": step, "key": key},
                  headers=lecturer(session))  # fmt: skip


def answer(c: TestClient, code: str, n: int, text: str, who: int = 1) -> Any:
    return c.post(f"/sessions/{code}/questions/{n}/answers", json={"answer": text}, headers=student(who))


@pytest.fixture
def c() -> Any:
    with TestClient(create_app(Settings())) as client:
        yield client


def test_a_question_is_asked_answered_shown_and_revealed(c: TestClient) -> None:
    rid = example_id(c)
    s = share(c, rid, BP2_STEP)
    code = s["code"]
    form = c.get(f"/sessions/{code}/ask", params={"run_id": rid, "step": BP2_STEP}, headers=lecturer(s))
    assert form.status_code == 200
    assert 'value="delta-2-1"' in form.text and "δ²₁" in form.text and 'value="delta-2-2"' in form.text
    r = ask(c, s, rid)
    assert r.status_code == 201, r.text
    q = r.json()
    assert (q["n"], q["key"], q["symbol"], q["phase"]) == (1, "delta-2-1", "δ²₁", "open")
    with c.stream("GET", f"/sessions/{code}/events") as stream:
        state = Events(stream.iter_lines()).next()[1]
    assert state["question"] == {"n": 1, "key": "delta-2-1", "phase": "open"}
    typed = {  # as students type them: the value, each usual mistake, one wrong, and one changed later
        1: f"{HAND['value']:.6f}".replace(".", ","),
        2: f"\u2212{-HAND['σ′ left out']:.4e}" if HAND["σ′ left out"] < 0 else f"{HAND['σ′ left out']:.4e}",
        3: f"{HAND['σ for σ′'] * 1000:.5f}×10⁻³",
        4: f"{HAND['not transposed']:.6g}",
        5: f"{HAND['previous δ']:.6g}",
        6: "12",
        7: "0",
    }
    for who, text in typed.items():
        got = answer(c, code, 1, text, who)
        assert got.status_code == 200, (text, got.text)
    assert answer(c, code, 1, f"{HAND['value']:.8f}", 7).json()["answers"] == 7  # a change counts once
    glance = c.get(f"/sessions/{code}/glance?question=1", headers=lecturer(s)).json()
    assert (glance["answers"], glance["answers_text"]) == (7, "7 answers")
    before = c.get(f"/sessions/{code}/questions/1/results")
    assert before.status_code == 403  # the value stays hidden until the reveal
    assert c.post(f"/sessions/{code}/questions/1/show", headers=lecturer(s)).json() == {"n": 1, "phase": "shown"}
    card = c.get(f"/sessions/{code}/questions/1/panel", headers=lecturer(s)).text
    assert 'id="q-histogram"' in card and "7 answers:" in card and 'id="q-value"' not in card
    assert answer(c, code, 1, "13", 6).status_code == 200  # still open while shown
    assert c.post(f"/sessions/{code}/questions/1/reveal", headers=lecturer(s)).json()["phase"] == "revealed"
    res = c.get(f"/sessions/{code}/questions/1/results").json()
    assert res["value"] == pytest.approx(HAND["value"], rel=1e-12)
    assert (res["answers"], res["right"], res["share"], res["other"]) == (7, 2, "29% right", 1)
    bins = {b["mistake"]: b["answers"] for b in res["mistakes"]}
    assert bins == {
        "σ′(z²₁) left out": 1, "σ(z²₁) used for σ′(z²₁)": 1, "w³ not transposed: w³ⱼₖ where w³ₖⱼ belongs": 1,
        "the previous layer's δ³₁ used unchanged": 1,
    }  # fmt: skip
    mine = c.get(f"/sessions/{code}/questions/1/panel", headers=student(2)).text
    assert "σ′(z²₁)" in mine and "you left it out" in mine and 'class="q-mine wrong"' in mine
    right = c.get(f"/sessions/{code}/questions/1/panel", headers=student(1)).text
    assert 'class="q-mine right"' in right
    late = answer(c, code, 1, "1", 8)
    assert late.status_code == 409 and "revealed" in late.json()["message"]
    rows = list(csv.DictReader(io.StringIO(c.get(f"/sessions/{code}/questions/1/answers.csv",
                                                 headers=lecturer(s)).text)))  # fmt: skip
    assert len(rows) == 7 and sum(r["right"] == "yes" for r in rows) == 2
    assert {r["mistake"] for r in rows} >= {"σ′(z²₁) left out", ""}
    c.delete(f"/sessions/{code}", headers=lecturer(s))
    recap = c.get(f"/join/{code}").text
    assert "δ²₁" in recap and "29% right" in recap


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "Type a number"),
        ("abc", "is not a number"),
        ("1,2.3", "is not a number"),
        ("1" * 41, "at most 40 characters"),
    ],
)
def test_a_malformed_answer_is_a_422_naming_the_field_and_is_not_kept(c: TestClient, text: str, why: str) -> None:
    rid = example_id(c)
    s = share(c, rid, BP2_STEP)
    ask(c, s, rid)
    r = answer(c, s["code"], 1, text)
    assert r.status_code == 422 and why in r.text and "answer" in r.text
    assert c.get(f"/sessions/{s['code']}/glance?question=1", headers=lecturer(s)).json()["answers"] == 0


def test_refusals_say_why(c: TestClient) -> None:
    rid = example_id(c)
    s = share(c, rid, 0)
    code = s["code"]
    nothing = ask(c, s, rid, "delta-2-1", 0)
    assert nothing.status_code == 422 and "nothing to ask" in nothing.json()["message"]
    assert ask(c, s, rid, "delta-9-9").status_code == 422
    assert c.post(f"/sessions/{code}/questions", json={"run_id": rid, "step": 4, "key": "delta-2-1"}).status_code == 403
    assert answer(c, code, 1, "0.1").status_code == 404  # nothing asked yet
    ask(c, s, rid)
    ask(c, s, rid, "delta-2-2")  # a newer question closes the first
    assert answer(c, code, 1, "0.1").status_code == 409
    assert answer(c, code, 2, "0.1").status_code == 200
    no_id = c.post(f"/sessions/{code}/questions/2/answers", json={"answer": "1"})
    assert no_id.status_code == 422


def test_the_limits_on_answers_are_429s_naming_them() -> None:
    settings = Settings(max_answers_per_question=2, max_answers_per_minute_per_student=3)
    with TestClient(create_app(settings)) as c:
        rid = example_id(c)
        s = share(c, rid, BP2_STEP)
        ask(c, s, rid)
        code = s["code"]
        assert answer(c, code, 1, "1", 1).status_code == 200
        assert answer(c, code, 1, "1", 2).status_code == 200
        full = answer(c, code, 1, "1", 3)
        assert full.status_code == 429 and "max_answers_per_question" in full.json()["message"]
        assert answer(c, code, 1, "2", 1).status_code == 200  # who answered may change it
        assert answer(c, code, 1, "3", 1).status_code == 200
        fast = answer(c, code, 1, "4", 1)
        assert fast.status_code == 429 and "max_answers_per_minute_per_student" in fast.json()["message"]
