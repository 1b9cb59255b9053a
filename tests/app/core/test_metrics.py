"""/metrics: what it counts is what was done, read back with Prometheus's own text parser."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from backprop_lens.app.core.metrics import route_group
from backprop_lens.app.core.settings import Settings
from backprop_lens.app.main import create_app
from tests.processes import RedisServer

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: TestClient) -> Samples:
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def test_route_groups_are_few_and_named() -> None:
    assert [route_group(p) for p in ("/", "/api/gradients", "/runs/x/stream", "/static/js/a.js", "/../etc")] == [
        "page", "api", "runs", "static", "other",
    ]  # fmt: skip


def test_responses_latency_streams_sessions_and_trainings_are_counted() -> None:
    with TestClient(create_app(Settings(max_sessions=7))) as c:
        before = scrape(c)
        made = {"2xx": 0, "4xx": 0}
        for _ in range(3):
            assert c.get("/api/health").status_code == 200
            made["2xx"] += 1
        for _ in range(2):
            assert c.get("/api/nothing-here").status_code == 404
            made["4xx"] += 1
        page = c.get("/")
        made["2xx"] += 1
        assert page.status_code == 200
        after = scrape(c)
        made["2xx"] += 1  # the first scrape itself
        for status, n in made.items():
            key = ("backprop_lens_responses_total", (("status_class", status),))
            assert after[key] - before.get(key, 0.0) == n
        api = ("backprop_lens_request_seconds_count", (("route", "api"),))
        assert after[api] - before.get(api, 0.0) == 5
        assert after[("backprop_lens_sessions_limit", ())] == 7
        assert after[("backprop_lens_sessions_in_use", ())] == 0
        assert after[("backprop_lens_open_streams", (("kind", "step"),))] == 0

        run_id = page.text.split('data-run-id="', 1)[1].split('"', 1)[0]
        shared = c.post("/sessions", data={"run_id": run_id, "step": "0"})
        assert shared.status_code in (200, 201), shared.text
        assert scrape(c)[("backprop_lens_sessions_in_use", ())] == 1


def test_redis_errors_are_counted_by_kind_and_metrics_can_be_turned_off(own_redis: RedisServer) -> None:
    with TestClient(create_app(Settings(redis_url=own_redis.url))) as c:
        own_redis.stop()
        assert c.get("/runs/someone-elses-run").status_code == 503
        samples = scrape(c)
        errors = {labels: v for (name, labels), v in samples.items() if name == "backprop_lens_redis_errors_total"}
        assert sum(errors.values()) >= 1 and all(dict(k)["kind"].endswith("Error") for k in errors)
        assert ("backprop_lens_sessions_in_use", ()) not in samples  # unreadable: left out, and counted
    with TestClient(create_app(Settings(metrics=False))) as c:
        r = c.get("/metrics")
        assert r.status_code == 404 and "BACKPROP_LENS_METRICS" in r.json()["message"]
