"""The console script: grad prints what the API serves (from a file or standard input); bad input gives a
message and exit 2; every option of train is explained, and its defaults are the training page's."""

from __future__ import annotations

import argparse
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import app.training.cli  # noqa: F401  (registers the train command)
from app.cli import COMMANDS, main
from app.training.schemas import DEFAULT_ETA, TrainConfig


def test_grad_prints_the_apis_gradients(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], client: TestClient, worked: dict[str, Any]
) -> None:
    path = tmp_path / "request.json"
    path.write_text(json.dumps(worked), encoding="utf-8")
    assert main(["grad", str(path)]) == 0
    printed = json.loads(capsys.readouterr().out)
    served = client.post("/api/gradients", json=worked).json()
    assert printed["nabla_w"] == served["nabla_w"]
    assert printed["cost"] == served["cost"]


def test_grad_reads_the_request_from_standard_input(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, client: TestClient, worked: dict[str, Any]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(worked)))
    assert main(["grad", "-"]) == 0
    printed = json.loads(capsys.readouterr().out)
    served = client.post("/api/gradients", json=worked).json()
    assert printed["nabla_w"] == served["nabla_w"] and printed["nabla_b"] == served["nabla_b"]
    assert printed["cost"] == served["cost"]

    monkeypatch.setattr(sys, "stdin", io.StringIO("{"))
    assert main(["grad", "-"]) == 2
    captured = capsys.readouterr()
    assert "Invalid JSON" in captured.err and captured.out == ""


def test_grad_reports_a_file_that_is_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "request.json"
    path.write_bytes(b'{"inputs": "\xff"}')
    assert main(["grad", str(path)]) == 2
    captured = capsys.readouterr()
    assert "cannot read" in captured.err and "not UTF-8" in captured.err and captured.out == ""


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        ("{", "Invalid JSON"),
        ('{"network": {"sizes": [2]}, "inputs": [[1, 2]], "targets": [[1]]}', "network.sizes"),
    ],
)
def test_grad_reports_bad_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    path = tmp_path / "request.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    assert main(["grad", str(path)]) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.out == ""
    assert "Traceback" not in captured.err


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "serve" in out and "grad" in out


def test_serve_defaults(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[tuple[str, str, int]] = []
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda app, host, port, **kw: calls.append((app, host, port)))
    assert main([]) == 0
    assert calls == [("app.main:app", "127.0.0.1", 8000)]
    assert "http://127.0.0.1:8000/" in capsys.readouterr().out


def _parser(name: str) -> argparse.ArgumentParser:
    """The subcommand's own parser, as main builds it."""
    help_text, configure, _ = COMMANDS[name]
    parser = argparse.ArgumentParser(prog=f"backprop-lens {name}", description=help_text)
    configure(parser)
    return parser


def test_every_train_option_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["train", "--help"])
    assert exc.value.code == 0 and "--test-fraction" in capsys.readouterr().out
    options = [a for a in _parser("train")._actions if a.option_strings and a.dest != "help"]
    assert len(options) >= 15
    assert [a.dest for a in options if not (a.help and len(a.help) > 10)] == []
    # a default shown in the help is the default used
    for action in options:
        if action.default is not None:
            assert f"(default {action.default}" in (action.help or "") % {"default": action.default}, action.dest


def test_train_defaults_are_the_training_pages(client: TestClient, capsys: pytest.CaptureFixture[str]) -> None:
    page = client.get("/train").text
    shown = re.search(r'name="eta" value="([^"]+)"', page)
    assert shown is not None and float(shown.group(1)) == DEFAULT_ETA == TrainConfig().eta
    defaults = vars(_parser("train").parse_args([]))
    assert defaults["eta"] == DEFAULT_ETA
    config = TrainConfig()
    for name in ("dataset", "batch", "cost", "activation", "output_activation", "init", "seed", "points", "noise"):
        assert defaults[name] == getattr(config, name), name
        assert re.search(rf'name="{name}"[^>]*value="{getattr(config, name)}"|value="{getattr(config, name)}" selected',
                         page), name  # fmt: skip
    assert defaults["test_fraction"] == config.test_fraction
    assert main(["train", "--epochs", "1"]) == 0
    assert f"η = {DEFAULT_ETA}," in capsys.readouterr().out


def test_the_module_runs_as_a_script_with_every_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "train", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0 and "--eta" in done.stdout, done.stderr
