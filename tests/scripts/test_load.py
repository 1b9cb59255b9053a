"""The load script runs end to end on a tiny, bounded load (figures are for the README, not asserted).

It runs as a user runs it, in its own process: its asyncio loop must not meet the browser tests' loop.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
