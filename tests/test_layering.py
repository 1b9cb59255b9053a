"""The layers: the engine is pure NumPy (no web code); app/ features import the core and the engine, not each other."""

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


# --- app/: features over a shared core ---------------------------------------------------------------

APP = ENGINE.parent / "app"
FEATURES = {"api", "stepper", "instruments", "training", "classroom"}
ALLOWED = {
    # The instruments panel follows the run on screen, so it reads the step-through's run store.
    ("instruments", "app.stepper.runs"),
    # A class session names the lecturer's run: the classroom checks it, keeps it alive and stores it again
    # from its configuration if it expired. The student's page is the step-through's own (a redirect to it).
    ("classroom", "app.stepper.runs"),
}


def app_imports(path: Path) -> set[str]:
    """The app.* modules a file imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("app."))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("app"):
            found.update(f"{node.module}.{a.name}" if node.module == "app" else node.module for a in node.names)
    return found


def test_features_import_the_core_and_the_engine_not_each_other() -> None:
    offenders: dict[str, set[str]] = {}
    for feature in FEATURES:
        for f in sorted((APP / feature).rglob("*.py")):
            foreign = {
                m for m in app_imports(f)
                if m.split(".")[1] in FEATURES - {feature} and (feature, m) not in ALLOWED
            }  # fmt: skip
            if foreign:
                offenders[str(f.relative_to(APP))] = foreign
    assert offenders == {}


def test_the_core_imports_no_feature() -> None:
    files = sorted((APP / "core").rglob("*.py"))
    assert files
    offenders = {str(f.relative_to(APP)): {m for m in app_imports(f) if m.split(".")[1] in FEATURES} for f in files}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_arrow_check_sees_a_feature_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from app.training.store import TrainingStore\nimport app.api.routes\n", encoding="utf-8")
    assert app_imports(bad) == {"app.training.store", "app.api.routes"}
