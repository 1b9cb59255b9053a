"""The load script runs end to end on a tiny, bounded load (figures are for the README, not asserted)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "load.py"


def load_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("load_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_small_load_holds_every_stream_and_serves_every_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.json"
    code = load_module().main(
        ["--streams", "6", "--requests", "60", "--connections", "2", "--seconds", "20", "--json", str(out)]
    )
    report = json.loads(out.read_text())
    assert code == 0, report["errors"]
    assert report["streams_completed"] == 6 and report["streams_peak_open"] >= 1
    assert report["requests_ok"] == 60 and report["requests_failed"] == 0
    assert report["rss_kib_warm"] > 0
    assert "requests_per_second" in capsys.readouterr().out


def test_bounds_are_enforced(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        load_module().main(["--requests", "1000000"])
    assert "bounds" in capsys.readouterr().err
