"""The layers: the engine is pure NumPy (no web code); app/ features import the core and the engine, not each other;
and everything imports the house by its one installed name, ``backprop_lens``."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENGINE = ROOT / "engine"
FORBIDDEN = {"app", "fastapi", "starlette", "jinja2", "pydantic", "uvicorn", "httpx"}
PACKAGE = "backprop_lens."


def imported_modules(path: Path) -> set[str]:
    """Every absolute module a file imports, with the package's own name taken off (``app.core.x``, ``numpy``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.update(
                f"{node.module}.{a.name}" if node.module in {"backprop_lens", "backprop_lens.app"} else node.module
                for a in node.names
            )
    return {m.removeprefix(PACKAGE) for m in found}


def imported_roots(path: Path) -> set[str]:
    return {m.split(".")[0] for m in imported_modules(path)}


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
    # A question asks for a quantity of the lecturer's step: the classroom checks answers with the step-through's
    # own list of what a step computes, and its usual mistakes (pure view code).
    ("classroom", "app.stepper.view.model"),
    ("classroom", "app.stepper.view.quantities"),
}


def app_imports(path: Path) -> set[str]:
    """The app.* modules a file imports."""
    return {m for m in imported_modules(path) if m.startswith("app.")}


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
    bad.write_text(
        "from backprop_lens.app.training.store import TrainingStore\nimport backprop_lens.app.api.routes\n",
        encoding="utf-8",
    )
    assert app_imports(bad) == {"app.training.store", "app.api.routes"}


# --- one import name ----------------------------------------------------------------------------------


def bare_imports(path: Path) -> set[str]:
    """Imports of the house's folders by their repository names (``app``, ``engine``, ``bench``), not the package's."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        found.update(n for n in names if n.split(".")[0] in {"app", "engine", "bench"})
    return found


def test_everything_imports_the_house_by_its_one_name() -> None:
    # A module imported both as app.x and as backprop_lens.app.x would be two modules with two states.
    folders = ("app", "engine", "bench", "backprop_lens", "tests", "scripts")
    files = [f for d in folders for f in (ROOT / d).rglob("*.py")]
    assert len(files) > 100
    offenders = {str(f.relative_to(ROOT)): bare_imports(f) for f in files if not f.is_symlink()}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_name_check_sees_a_bare_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import engine.network\nfrom app.core import forms\nfrom backprop_lens.engine import x\n")
    assert bare_imports(bad) == {"engine.network", "app.core"}
