"""The bench without its optional dependencies: each affected row names the extra to install, nothing crashes;
and its subprocesses import the installed ``backprop_lens`` from any working directory, without PYTHONPATH.

A missing module is simulated by ``None`` in ``sys.modules`` (an import of it then fails as for an absent one).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from backprop_lens.bench import cli, comparators, page_stream, worker
from backprop_lens.bench.optional import EXTRAS, install_hint, missing, optional
from backprop_lens.bench.report import Row
from backprop_lens.bench.timing import Budget


def hide(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    for module in modules:
        monkeypatch.setitem(sys.modules, module, None)


@pytest.mark.parametrize("module", sorted(EXTRAS))
def test_a_missing_module_names_its_extra(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    hide(monkeypatch, module)
    assert optional(module) is None
    assert missing(module) == f"{module} is not installed: pip install 'backprop-lens[{EXTRAS[module]}]'"


def test_the_bench_extra_is_named_for_the_servers_client() -> None:
    assert install_hint("httpx") == "pip install 'backprop-lens[bench]'"
    assert missing("json") is None


def test_a_gradient_case_without_torch_or_jax_names_their_extras(monkeypatch: pytest.MonkeyPatch) -> None:
    hide(monkeypatch, "torch", "jax")
    case = worker.gradient_case([2, 3, 2], 1, Budget(1e-5, 1, max_calls=2), one_thread=True, gemm_n=8)
    assert case["notes"]["torch"] == "torch is not installed: pip install 'backprop-lens[torch]'"
    assert case["notes"]["jax"] == "jax is not installed: pip install 'backprop-lens[jax]'"
    assert "torch" not in case["seconds"] and "matrix" in case["seconds"]


def test_a_baseline_that_fails_to_load_leaves_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any) -> None:
        raise OSError("libtorch_cpu.so: cannot open shared object file")

    monkeypatch.setattr(worker, "torch_autograd", broken)
    monkeypatch.setattr(worker, "jax_jit", lambda *args: None)
    case = worker.gradient_case([2, 3, 2], 1, Budget(1e-5, 1, max_calls=2), one_thread=True, gemm_n=8)
    assert case["notes"]["torch"] == "not timed: OSError: libtorch_cpu.so: cannot open shared object file"


def test_the_comparators_return_none_without_their_library(monkeypatch: pytest.MonkeyPatch) -> None:
    hide(monkeypatch, "torch", "jax", "jax.numpy")
    net, x, y = worker.case_data([2, 3, 2], 1)
    assert comparators.torch_autograd(net, x, y, True) is None
    assert comparators.jax_jit(net, x, y, True) is None


def test_without_threadpoolctl_the_thread_pools_say_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    hide(monkeypatch, "threadpoolctl")
    (pool,) = worker.blas_info()
    assert pool["num_threads"] == "unknown" and install_hint("threadpoolctl") in pool["note"]
    shown = cli.describe({"cpu": "c", "logical_cpus": 2, "platform": "p", "python": "3", "numpy": "2",
                          "load_average_before": None, "load_average_after": None, "environment": {},
                          "blas": {"one": [pool]}})  # fmt: skip
    assert install_hint("threadpoolctl") in shown


def test_without_httpx_the_server_and_page_rows_name_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    hide(monkeypatch, "httpx")

    def never() -> dict[str, Any]:
        raise AssertionError("measured without httpx")

    def no_rows(figures: dict[str, Any]) -> list[Row]:
        raise AssertionError("rows of figures never measured")

    for part, sections in (("server", ["server", "page"]), ("page-stream", ["page stream"])):
        figures, rows = cli.measured_part(part, never, no_rows)
        assert figures is None and [r.section for r in rows] == sections
        assert all(r.value is None and r.met is None for r in rows)
        assert all(r.note == "not measured: httpx is not installed: pip install 'backprop-lens[bench]'" for r in rows)


def test_the_bench_runs_to_its_table_without_httpx(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    hide(monkeypatch, "httpx")
    result = {"threads": "one", "numpy": "2", "blas": []}
    monkeypatch.setattr(cli, "run_worker", lambda threads, quick: result)
    monkeypatch.setattr(cli, "worker_rows", lambda w: [])
    out = tmp_path / "bench.json"
    assert cli.run(argparse.Namespace(quick=True, skip=[], json=out)) == 0
    assert "not measured: httpx is not installed: pip install 'backprop-lens[bench]'" in capsys.readouterr().out
    assert json.loads(out.read_text(encoding="utf-8"))["raw"]["server"] is None


def test_without_playwright_the_browser_rows_say_so(monkeypatch: pytest.MonkeyPatch) -> None:
    hide(monkeypatch, "playwright", "playwright.sync_api")
    assert page_stream.browser_missing() == "playwright is not installed: pip install 'backprop-lens[test]'"


def test_without_chromium_the_browser_rows_say_so(monkeypatch: pytest.MonkeyPatch) -> None:
    # Playwright is installed with the test extra; it is not hidden here, since a partial re-import of a
    # package already imported by another test module would break it for the rest of the session.
    assert optional("playwright.sync_api") is not None
    monkeypatch.setattr("backprop_lens.bench.chromium.CHROMIUM", "/nonexistent/chromium")
    assert page_stream.browser_missing() == "Chromium is not at /nonexistent/chromium: apt install chromium"


def test_the_worker_is_started_as_the_installed_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    env = cli.worker_environment("one")
    assert env["PYTHONPATH"] == "/elsewhere"  # the caller's, nothing added
    seen: dict[str, Any] = {}

    def run(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        seen.update(cmd=cmd, **kw)
        return subprocess.CompletedProcess(cmd, 0, stdout="{}", stderr="")

    monkeypatch.setattr(subprocess, "run", run)
    assert cli.run_worker("one", quick=True) == {}
    assert seen["cmd"][1:4] == ["-P", "-m", "backprop_lens.bench.worker"] and "cwd" not in seen


@pytest.mark.slow
def test_the_worker_runs_from_any_directory(tmp_path: Path) -> None:
    (tmp_path / "bench").mkdir()  # a folder of the repository's names here would shadow nothing
    (tmp_path / "backprop_lens").mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-P", "-m", "backprop_lens.bench.worker", "--threads", "one", "--quick"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["threads"] == "one" and result["training"]["runs"] >= 3
