"""Liveness and readiness: /api/health answers whatever happens; /api/ready says in words what is wrong.

Against a real redis-server: no worker alive, Redis full (a tiny maxmemory with noeviction) and Redis down are
each a 503 with their own reason, and /api/health stays 200 through all of them.
"""

from __future__ import annotations

import time

import redis
from fastapi.testclient import TestClient

from backprop_lens.app.core.settings import Settings
from backprop_lens.app.main import create_app
from backprop_lens.app.training.redis_store import NO_WORKER, WORKERS
from tests.processes import RedisServer


def test_one_process_in_memory_is_ready() -> None:
    with TestClient(create_app(Settings())) as c:
        assert c.get("/api/ready").json() == {"status": "ready", "reasons": []}


def test_with_redis_ready_needs_a_live_worker_and_a_writable_redis(own_redis: RedisServer) -> None:
    db = redis.Redis.from_url(own_redis.url)
    with TestClient(create_app(Settings(redis_url=own_redis.url))) as c:
        r = c.get("/api/ready")
        assert (r.status_code, r.json()["reasons"]) == (503, [NO_WORKER])
        db.zadd(WORKERS, {"test-worker": time.time()})  # a worker that has just said it is alive
        assert c.get("/api/ready").status_code == 200

        db.config_set("maxmemory", 1)
        db.config_set("maxmemory-policy", "noeviction")
        full = c.get("/api/ready")
        assert full.status_code == 503 and "refuses writes" in full.json()["reasons"][0]
        assert "maxmemory" in full.json()["reasons"][0]  # Redis's own words: it is full
        db.config_set("maxmemory", 0)
        assert c.get("/api/ready").status_code == 200

        own_redis.stop()
        down = c.get("/api/ready")
        assert down.status_code == 503 and "is unreachable" in down.json()["reasons"][0]
        assert "refuses" not in down.json()["reasons"][0]  # down is told apart from full
        assert c.get("/api/health").status_code == 200  # liveness: the process itself is fine
    db.close()
