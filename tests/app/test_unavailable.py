"""Redis full is told apart from Redis down: each its own 503 sentence, an HTML page for a page, JSON for the API.

Against a real redis-server: full is a tiny maxmemory with noeviction (writes refused, reads answered), down is
the server stopped. Nothing is a 500, and the worked example, which needs nothing from Redis, still answers.
"""

from __future__ import annotations

import redis
from fastapi.testclient import TestClient

from backprop_lens.app.core.settings import Settings
from backprop_lens.app.main import create_app
from backprop_lens.app.stepper.form import default_form
from tests.processes import RedisServer

PAGE = {"accept": "text/html,application/xhtml+xml"}


def test_full_and_down_each_say_so_on_pages_and_in_json(own_redis: RedisServer) -> None:
    db = redis.Redis.from_url(own_redis.url)
    form = {**default_form(), "seed": "5", "weights": "", "biases": ""}
    with TestClient(create_app(Settings(redis_url=own_redis.url))) as c:
        db.config_set("maxmemory", 1)
        db.config_set("maxmemory-policy", "noeviction")
        full = c.post("/runs", data=form, headers=PAGE, follow_redirects=False)
        assert full.status_code == 503 and full.headers["content-type"].startswith("text/html")
        assert "Redis is full" in full.text and "maxmemory" in full.text and full.headers["retry-after"]
        assert 'id="unavailable"' in full.text and "<script>" not in full.text.split('id="unavailable"')[1]
        api = c.post("/runs", data=form, headers={"accept": "application/json"}, follow_redirects=False)
        assert api.status_code == 503 and api.json()["message"].startswith("Redis is full")
        assert c.get("/", headers=PAGE).status_code == 200  # the worked example needs nothing from Redis
        db.config_set("maxmemory", 0)
        assert c.post("/runs", data=form, headers=PAGE, follow_redirects=False).status_code in (200, 303)

        own_redis.stop()
        down = c.get("/runs/abcdefghijklmnopqrstuv", headers=PAGE)
        assert down.status_code == 503 and down.headers["content-type"].startswith("text/html")
        assert "Redis is unavailable" in down.text and "Redis is full" not in down.text
        as_json = c.get("/runs/abcdefghijklmnopqrstuv", headers={"accept": "application/json"})
        assert as_json.status_code == 503 and as_json.json()["message"].startswith("Redis is unavailable")
    db.close()
