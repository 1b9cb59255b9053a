"""The classroom's routes in process: sharing, driving with the lecturer's token, joining, following, the limits."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from backprop_lens.app.classroom.routes import qr_svg
from backprop_lens.app.core.settings import Settings
from backprop_lens.app.main import create_app
from tests.app.classroom import qr_reader

STEPS = 8  # the worked example's steps: input, 2 × eq. 25, BP1, BP2, 2 × BP3/BP4, update
CODE = re.compile(r"^[A-HJKMNP-Z2-9]{6}$")  # written out: no 0/O, 1/I/L


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings(max_sessions=3, max_sessions_per_client=4, max_followers=2))) as c:
        yield c


def example_id(client: TestClient) -> str:
    m = re.search(r'data-run-id="([^"]+)"', client.get("/").text)
    assert m
    return m.group(1)


def new_run(client: TestClient, eta: str = "0.25") -> str:
    r = client.post("/runs", data={"sizes": "2, 3, 2", "eta": eta, "seed": "7", "x": "0.5, 0.1", "y": "1, 0"},
                    headers={"HX-Request": "true"})  # fmt: skip
    assert r.status_code == 200, r.text
    m = re.search(r'data-run-id="([^"]+)"', r.text)
    assert m
    return m.group(1)


def share(client: TestClient, run_id: str, step: int = 0) -> dict[str, Any]:
    r = client.post("/sessions", data={"run_id": run_id, "step": str(step)})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def end(client: TestClient, session: dict[str, Any]) -> None:
    client.delete(f"/sessions/{session['code']}", headers={"X-Lecturer-Token": session["token"]})


def drive(
    client: TestClient, session: dict[str, Any], run_id: str, step: int, token: str | None = None, line: int = 0
) -> Any:
    headers = {"X-Lecturer-Token": session["token"] if token is None else token}
    body = {"run_id": run_id, "step": step, **({"line": line} if line else {})}
    return client.post(session["state_url"], json=body, headers=headers)


class Events:
    """An open follow stream read event by event (comments and the retry line skipped)."""

    def __init__(self, lines: Iterator[str]) -> None:
        self.lines = lines

    def next(self) -> tuple[str, dict[str, Any], str | None]:
        name, data, ident = "message", "", None
        for line in self.lines:
            if line == "" and data:
                return name, json.loads(data), ident
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data = line[5:].strip()
            elif line.startswith("id:"):
                ident = line[3:].strip()
        raise AssertionError("the stream ended")


@contextmanager
def follow(client: TestClient, code: str, last_id: str | None = None) -> Iterator[Events]:
    headers = {"Last-Event-ID": last_id} if last_id else {}
    with client.stream("GET", f"/sessions/{code}/events", headers=headers) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        yield Events(r.iter_lines())


def test_sharing_gives_a_code_urls_a_qr_code_and_a_token(client: TestClient) -> None:
    run_id = example_id(client)
    s = share(client, run_id, 2)
    assert CODE.match(s["code"])
    assert s["join_url"] == f"http://testserver/join/{s['code']}"
    assert s["lead_url"] == f"http://testserver/lead/{s['code']}"
    assert s["state_url"] == f"/sessions/{s['code']}/state"
    assert s["events_url"] == f"/sessions/{s['code']}/events"
    assert re.fullmatch(r"[A-Za-z0-9_\-]{32}", s["token"])  # 24 random bytes
    panel = client.post("/sessions", data={"run_id": run_id, "step": "2"}, headers={"HX-Request": "true"})
    assert panel.status_code == 201
    html = panel.text
    code = re.search(r'data-code="([^"]+)"', html)
    assert code and CODE.match(code.group(1))
    c = code.group(1)
    assert '<p class="join-code" id="join-code"' in html and f">{c[:3]} {c[3:]}</p>" in html
    assert f'href="http://testserver/join/{c}"' in html
    token = re.search(r'data-token="([A-Za-z0-9_\-]{32})"', html)
    assert token
    svg = re.search(r'<svg viewBox="0 0 \d+ \d+" class="qr-code">.*?</svg>', html, flags=re.S)
    assert svg and qr_reader.read(svg.group(0)) == f"http://testserver/join/{c}"  # read back independently
    assert "style" not in html.split('class="qr"', 1)[1]  # nothing inline for the CSP
    end(client, s)
    r = client.get(f"/sessions/{c}/panel")
    assert r.status_code == 200 and f'data-code="{c}"' in r.text and "data-token" not in r.text
    end(client, {"code": c, "token": token.group(1)})
    assert client.get(f"/sessions/{c}/panel").status_code == 404


@pytest.mark.parametrize(
    ("form", "message"),
    [({"run_id": "nope", "step": "0"}, "run_id: this run is unknown or has expired"),
     ({"run_id": "EXAMPLE", "step": "8"},
      "step: this run has steps 1 to 8; there is no step 9 (this field counts from 0: 7 is the last)"),
     ({"run_id": "EXAMPLE", "step": "-1"}, "step: a step number from 0"),
     ({"run_id": "EXAMPLE", "step": "two"}, "step: a step number from 0")],
)  # fmt: skip
def test_sharing_a_run_that_is_not_there_is_a_422_naming_it(
    client: TestClient, form: dict[str, str], message: str
) -> None:
    if form["run_id"] == "EXAMPLE":
        form = {**form, "run_id": example_id(client)}
    r = client.post("/sessions", data=form)
    assert r.status_code == 422 and r.json()["message"].startswith(message)
    r = client.post("/sessions", data=form, headers={"HX-Request": "true"})
    assert r.status_code == 422 and 'role="alert"' in r.text and message.split(":")[0] in r.text


def test_only_the_lecturers_token_drives_the_session(client: TestClient) -> None:
    run_id = example_id(client)
    s = share(client, run_id)
    r = client.post(s["state_url"], json={"run_id": run_id, "step": 1})
    assert r.status_code == 403 and "X-Lecturer-Token" in r.json()["message"]
    r = drive(client, s, run_id, 1, token="not-the-token")
    assert r.status_code == 403 and "only the lecturer's browser" in r.json()["message"]
    r = drive(client, s, run_id, 1)
    assert r.status_code == 200 and r.json() == {"code": s["code"], "run_id": run_id, "step": 1, "line": 0, "seq": 2,
                                                  "followers_here": 0}  # fmt: skip
    r = drive(client, s, run_id, STEPS)
    assert r.status_code == 422
    assert r.json()["message"] == (
        "step: this run has steps 1 to 8; there is no step 9 (this field counts from 0: 7 is the last)"
    )  # as the page counts its steps, from 1
    r = drive(client, s, run_id, 100_000)
    assert r.status_code == 422
    assert r.json()["message"].startswith("step: this run has steps 1 to 8; there is no step 100001 ")
    assert drive(client, s, "unknown-run", 0).status_code == 422
    r = client.post(s["state_url"], json={"run_id": run_id, "step": "1"}, headers={"X-Lecturer-Token": s["token"]})
    assert r.status_code == 422  # strict: a step is a number
    r = client.delete(f"/sessions/{s['code']}", headers={"X-Lecturer-Token": "no"})
    assert r.status_code == 403
    end(client, s)
    assert drive(client, s, run_id, 1).status_code == 404
    for bad in ("ABC", "0O0O0O"):
        r = client.post(f"/sessions/{bad}/state", json={"run_id": run_id, "step": 1})
        assert r.status_code == 404 and "is not a join code" in r.json()["message"]


def test_joining_opens_the_lecturers_run_at_the_lecturers_step(client: TestClient) -> None:
    run_id = new_run(client)
    s = share(client, run_id, 3)
    for path in (f"/join/{s['code']}", f"/join/{s['code'].lower()[:3]} {s['code'][3:]}", f"/join?code={s['code']}"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"] == f"/runs/{run_id}/steps/3?follow={s['code']}"
    page = client.get(f"/runs/{run_id}/steps/3?follow={s['code']}")
    assert 'id="follow-bar"' in page.text and 'id="btn-share"' not in page.text
    assert f'data-follow="{s["code"]}"' in page.text
    assert 'data-step="3"' in page.text  # the step-through page at the lecturer's step
    lead = client.get(f"/lead/{s['code']}", follow_redirects=False)
    assert lead.headers["location"] == f"/runs/{run_id}/steps/3?lead={s['code']}"
    assert 'data-lead="' in client.get(lead.headers["location"]).text
    plain = client.get(f"/runs/{run_id}/steps/3")
    assert 'id="btn-share"' in plain.text and 'id="follow-bar"' not in plain.text
    end(client, s)
    ended = client.get(f"/join/{s['code']}")  # the recap, for a while (test_recap.py)
    assert ended.status_code == 200 and 'id="recap"' in ended.text
    assert client.get(f"/lead/{s['code']}").status_code == 404  # nobody drives it again
    gone = client.get("/join/ABCDEF")
    assert gone.status_code == 404 and "No class session has the code ABC DEF" in gone.text
    typo = client.get("/join?code=ABC0O1")
    assert typo.status_code == 404 and "is not a join code" in typo.text
    form = client.get("/join")
    assert form.status_code == 200 and 'id="join-form"' in form.text and 'action="/join"' in form.text


def test_a_follower_hears_the_current_state_at_once_then_each_change(client: TestClient) -> None:
    first, second = new_run(client), new_run(client, eta="0.5")
    s = share(client, first, 1)
    with follow(client, s["code"]) as events:
        name, data, ident = events.next()
        assert (name, data) == ("state", {"code": s["code"], "run_id": first, "step": 1, "line": 0, "seq": 1})
        sid = ident.split(".")[0] if ident else ""
        assert ident == f"{sid}.1"
        assert drive(client, s, first, 4, line=3).json()["followers_here"] == 1  # lecture mode's line 3 of step 5
        state = {"code": s["code"], "run_id": first, "step": 4, "line": 3, "seq": 2}
        assert events.next() == ("state", state, f"{sid}.2")
        drive(client, s, second, 0)  # a new configuration
        assert events.next()[1] == {"code": s["code"], "run_id": second, "step": 0, "line": 0, "seq": 3}
        end(client, s)
        assert events.next()[:2] == ("ended", {"code": s["code"]})


def test_a_reconnecting_follower_with_the_current_id_waits_for_the_next_change(client: TestClient) -> None:
    run_id = example_id(client)
    s = share(client, run_id, 0)
    with follow(client, s["code"]) as events:
        _, _, ident = events.next()
    assert ident
    with follow(client, s["code"], last_id=ident) as events:
        drive(client, s, run_id, 5)
        name, data, _ = events.next()  # not the state it had: the change
        assert (name, data["step"], data["seq"]) == ("state", 5, 2)
    end(client, s)


def test_followers_and_sessions_are_bounded_with_a_503_that_says_so(client: TestClient) -> None:
    run_id = example_id(client)
    s = share(client, run_id)
    with follow(client, s["code"]) as a, follow(client, s["code"]) as b:
        a.next(), b.next()
        r = client.get(f"/sessions/{s['code']}/events")
        assert r.status_code == 503 and "all 2 places following session" in r.json()["message"]
        assert r.headers["retry-after"] == "5"
    with follow(client, s["code"]) as again:  # places are given back when a stream ends
        again.next()
    others = [share(client, run_id) for _ in range(2)]  # the module's app allows 3 sessions
    r = client.post("/sessions", data={"run_id": run_id, "step": "0"})
    assert r.status_code == 503 and r.json()["message"].startswith("sessions: all 3 class sessions are in use")
    for session in [s, *others]:
        end(client, session)
    assert client.get(f"/sessions/{s['code']}/events").status_code == 404


def test_a_followed_run_that_expired_is_stored_again_under_its_id() -> None:
    # One run kept: a second run evicts the first, which the session then brings back from its configuration.
    with TestClient(create_app(Settings(max_runs=1))) as client:
        run_id = new_run(client)
        s = share(client, run_id, 2)
        new_run(client, eta="0.75")
        assert client.get(f"/runs/{run_id}/steps/2", headers={"HX-Request": "true"}).status_code == 404
        r = client.get(f"/join/{s['code']}", follow_redirects=False)
        assert r.headers["location"] == f"/runs/{run_id}/steps/2?follow={s['code']}"
        assert client.get(r.headers["location"]).status_code == 200
        assert urlsplit(r.headers["location"]).path.endswith("/steps/2")


def test_every_url_carries_the_root_path() -> None:
    with TestClient(create_app(Settings()), root_path="/backprop") as client:
        run_id = example_id(client)
        s = share(client, run_id, 1)
        code = s["code"]
        assert s["join_url"] == f"http://testserver/backprop/join/{code}"
        assert s["lead_url"] == f"http://testserver/backprop/lead/{code}"
        assert (s["state_url"], s["events_url"]) == (
            f"/backprop/sessions/{code}/state",
            f"/backprop/sessions/{code}/events",
        )
        r = client.get(f"/join/{code}", follow_redirects=False)
        assert r.headers["location"] == f"/backprop/runs/{run_id}/steps/1?follow={code}"
        page = client.get(f"/runs/{run_id}/steps/1?follow={code}").text
        assert 'data-sessions-url="/backprop/sessions"' in page and 'data-runs-url="/backprop/runs/"' in page
        assert 'href="/backprop/static/css/classroom.css"' in page and 'src="/backprop/static/js/follow.js"' in page
        panel = client.get(f"/sessions/{code}/panel").text
        assert f'data-state-url="/backprop/sessions/{code}/state"' in panel
        assert 'action="/backprop/join"' in client.get("/join").text
        end(client, s)


def test_students_follow_a_lecture_mode_run_in_the_pages_own_layout(client: TestClient) -> None:
    plain = new_run(client)
    r = client.post(f"/runs/{plain}/present?on=true&step=0", headers={"HX-Request": "true"})
    m = re.search(r'data-run-id="([^"]+)"', r.text)
    assert r.status_code == 200 and m and 'data-present="1"' in r.text
    presented = m.group(1)
    s = share(client, presented, 2)
    twin = client.get(f"/join/{s['code']}", follow_redirects=False).headers["location"].split("/")[2]
    assert twin != presented
    page = client.get(f"/runs/{twin}/steps/2?follow={s['code']}").text
    assert 'data-present="0"' in page and 'id="config-panel"' in page
    # The same numbers: the twin is the lecture-mode run's configuration out of lecture mode.
    same = client.get(f"/runs/{twin}/trace.json").json()
    assert same["steps"] == client.get(f"/runs/{presented}/trace.json").json()["steps"]
    for step in (3, 4):  # each step of the lecture-mode run names the one twin, made once
        assert drive(client, s, presented, step).json()["run_id"] == twin
    end(client, s)


@pytest.mark.parametrize(
    "url",
    ["a", "http://testserver/join/ABC234", "http://127.0.0.1:8000/join/PSCPPN",
     "https://lecture-hall-3.example.edu:8443/backprop/join/ABC234"],
)  # fmt: skip
def test_the_qr_code_holds_the_join_url(url: str) -> None:
    # The reader (tests/app/classroom/qr_reader.py) follows the standard and shares no code with segno.
    assert qr_reader.read(qr_svg(url)) == url


def test_driving_checks_the_session_then_the_token_then_the_body(client: TestClient) -> None:
    run_id = example_id(client)
    s = share(client, run_id)
    good = {"run_id": run_id, "step": 1}
    # No such session: a 404 naming the code, whatever the token and the body.
    for body in (good, {}):
        for headers in ({}, {"X-Lecturer-Token": s["token"]}):
            r = client.post("/sessions/ZZZZZZ/state", json=body, headers=headers)
            assert r.status_code == 404
            assert r.json()["message"] == "code: no class session has the code ZZZ ZZZ; it may have ended"
    # The session is there: without the lecturer's token, a 403, whatever the body.
    for body in (good, {}):
        r = client.post(s["state_url"], json=body)
        assert r.status_code == 403 and r.json()["message"].startswith("token: send the lecturer's token in X-Lecturer")
        r = client.post(s["state_url"], json=body, headers={"X-Lecturer-Token": "guess"})
        assert r.status_code == 403 and "only the lecturer's browser" in r.json()["message"]
    # The lecturer's token: the body is checked, each problem named.
    headers = {"X-Lecturer-Token": s["token"]}
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, "run_id: Field required"),
        ({"run_id": run_id}, "step: Field required"),
        ({"run_id": run_id, "step": "1"}, "step: Input should be a valid integer"),
        ({"run_id": run_id, "step": -1}, "step: Input should be greater than or equal to 0"),
        ({"run_id": run_id, "step": 1, "extra": 1}, "extra: Extra inputs are not permitted"),
    ]
    for body, message in cases:
        r = client.post(s["state_url"], json=body, headers=headers)
        assert r.status_code == 422 and r.json()["message"] == message, r.text
    r = client.post(s["state_url"], content=b'{"run_id": ', headers={**headers, "content-type": "application/json"})
    assert r.status_code == 422 and r.json()["message"].startswith("body: not valid JSON")
    assert client.post(s["state_url"], json=good, headers=headers).json()["step"] == 1  # still the lecturer's
    end(client, s)
