"""The engine is pure NumPy: nothing under engine/ may import web code."""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parent.parent / "engine"
FORBIDDEN = {"app", "fastapi", "starlette", "jinja2", "pydantic", "uvicorn", "httpx"}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_engine_imports_no_web_code() -> None:
    files = sorted(ENGINE.rglob("*.py"))
    assert files, "engine/ has no Python files"
    offenders = {str(f.relative_to(ENGINE)): imported_roots(f) & FORBIDDEN for f in files}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_check_sees_an_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from fastapi import FastAPI\nimport jinja2.ext\n", encoding="utf-8")
    assert imported_roots(bad) == {"fastapi", "jinja2"}
