"""The console script: grad prints what the API serves (from a file or standard input) without loading the web
stack; bad input gives a message in plain words and exit 2; the commands that live beside the app are listed
without being imported; every option of train is explained, and its defaults are the training page's."""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import backprop_lens.app.training.cli  # noqa: F401  (registers the train command)
from backprop_lens.app.cli import COMMANDS, PLUGINS, REDIS_URL_VARIABLE, load_plugin, main
from backprop_lens.app.core.errors import OVERFLOW
from backprop_lens.app.core.logs import uvicorn_config
from backprop_lens.app.core.settings import Settings, using
from backprop_lens.app.training.schemas import DEFAULT_ETA, TrainConfig


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


WEB_STACK = ("fastapi", "starlette", "uvicorn", "jinja2")


def imported(stderr: str) -> set[str]:
    """The modules a ``python -X importtime`` run imported, from its report on standard error."""
    return {line.rsplit("|", 1)[1].strip() for line in stderr.splitlines() if line.startswith("import time:")} - {
        "package"
    }


def web_modules(modules: set[str]) -> set[str]:
    return {m for m in modules if m.split(".")[0] in WEB_STACK}


def test_grad_computes_without_importing_the_web_stack(worked: dict[str, Any]) -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "backprop_lens.app.cli", "grad", "-"],
        input=json.dumps(worked), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    modules = imported(done.stderr)
    assert "backprop_lens.app.core.gradients" in modules  # the report is read right
    assert web_modules(modules) == set()
    assert "redis" not in modules
    assert json.loads(done.stdout)["cost"] == pytest.approx(0.2983711087600027, rel=1e-12)  # the worked example


def test_help_lists_every_command_without_importing_them() -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "backprop_lens.app.cli", "--help"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    for name in ("serve", "grad", *PLUGINS):
        assert re.search(rf"^\s+{name}\s+\S", done.stdout, flags=re.MULTILINE), name
    modules = imported(done.stderr)
    assert web_modules(modules) == set() and not {module for module, _ in PLUGINS.values()} & modules


def test_each_plugin_is_listed_with_its_own_help() -> None:
    for name, (_, help_text) in PLUGINS.items():
        assert load_plugin(name), name
        assert COMMANDS[name][0] == help_text, name


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (
            {"network": {"sizes": [2, 2], "weights": [[[1, 2], [3, 4]]]}, "inputs": [[1, 2]], "targets": [[1, 1]]},
            ["network.biases: give weights and biases together, or neither"],
        ),
        (
            {"network": {"sizes": [2, 2], "activation": "sigmod"}, "inputs": [[1, "x"]], "targets": [[1, 1]]},
            [
                "network.activation: Input should be 'sigmoid', 'tanh', 'relu' or 'linear'",
                "inputs[0][1]: Input should be a valid number",
            ],
        ),
    ],
)
def test_grad_words_a_bad_request_without_pydantics_prefixes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], request_: dict[str, Any], expected: list[str]
) -> None:
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request_), encoding="utf-8")
    assert main(["grad", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [f"backprop-lens grad: {line}" for line in expected]
    assert captured.out == ""


def test_grad_says_when_the_numbers_overflow(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 39 linear layers of 2 with weights of 10⁶: a^L ≈ 10⁶ · (2·10⁶)³⁸, whose square overflows float64
    layers = 40
    request = {
        "network": {
            "sizes": [2] * layers, "activation": "linear",
            "weights": [[[1e6, 1e6], [1e6, 1e6]]] * (layers - 1), "biases": [[0.0, 0.0]] * (layers - 1),
        },
        "inputs": [[1e6, 1e6]], "targets": [[0.0, 0.0]],
    }  # fmt: skip
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request), encoding="utf-8")
    with using(Settings(max_layers=layers)):
        assert main(["grad", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"backprop-lens grad: network: {OVERFLOW}\n" and captured.out == ""


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "serve" in out and "grad" in out


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment serve sees, without a Redis URL; what serve sets there goes when the test ends."""
    env = {name: value for name, value in os.environ.items() if name != REDIS_URL_VARIABLE}
    monkeypatch.setattr(os, "environ", env)
    return env


def test_serve_defaults(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[dict[str, Any]] = []
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append({"app": app, **kw}))
    assert main([]) == 0
    assert calls == [
        {
            "app": "backprop_lens.app.main:create_app", "factory": True, "host": "127.0.0.1", "port": 8000,
            "workers": 1, "root_path": "", "forwarded_allow_ips": None, "timeout_graceful_shutdown": 5.0,
            "log_config": uvicorn_config("text"), "access_log": False,
        }
    ]  # fmt: skip
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8000/" in out and "one process" in out and "state in memory" in out


def test_serve_passes_the_serving_options_to_uvicorn_and_redis_to_the_app(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], capsys: pytest.CaptureFixture[str], redis_url: str
) -> None:
    calls: list[dict[str, Any]] = []
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append({"app": app, **kw}))
    argv = ["serve", "--workers", "3", "--root-path", "/backprop/", "--forwarded-allow-ips", "10.0.0.1,10.0.0.2",
            "--redis", redis_url, "--graceful-timeout", "2.5", "--port", "9000"]  # fmt: skip
    assert main(argv) == 0
    (call,) = calls
    assert (call["app"], call["factory"]) == ("backprop_lens.app.main:create_app", True)  # each worker makes one
    assert (call["workers"], call["root_path"], call["forwarded_allow_ips"]) == (3, "/backprop", "10.0.0.1,10.0.0.2")
    assert call["timeout_graceful_shutdown"] == 2.5
    assert environ[REDIS_URL_VARIABLE] == redis_url  # what the app processes read (serve checked it answers)
    captured = capsys.readouterr()
    assert "http://127.0.0.1:9000/backprop/" in captured.out and "3 worker processes" in captured.out
    assert f"state in Redis at {redis_url}" in captured.out
    assert captured.err == ""


def test_serve_warns_of_workers_without_redis(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: None)
    assert main(["serve", "--workers", "2"]) == 0
    assert "without --redis" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--workers", "0"], "at least 1"),
        (["--graceful-timeout", "-1"], "at least 0"),
        (["--root-path", "backprop"], "starts with /"),
    ],
)
def test_serve_rejects_bad_options(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["serve", *argv])
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_serve_help_lists_every_serving_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["serve", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for option in ("--host", "--port", "--workers", "--root-path", "--forwarded-allow-ips", "--redis",
                   "--graceful-timeout"):  # fmt: skip
        assert option in out, option
    options = [a for a in _parser("serve")._actions if a.option_strings and a.dest != "help"]
    assert [a.dest for a in options if not (a.help and len(a.help) > 10)] == []


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


@pytest.mark.slow
def test_the_module_runs_as_a_script_with_every_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "backprop_lens.app.cli", "train", "--help"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0 and "--eta" in done.stdout, done.stderr


def test_serve_with_an_unreachable_redis_exits_with_one_line_naming_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as s:  # a free port on which nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("BACKPROP_LENS_REDIS_URL", "")  # recorded, so the URL serve sets is undone after the test
    url = f"redis://:secret@127.0.0.1:{port}/0"
    assert main(["serve", "--redis", url, "--port", "1"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"127.0.0.1:{port}" in err and "unreachable" in err
    assert "secret" not in err


def test_the_redis_url_can_come_from_a_file_so_that_ps_does_not_show_it(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from backprop_lens.app.cli import redis_from_file

    secret = tmp_path / "redis-url"
    secret.write_text("redis://:s3cret@127.0.0.1:1/0\nignored\n", encoding="utf-8")
    assert redis_from_file(str(secret)) == "redis://:s3cret@127.0.0.1:1/0"
    monkeypatch.setenv("BACKPROP_LENS_REDIS_URL_FILE", str(secret))
    assert redis_from_file(None) == "redis://:s3cret@127.0.0.1:1/0"
    monkeypatch.delenv("BACKPROP_LENS_REDIS_URL_FILE")
    assert redis_from_file(None) is None
    assert main(["serve", "--redis-file", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "cannot read the Redis URL from" in err and "missing" in err and "s3cret" not in err
