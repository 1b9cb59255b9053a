"""The page's event stream, read with the synchronous TestClient: its events, their order, the final event."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from backprop_lens.app.core.settings import Settings
from backprop_lens.app.main import create_app

STEPS = 8  # the 2-2-2 worked example: input, 2 × eq. 25, BP1, BP2, 2 × BP3/BP4, update


@dataclass
class Event:
    event: str
    id: str | None
    data: str


def parse(lines: Iterator[str]) -> list[Event]:
    """The SSE wire format, as a browser reads it (comments skipped, data lines joined)."""
    events: list[Event] = []
    kind: str = ""
    ident: str | None = None
    data: list[str] = []
    for line in lines:
        if line == "":
            if data or kind:
                events.append(Event(kind or "message", ident, "\n".join(data)))
            kind, ident, data = "", None, []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                kind = value
            elif name == "id":
                ident = value
            elif name == "data":
                data.append(value)
    return events


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app())


def new_run(client: TestClient) -> str:
    m = re.search(r'data-run-id="([^"]+)"', client.get("/").text)
    assert m
    return m.group(1)


def read(client: TestClient, url: str, headers: dict[str, str] | None = None) -> list[Event]:
    with client.stream("GET", url, headers=headers or {}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["cache-control"] == "no-cache"
        return parse(r.iter_lines())


def test_every_step_in_order_then_done(client: TestClient) -> None:
    events = read(client, f"/runs/{new_run(client)}/stream?interval_ms=100")
    assert [e.event for e in events] == ["message"] + ["stage-patch"] * (STEPS - 1) + ["done"]
    assert [e.id for e in events[:-1]] == [str(k) for k in range(STEPS)]
    # the first step whole, the inside of #stage ready for an htmx swap
    assert f'<div id="step-meta" data-step="0" data-steps="{STEPS}"' in events[0].data
    assert 'id="diagram"' in events[0].data and 'id="numbers"' in events[0].data and "<html" not in events[0].data
    for k, e in enumerate(events[1:-1], start=1):  # then what changed since the step before (test_patch.py)
        patch = json.loads(e.data)
        assert patch["from"] == k - 1 and patch["to"] == k and patch["ops"]
    assert json.loads(events[-1].data) == {"step": STEPS - 1, "steps": STEPS, "reason": "end"}


def test_a_stream_starts_where_asked_and_resumes_after_the_last_event_id(client: TestClient) -> None:
    rid = new_run(client)
    events = read(client, f"/runs/{rid}/stream?from=5&interval_ms=100")
    assert [e.id for e in events] == ["5", "6", "7", None]
    assert [e.event for e in events] == ["message", "stage-patch", "stage-patch", "done"]
    assert 'data-step="5"' in events[0].data  # a page that joins late gets the step whole
    resumed = read(client, f"/runs/{rid}/stream?from=0&interval_ms=100", headers={"Last-Event-ID": "5"})
    assert [e.id for e in resumed] == ["6", "7", None] and resumed[-1].event == "done"
    assert resumed[0].event == "message" and 'data-step="6"' in resumed[0].data  # a reconnect too
    assert resumed[1].data == events[2].data  # the patch to step 7, made once
    finished = read(client, f"/runs/{rid}/stream?interval_ms=100", headers={"Last-Event-ID": "7"})
    assert [e.event for e in finished] == ["done"], "a reconnect after the end gets only the final event"


@pytest.mark.parametrize("query", ["from=8", "from=-1", "interval_ms=99", "interval_ms=3001", "interval_ms=fast"])
def test_out_of_range_parameters_are_a_422(client: TestClient, query: str) -> None:
    r = client.get(f"/runs/{new_run(client)}/stream?{query}")
    assert r.status_code == 422
    assert r.json()["message"].split(":")[0] in {"from", "interval_ms", "query.from", "query.interval_ms"}


def test_an_unknown_run_is_a_404(client: TestClient) -> None:
    r = client.get("/runs/nothing-here/stream")
    assert r.status_code == 404 and 'href="/"' in r.text


def test_the_number_of_step_events_is_bounded() -> None:
    limited = TestClient(create_app(Settings(max_stream_steps=3)))
    events = read(limited, f"/runs/{new_run(limited)}/stream?interval_ms=100")
    assert [e.id for e in events] == ["0", "1", "2", None]
    assert json.loads(events[-1].data)["reason"] == "step limit"


def test_a_stream_out_of_time_still_ends_with_done() -> None:
    limited = TestClient(create_app(Settings(max_stream_seconds=0.25)))
    events = read(limited, f"/runs/{new_run(limited)}/stream?interval_ms=200")
    assert 1 <= len(events) < STEPS + 1
    assert events[-1].event == "done"


def test_too_many_open_streams_get_a_503_with_retry_after() -> None:
    app = create_app(Settings(max_streams=1))
    with TestClient(app) as limited:
        rid = new_run(limited)
        held = app.state.streams.acquire()  # the one slot, as an open stream holds it
        r = limited.get(f"/runs/{rid}/stream")
        assert r.status_code == 503
        assert int(r.headers["retry-after"]) > 0
        assert r.json()["message"].startswith("streams:")
        held.release()
        assert read(limited, f"/runs/{rid}/stream?from=7&interval_ms=100")[-1].event == "done"
        assert app.state.streams.open == 0, "the finished stream gave its slot back"
