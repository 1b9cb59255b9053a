"""The console script: grad prints what the API serves; bad files give a message and exit 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.cli import main


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
