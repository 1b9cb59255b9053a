"""The load script runs end to end on a tiny, bounded load (figures are for the README, not asserted).

The class mode runs six students against one process without Redis and against Redis, two web
processes and two workers: no errors, and every kind of request of the page happened.

It runs as a user runs it, in its own process: its asyncio loop must not meet the browser tests' loop.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "load.py"


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_small_load_holds_every_stream_and_serves_every_request(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    done = run_script("--streams", "6", "--requests", "60", "--connections", "2", "--seconds", "20",
                      "--json", str(out))  # fmt: skip
    report = json.loads(out.read_text())
    assert done.returncode == 0, report["errors"]
    assert report["streams_completed"] == 6 and report["streams_peak_open"] >= 1
    assert report["requests_ok"] == 60 and report["requests_failed"] == 0
    assert report["rss_kib_warm"] > 0
    assert "requests_per_second" in done.stdout


def test_bounds_are_enforced() -> None:
    done = run_script("--requests", "1000000")
    assert done.returncode == 2
    assert "bounds" in done.stderr


KINDS = {"page", "configure", "stream_first", "stream_done", "step", "demon", "paths", "train_form", "train_done"}


def run_class(setup: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    out = tmp_path / f"class-{setup}.json"
    done = run_script("--class", "--setup", setup, "--students", "6", "--concurrency", "3", "--ramp-seconds", "1",
                      "--json", str(out))  # fmt: skip
    assert out.exists(), done.stderr[-2000:]
    report: dict[str, Any] = json.loads(out.read_text())
    return done, report


def test_a_small_class_on_one_process_without_redis(tmp_path: Path) -> None:
    done, report = run_class("single", tmp_path)
    assert done.returncode == 0, report["error_samples"]
    assert report["errors"] == 0 and report["students_done"] == 6 and len(report["servers"]) == 1
    assert set(report["counts"]) == KINDS
    assert all(report["counts"][kind] >= 1 for kind in KINDS), report["counts"]
    assert report["counts"]["stream_done"] == 6 and report["counts"]["train_done"] == 1  # the first student trains
    assert report["requests"] == sum(n for kind, n in report["counts"].items() if kind != "stream_first")


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs Debian's redis-server")
def test_a_small_class_on_two_processes_two_workers_and_redis(tmp_path: Path) -> None:
    done, report = run_class("cluster", tmp_path)
    assert done.returncode == 0, report["error_samples"]
    assert report["errors"] == 0 and report["students_done"] == 6 and len(report["servers"]) == 2
    assert all(report["counts"][kind] >= 1 for kind in KINDS), report["counts"]
    assert report["counts"]["train_done"] == 1


def test_url_is_an_http_url_of_the_app() -> None:
    done = run_script("--class", "--url", "ftp://example.org/backprop")
    assert done.returncode == 2
    assert "an http:// or https:// URL" in done.stderr


def test_class_needs_servers_or_a_setup() -> None:
    done = run_script("--class")
    assert done.returncode == 2
    assert "--url" in done.stderr
