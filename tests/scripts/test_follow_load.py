"""The follow load script runs end to end on a tiny load, on one process and on Redis with two (figures unasserted;
the answers' counts are asserted: each student once, in the bin of what they last sent),
and with ``--url`` against a deployment already running: one web process behind nginx with the documented
configuration at https://…/backprop, whose root path the script writes once.

It runs as a user runs it, in its own process: its asyncio loop must not meet the browser tests' loop.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cluster.nginx import PREFIX, Nginx
from tests.processes import free_port, serving

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "follow_load.py"


@pytest.mark.parametrize("redis", [False, True])
def test_every_follower_hears_every_change(tmp_path: Path, redis: bool) -> None:
    """With Redis, the servers also ask for a lecturer key, which the script shares with from its file."""
    out = tmp_path / "report.json"
    args = ["--followers", "10", "--changes", "3", "--interval", "0.05", "--json", str(out)]
    args += ["--answers", "--answer-seconds", "0.5"]
    if redis:
        (tmp_path / "key").write_text("a-lecturers-key-for-the-load-test\n", encoding="utf-8")
        args += ["--lecturer-key-file", str(tmp_path / "key")]
    done = subprocess.run([sys.executable, str(SCRIPT), *args, *(["--redis"] if redis else [])],
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["errors"] == [] and report["undelivered"] == 0
    assert (report["followers"], report["changes"], len(report["servers"])) == (10, 3, 2 if redis else 1)
    assert set(report["last_follower_ms"]) == {"p50", "p99", "max"}
    assert report["last_follower_ms"]["p50"] <= report["last_follower_ms"]["max"]
    # Then a question the 10 students answer, one of them changing theirs: each counted once, in its bin.
    answering = report["answering"]
    assert answering["errors"] == [] and answering["counted"] == 10
    assert (answering["answers_sent"], answering["answers_accepted"], answering["changed"]) == (11, 11, 1)
    assert (
        answering["results"]
        == answering["expected"]
        == {"right": 6, "σ′(z²₁) left out": 2, "w³ not transposed": 1, "other": 1}
    )
    assert set(answering["count_behind_ms"]) == {"p50", "p99", "max"}


@pytest.mark.browser
def test_the_lecturer_in_chromium_is_timed_from_the_key_press(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    args = ["--followers", "4", "--changes", "9", "--interval", "0.05", "--browser", "--json", str(out)]
    done = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=180,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    # 9 presses: → seven times to the last step, then Home: every one a change every follower heard.
    assert report["errors"] == [] and report["undelivered"] == 0
    assert report["timed_from"] == "the lecturer's key press"


def test_bounds_are_checked() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--followers", "0"], capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip
    assert done.returncode == 2 and "bounds" in done.stderr


def test_url_drives_a_running_deployment_under_its_root_path(tmp_path: Path) -> None:
    port = free_port()
    with serving("--root-path", PREFIX, "--forwarded-allow-ips", "127.0.0.1", port=port):
        proxy = Nginx(tmp_path, [port])
        proxy.start()
        try:
            proxy.wait_until_served("/api/health")
            out = tmp_path / "report.json"
            args = ["--followers", "4", "--changes", "2", "--interval", "0.05", "--json", str(out)]
            url = ["--url", f"{proxy.base}{PREFIX}", "--insecure"]
            done = subprocess.run([sys.executable, str(SCRIPT), *args, *url], capture_output=True, text=True,
                                  timeout=120, check=False)  # fmt: skip
        finally:
            proxy.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["errors"] == [] and report["undelivered"] == 0
    # Every follower heard both steps: the share, the steps and the streams all found their routes (a root path
    # written twice is a 404 from the app, a path without it one from nginx).
    assert report["servers"] == [f"{proxy.base}{PREFIX}"] and report["changes"] == 2


def test_url_and_redis_are_exclusive() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--url", "http://127.0.0.1:9", "--redis"],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 2 and "--url" in done.stderr
