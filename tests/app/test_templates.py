"""One naming rule for templates: a page extends ``base.html`` and its name has no underscore; a fragment (included,
imported for its macros, or swapped in by htmx) starts with ``_``. Read from the files, so a new template that
breaks the rule fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from backprop_lens.app.instruments.registry import INSTRUMENTS

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
ALL = sorted(p.relative_to(TEMPLATES).as_posix() for p in TEMPLATES.rglob("*.html"))
EXTENDS = re.compile(r"""\{%-?\s*extends\s+["']([^"']+)["']""")
USES = re.compile(r"""\{%-?\s*(?:include|import|from)\s+["']([^"']+)["']""")


def test_there_are_pages_and_fragments() -> None:
    assert "base.html" in ALL and "page/page.html" in ALL and "train/_run.html" in ALL


@pytest.mark.parametrize("name", [n for n in ALL if n != "base.html"])
def test_a_page_extends_base_and_a_fragment_starts_with_an_underscore(name: str) -> None:
    text = (TEMPLATES / name).read_text(encoding="utf-8")
    parents = EXTENDS.findall(text)
    if Path(name).name.startswith("_"):
        assert parents == [], f"{name} is a fragment: it extends nothing"
    else:
        assert parents == ["base.html"], f"{name} is a page: it extends base.html (or, as a fragment, starts with _)"


def test_what_a_template_includes_or_imports_is_a_fragment_that_exists() -> None:
    for name in ALL:
        for used in USES.findall((TEMPLATES / name).read_text(encoding="utf-8")):
            assert used in ALL, f"{name} uses {used}, which does not exist"
            assert Path(used).name.startswith("_"), f"{name} uses {used}: a fragment's name starts with _"


def test_every_template_the_app_names_exists() -> None:
    named = set()
    for source in (ROOT / "app").rglob("*.py"):
        named |= set(re.findall(r"""["']((?:page|train|docs|instruments)/[\w./-]+\.html)["']""", source.read_text()))
    assert named, "the app renders templates by name"
    assert sorted(n for n in named if n not in ALL) == []


def test_every_instrument_has_its_fragment() -> None:
    assert [i.name for i in INSTRUMENTS if f"instruments/_{i.name}.html" not in ALL] == []
