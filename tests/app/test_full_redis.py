"""A full Redis refuses new work and loses none under way: the documented policy (``noeviction``) at a tiny
``maxmemory``, while a class follows on two apps and a worker trains.

Against a real redis-server and a real ``backprop-lens worker``. Full is ``maxmemory 1``: every ordinary write is
refused. What is under way writes through scripts flagged ``allow-oom`` (``app.core.redis_client.keeps_working``).
"""

from __future__ import annotations

from pathlib import Path

import redis
from fastapi.testclient import TestClient

from backprop_lens.app.core.settings import Settings
from backprop_lens.app.main import create_app
from backprop_lens.app.stepper.form import default_form
from tests.app.classroom.test_routes import drive, end, follow, new_run, share
from tests.app.training.test_workers import FORM, HX, Follower, start
from tests.processes import RedisServer, start_worker, stop

PAGE = {"accept": "text/html,application/xhtml+xml"}
EPOCHS = 60


def test_a_full_redis_refuses_new_work_and_the_class_and_the_training_go_on(
    own_redis: RedisServer, tmp_path: Path
) -> None:
    settings = Settings(redis_url=own_redis.url)
    worker = start_worker(own_redis.url, tmp_path / "worker.log")
    db = redis.Redis.from_url(own_redis.url, decode_responses=True)
    try:
        with TestClient(create_app(settings)) as lecturer, TestClient(create_app(settings)) as student:
            run_id = new_run(lecturer)
            session = share(lecturer, run_id, 1)
            training = start(lecturer, epochs=str(EPOCHS), delay_ms="20")
            with follow(student, session["code"]) as events, Follower(student, training) as progress:
                assert events.next()[1]["step"] == 1
                progress.wait_for("progress", "running")
                db.config_set("maxmemory-policy", "noeviction")
                db.config_set("maxmemory", 1)  # full: Redis refuses every write but the flagged scripts

                # New work is refused, in words.
                new = lecturer.post("/runs", data={**default_form(), "seed": "5"}, headers=PAGE)
                assert new.status_code == 503 and "Redis is full" in new.text
                shared = lecturer.post("/sessions", data={"run_id": run_id, "step": "0"})
                assert shared.status_code == 503 and shared.json()["message"].startswith("Redis is full")
                queued = lecturer.post("/train/runs", data={**FORM, "epochs": "3"}, headers=HX)
                assert queued.status_code == 503 and "Redis is full" in queued.text

                # The class goes on: the lecturer steps, the students see it, a late student still joins.
                for seq, step in enumerate((2, 3, 4), start=2):
                    assert drive(lecturer, session, run_id, step).status_code == 200
                    assert events.next()[1] == {
                        "code": session["code"],
                        "run_id": run_id,
                        "step": step,
                        "line": 0,
                        "seq": seq,
                    }
                with follow(lecturer, session["code"]) as late:
                    assert late.next()[1]["step"] == 4

                # The training goes on to its end: every epoch once, in order.
                progress.wait_for("done")
                assert db.info("memory")["used_memory"] > 1  # still full
            done = progress.events[-1][1]
            assert done["state"] == "finished", done
            epochs = [h["epoch"] for name, e, _ in progress.events if name != "queue" for h in e["history"]]
            assert epochs == list(range(1, EPOCHS + 1))
            assert lecturer.get(f"/train/runs/{training}/network.json").status_code == 200

            # Nothing was lost: the session is there, and once Redis has room, new work is taken again.
            assert student.get(f"/join/{session['code']}", follow_redirects=False).status_code in (302, 303, 307)
            db.config_set("maxmemory", 0)
            assert lecturer.post("/sessions", data={"run_id": run_id, "step": "0"}).status_code == 201
            end(lecturer, session)
    finally:
        db.config_set("maxmemory", 0)
        db.close()
        stop(worker)
