"""The README keeps its promises: its two commands open it, .ci/run runs the second, every limit is listed."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

from backprop_lens.app.core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def fenced_commands() -> list[str]:
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", README, flags=re.S)]


def test_readme_opens_with_the_two_commands() -> None:
    first, second = fenced_commands()[:2]
    assert first.startswith("pip install -e .") and "backprop-lens" in first
    assert "python -m pytest" in second and '".[test]"' in second
    before_first_block = README.split("```bash", 1)[0]
    assert before_first_block.count("\n#") == 0  # nothing but the title and the pitch before them


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert fenced_commands()[1] in ci.splitlines()


def test_every_limit_is_listed_with_its_environment_variable() -> None:
    for name, field in Settings.model_fields.items():
        if name.endswith("_dir"):
            continue
        row = next((line for line in README.splitlines() if f"`BACKPROP_LENS_{name.upper()}`" in line), None)
        assert row is not None, f"README lacks the limit {name}"
        shown = "none" if field.default == () else str(field.default)  # an empty list of names
        assert shown.replace("_", "") in row.replace(",", "").replace("_", ""), row


def test_the_checkers_example_prints_what_the_readme_shows() -> None:
    section = README.split("### Check your backprop", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, flags=re.S)
    shown = re.search(r"```text\n(.*?)```", section, flags=re.S)
    assert code is not None and shown is not None
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code.group(1), "README.md", "exec"), {"__name__": "readme"})
    assert out.getvalue() == shown.group(1)
