"""Logs: a request id on every request (given or made), one access line each, timestamps, text or JSON."""

from __future__ import annotations

import json
import logging
import time
import urllib.request

import pytest
from fastapi.testclient import TestClient

from backprop_lens.app.core.logs import REQUEST_ID, JsonFormatter, RequestIdFilter
from backprop_lens.app.main import create_app
from tests.processes import serving, tail


def test_every_request_gets_an_id_and_one_access_line(caplog: pytest.LogCaptureFixture) -> None:
    with TestClient(create_app()) as c, caplog.at_level(logging.INFO, logger="backprop_lens.access"):
        given = c.get("/api/health", headers={"X-Request-ID": "lecture-7.a_b"})
        made = c.get("/api/nothing")
        refused = c.get("/api/health", headers={"X-Request-ID": "no spaces; or " + "x" * 80})
    assert given.headers["x-request-id"] == "lecture-7.a_b"
    assert len(made.headers["x-request-id"]) == 16 and made.headers["x-request-id"] != given.headers["x-request-id"]
    assert len(refused.headers["x-request-id"]) == 16  # not a short token: a new id instead
    lines = [r for r in caplog.records if r.name == "backprop_lens.access"]
    assert [(r.fields["method"], r.fields["path"], r.fields["status"]) for r in lines] == [  # type: ignore[attr-defined]
        ("GET", "/api/health", 200), ("GET", "/api/nothing", 404), ("GET", "/api/health", 200),
    ]  # fmt: skip
    assert all(r.fields["ms"] >= 0 and r.fields["client"] for r in lines)  # type: ignore[attr-defined]
    assert REQUEST_ID.get() == "-"  # nothing leaks out of a request


def test_a_json_line_has_the_time_the_level_the_request_id_and_the_fields() -> None:
    record = logging.LogRecord("backprop_lens.access", logging.INFO, __file__, 1, "GET / %s", (200,), None)
    record.fields = {"status": 200}
    token = REQUEST_ID.set("abc")
    try:
        RequestIdFilter().filter(record)
    finally:
        REQUEST_ID.reset(token)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "GET / 200" and line["request_id"] == "abc" and line["status"] == 200
    assert line["level"] == "INFO" and line["logger"] == "backprop_lens.access"
    assert time.strptime(line["time"][:19], "%Y-%m-%dT%H:%M:%S")  # ISO 8601, UTC
    assert line["time"].endswith("Z")


@pytest.mark.slow
def test_the_server_logs_json_lines_with_the_request_id_and_no_warning_at_start() -> None:
    with serving("--log-format", "json") as (_, url, log):
        request = urllib.request.Request(f"{url}/api/health", headers={"X-Request-ID": "probe-1"})
        with urllib.request.urlopen(request, timeout=10) as r:
            assert r.headers["x-request-id"] == "probe-1"
        deadline = time.monotonic() + 10
        while "probe-1" not in tail(log) and time.monotonic() < deadline:
            time.sleep(0.05)  # the line is written as the response starts; wait for it to reach the file
        text = tail(log)
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    probe = [line for line in lines if line.get("request_id") == "probe-1"]
    assert probe and probe[0]["path"] == "/api/health" and probe[0]["status"] == 200, text
    assert "Warning" not in text and "Traceback" not in text, text
