"""The notebooks under docs/notebooks/ run top to bottom in a real kernel (nbclient, this Python's ``python3``
kernel), and their outputs are what a student should see: the MIME types each object displays as (HTML, SVG,
the widget's view with its HTML fallback), and numbers equal to the independent NumPy reference of Mazur's
example (tests/notebooks/mazur.py), δ fading in the deep network, and a digits network that learned."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from tests.notebooks.mazur import reference

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "docs" / "notebooks").glob("*.ipynb"))
WIDGET = "application/vnd.jupyter.widget-view+json"

pytestmark = pytest.mark.slow


def execute(path: Path, cwd: Path) -> Any:
    nb = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]  # nbformat has no hints
    NotebookClient(nb, kernel_name="python3", timeout=60, resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def outputs_of(nb: Any, source: str) -> list[Any]:
    """The outputs of the one code cell whose source starts with ``source``."""
    found = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(source)]
    assert len(found) == 1, f"expected one cell starting with {source!r}, found {len(found)}"
    return list(found[0].outputs)


def shown(outputs: list[Any]) -> dict[str, Any]:
    """The data of a cell's displayed result (its execute_result or display_data)."""
    results = [o for o in outputs if o.output_type in ("execute_result", "display_data")]
    assert len(results) == 1
    return dict(results[0].data)


def printed(outputs: list[Any]) -> str:
    return "".join(o.text for o in outputs if o.output_type == "stream" and o.name == "stdout")


@pytest.fixture(autouse=True)
def _platform_dirs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # jupyter_core warns about its paths' migration otherwise


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_without_errors(path: Path, tmp_path: Path) -> None:
    nb = execute(path, tmp_path)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []


def test_chapter_two_shows_mazurs_numbers_and_the_lessons(tmp_path: Path) -> None:
    nb = execute(ROOT / "docs" / "notebooks" / "chapter2.ipynb", tmp_path)
    r = reference()

    assert shown(outputs_of(nb, "net = Network(")).keys() == {"text/plain", "text/html"}
    summary = shown(outputs_of(nb, "t = trace("))
    assert summary["text/plain"].startswith("Trace(8 steps, 2-2-2, cost=quadratic")
    assert summary["text/html"].count("<li ") == 8

    step = shown(outputs_of(nb, "t.steps[4]"))
    assert step.keys() == {"text/plain", "text/html", "image/svg+xml"}
    for j in range(2):  # the diagram's neurons of layer 2 carry δ², as the engine holds it
        found = re.search(rf'id="[^"]*n-2-{j + 1}"[^>]*data-delta="([^"]+)"', step["image/svg+xml"])
        assert found is not None
        assert float(found.group(1)) == pytest.approx(r["delta2"][j], rel=1e-12)

    tables = shown(outputs_of(nb, "t.gradients"))["text/html"]
    cells = {q: float(v) for q, v in re.findall(r'data-q="([^"]+)" data-value="([^"]+)"', tables)}
    for layer in (2, 3):
        for j in range(2):
            assert cells[f"delta-{layer}-{j + 1}"] == pytest.approx(r[f"delta{layer}"][j], rel=1e-12)
            for k in range(2):
                want = r[f"nabla_w{layer}"][j, k]
                assert cells[f"nabla-w-{layer}-{j + 1}-{k + 1}"] == pytest.approx(want, rel=1e-12)

    widget = shown(outputs_of(nb, "show(net"))
    assert {WIDGET, "text/html", "text/plain"} <= widget.keys()  # the live view, and HTML where widgets can't run
    assert "Input: set a¹ = x" in widget["text/html"]

    lines = printed(outputs_of(nb, "deep = "))
    fading = {int(n): float(v) for n, v in re.findall(r"layer (\d+): mean \|δ\| = (\S+)", lines)}
    assert sorted(fading) == list(range(2, 9))
    assert fading[2] < fading[8] / 100  # the lesson: δ at layer 2 is a small fraction of the output's

    deep_step = shown(outputs_of(nb, "[s for s in deep_trace.steps"))
    assert "Backpropagate the error: δ²" in deep_step["text/plain"]

    before, after = re.findall(r"([\d.]+)%", printed(outputs_of(nb, "from backprop_lens.engine.datasets")))
    assert float(before) < 30 < 85 < float(after)  # chance is 10 %; ten epochs of SGD learn the digits
