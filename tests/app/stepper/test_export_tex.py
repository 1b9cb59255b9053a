"""The LaTeX export adds up: every line's arithmetic, from its printed operands, gives its printed result.

Three networks (2-2-2, Mazur's; 3-4-4-2 with tanh; 2-4-4-4-2 with sigmoid outputs and cross-entropy), every step.
Two independent references, sharing no code with the app:
- a parser written here reads each line ``lhs = a op b op c = r`` (products, sums, differences, σ, tanh) and
  recomputes it with ``decimal`` from the operands as printed; rounded to r's last printed digit, it is r;
- a forward pass, backward pass and update written here in plain NumPy from the run's initial weights give every
  z, a, δ, ∂C/∂b, ∂C/∂w, updated w and b and the cost; each printed result is that value to its printed digits.
The file also writes every line: every ∂C/∂w^l_jk and every updated w and b.
The slow test compiles each step with pdflatex (Debian's texlive-latex-base).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np
import pytest
from fastapi.testclient import TestClient

from backprop_lens.app.main import create_app
from tests.app.stepper.test_routes import run_id

NETWORKS = {
    "2-2-2": {},  # Mazur's worked example, the page's default
    "3-4-4-2": {
        "sizes": "3, 4, 4, 2", "activation": "tanh", "cost": "quadratic", "x": "0.3, -0.7, 0.9", "y": "0, 1",
        "eta": "0.7", "seed": "3",
    },
    "2-4-4-4-2": {
        "sizes": "2, 4, 4, 4, 2", "activation": "sigmoid", "cost": "cross_entropy", "x": "0.5, -0.3",
        "y": "0.2, 0.8", "eta": "3", "seed": "4",
    },
}  # fmt: skip

Vec = np.ndarray[Any, np.dtype[np.float64]]


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app())


@dataclass(frozen=True)
class Run:
    steps: list[str]  # each step's .tex
    values: dict[str, float]  # every quantity by its TeX name, from the NumPy pass below
    sizes: list[int]


def _reference(net: dict[str, Any], x: list[float], y: list[float], cost: str, eta: float) -> dict[str, float]:
    """The book's algorithm in plain NumPy (network.py's backprop for one example), keyed as the TeX names them."""
    ws = [np.array(w, dtype=np.float64) for w in net["weights"]]
    bs = [np.array(b, dtype=np.float64) for b in net["biases"]]
    acts = net["activation"]
    f: dict[str, Callable[[Vec], Vec]] = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh}
    fp: dict[str, Callable[[Vec], Vec]] = {
        "sigmoid": lambda z: f["sigmoid"](z) * (1 - f["sigmoid"](z)),
        "tanh": lambda z: 1 - np.tanh(z) ** 2,
    }
    a: list[Vec] = [np.array(x, dtype=np.float64)]
    zs: list[Vec] = []
    for w, b, act in zip(ws, bs, acts, strict=True):
        zs.append(w @ a[-1] + b)
        a.append(f[act](zs[-1]))
    target = np.array(y, dtype=np.float64)
    L = len(a)
    if cost == "cross_entropy" and acts[-1] == "sigmoid":
        deltas = [a[-1] - target]
    else:
        deltas = [(a[-1] - target) * fp[acts[-1]](zs[-1])]
    for i in range(len(ws) - 1, 0, -1):
        deltas.insert(0, (ws[i].T @ deltas[0]) * fp[acts[i - 1]](zs[i - 1]))
    values: dict[str, float] = {}
    for j, v in enumerate(a[0]):
        values[f"a^{{1}}_{{{j + 1}}}"] = float(v)
    for layer in range(2, L + 1):
        i = layer - 2
        nabla_w = np.outer(deltas[i], a[i])
        for j in range(len(zs[i])):
            values[f"z^{{{layer}}}_{{{j + 1}}}"] = float(zs[i][j])
            values[f"a^{{{layer}}}_{{{j + 1}}}"] = float(a[i + 1][j])
            values[f"\\delta^{{{layer}}}_{{{j + 1}}}"] = float(deltas[i][j])
            values[f"\\frac{{\\partial C}}{{\\partial b^{{{layer}}}_{{{j + 1}}}}}"] = float(deltas[i][j])
            values[f"b^{{{layer}}}_{{{j + 1}}}"] = float(bs[i][j] - eta * deltas[i][j])
            for k in range(len(a[i])):
                name = f"w^{{{layer}}}_{{{j + 1}{k + 1}}}"
                values[f"\\frac{{\\partial C}}{{\\partial {name}}}"] = float(nabla_w[j, k])
                values[name] = float(ws[i][j, k] - eta * nabla_w[j, k])

    def total(ws: list[Vec], bs: list[Vec]) -> float:
        out = np.array(x, dtype=np.float64)
        for w, b, act in zip(ws, bs, acts, strict=True):
            out = f[act](w @ out + b)
        if cost == "quadratic":
            return float(0.5 * np.sum((out - target) ** 2))
        return float(-np.sum(target * np.log(out) + (1 - target) * np.log(1 - out)))

    values["C before"] = total(ws, bs)
    values["C after"] = total(
        [w - eta * np.outer(d, ai) for w, d, ai in zip(ws, deltas, a, strict=False)],
        [b - eta * d for b, d in zip(bs, deltas, strict=True)],
    )
    return values


@pytest.fixture(scope="module", params=sorted(NETWORKS))
def run(request: pytest.FixtureRequest, client: TestClient) -> Run:
    page = client.get("/?" + urlencode(NETWORKS[request.param])).text
    rid = run_id(page)
    steps = int(re.search(r'data-steps="(\d+)"', page).group(1))  # type: ignore[union-attr]
    trace = client.get(f"/runs/{rid}/trace.json").json()
    values = _reference(trace["network"], trace["inputs"][0], trace["targets"][0], trace["cost"], float(trace["eta"]))
    texs = [client.get(f"/runs/{rid}/steps/{k}/equation.tex").text for k in range(steps)]
    return Run(texs, values, trace["network"]["sizes"])


# --- reading the TeX back ---------------------------------------------------------------------------------

NUMBER = re.compile(r"(\d+(?:\.\d+)?)(?: \\times 10\^\{(-?\d+)\})?")


def numeric_lines(tex: str) -> list[str]:
    """The lines of numbers of a step, each on one row again (a ``split``'s rows joined), without the
    equation's symbolic lines (they hold no digit)."""
    math = tex[tex.index("\\begin{gather*}") + len("\\begin{gather*}") : tex.index("\\end{gather*}")]
    math = re.sub(
        r"\\begin\{split\}\n(.*?)\n\\end\{split\}",
        lambda m: re.sub(r"&\\quad |&| \\\\\n", " ", m.group(1)),
        math,
        flags=re.DOTALL,
    )
    rows = [" ".join(r.split()) for r in math.split("\\\\\n")]
    return [r for r in rows if re.search(r"\d\.\d|= -?\d+$", r) or "\\text{: }" in r]


def top_level_split(text: str, sep: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth == 0 and text.startswith(sep, i):
            parts.append(text[start:i])
            start = i + len(sep)
    return [*parts, text[start:]]


class Expr:
    """A recursive-descent reader of a line's right-hand side: numbers, + − × ·, parentheses, σ, tanh, max(0, ·)."""

    def __init__(self, text: str) -> None:
        text = re.sub(r"\\underbrace\{([^{}]*)\}_\{[^{}]*\}", r"\1", text)
        self.tokens: list[str | Decimal] = []
        i = 0
        while i < len(text):
            if text[i] == " ":
                i += 1
                continue
            m = NUMBER.match(text, i)
            if m:
                self.tokens.append(Decimal(m.group(1)).scaleb(int(m.group(2) or 0)))
                i = m.end()
                continue
            for word, token in (("\\cdot", "*"), ("\\times", "*"), ("\\sigma(", "σ("), ("\\tanh(", "tanh("),
                                ("\\max(0,", "max0("), ("+", "+"), ("-", "-"), ("(", "("), (")", ")")):  # fmt: skip
                if text.startswith(word, i):
                    self.tokens.append(token)
                    i += len(word)
                    break
            else:
                raise ValueError(f"cannot read {text[i:]!r}")
        self.at = 0

    def peek(self) -> str | Decimal | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> str | Decimal:
        self.at += 1
        return self.tokens[self.at - 1]

    def value(self) -> Decimal:
        out = self.sum()
        assert self.peek() is None, self.tokens[self.at :]
        return out

    def sum(self) -> Decimal:
        out = self.product()
        while self.peek() in ("+", "-"):
            out = out + self.product() if self.take() == "+" else out - self.product()
        return out

    def product(self) -> Decimal:
        out = self.factor()
        while self.peek() == "*":
            self.take()
            out *= self.factor()
        return out

    def factor(self) -> Decimal:
        token = self.take()
        if isinstance(token, Decimal):
            return token
        if token == "-":
            return -self.factor()
        inner = self.sum()
        assert self.take() == ")"
        if token == "σ(":
            return 1 / (1 + (-inner).exp())
        if token == "tanh(":
            return ((2 * inner).exp() - 1) / ((2 * inner).exp() + 1)
        if token == "max0(":
            return max(Decimal(0), inner)
        assert token == "(", token
        return inner


def printed(text: str) -> tuple[Decimal, int]:
    """A printed number and the power of ten of its last printed digit."""
    text = text.strip()
    m = NUMBER.fullmatch(text.lstrip("-"))
    assert m, text
    mantissa = Decimal(m.group(1))
    exponent = int(m.group(2) or 0)
    value = mantissa.scaleb(exponent)
    return (-value if text.startswith("-") else value), mantissa.as_tuple().exponent + exponent  # type: ignore[operator]


def test_every_line_adds_up_to_its_last_printed_digit(run: Run) -> None:
    checked = 0
    for tex in run.steps:
        for line in numeric_lines(tex):
            if "\\rightarrow" in line:
                continue  # the cost before → after: no arithmetic (checked against NumPy below)
            *_, expression, result = top_level_split(line, " = ")
            if not re.search(r"\\cdot|\\times(?! 10\^)|\\sigma|\\tanh|\\max| [-+] ", expression):
                continue  # a value and its name (∂C/∂b = δ, a¹ = x): nothing to add up
            r, last = printed(result)
            with localcontext() as ctx:
                ctx.prec = 60
                recomputed = Expr(expression).value()
                rounded = recomputed.quantize(Decimal(1).scaleb(last), rounding=ROUND_HALF_EVEN)
            assert rounded == r, (line, recomputed)
            checked += 1
    assert checked >= 10


def test_every_printed_result_is_numpys_value_to_its_digits(run: Run) -> None:
    names: set[str] = set()
    for tex in run.steps:
        for line in numeric_lines(tex):
            if "\\rightarrow" in line:
                before, after = re.fullmatch(r"C\\text\{: \} (\S+) \\rightarrow (\S+)", line).groups()  # type: ignore[union-attr]
                pairs = [("C before", before), ("C after", after)]
            else:
                parts = top_level_split(line, " = ")
                pairs = [(parts[0], parts[-1])]
            for name, text in pairs:
                value, last = printed(text)
                reference = run.values[name]
                assert abs(float(value) - reference) <= 0.5 * 10.0**last + 1e-12 * abs(reference), (line, reference)
                names.add(name)
    assert names == set(run.values)  # every quantity of the iteration is printed somewhere


def test_the_file_writes_every_weight_gradient_and_every_updated_parameter(run: Run) -> None:
    """Every ∂C/∂w^l_jk at its BP3/BP4 step and every w and b at the update: the file's own lines, and nothing
    said to be left out."""
    written = {top_level_split(line, " = ")[0] for tex in run.steps for line in numeric_lines(tex)}
    sizes = run.sizes
    for layer in range(2, len(sizes) + 1):
        for j in range(1, sizes[layer - 1] + 1):
            assert f"b^{{{layer}}}_{{{j}}}" in written
            for k in range(1, sizes[layer - 2] + 1):
                assert f"w^{{{layer}}}_{{{j}{k}}}" in written
                assert f"\\frac{{\\partial C}}{{\\partial w^{{{layer}}}_{{{j}{k}}}}}" in written
    assert not any("Left out" in tex or "the other" in tex for tex in run.steps)


def test_the_issues_update_line_now_adds_up(client: TestClient) -> None:
    """The issue's 0.113091 − 0.5 × 0.0006753 = 0.112754 (it is 0.1127534): the gradient gets the digits it needs.
    Found among the update lines of a seed-0 3-4-4-2 network whatever its numbers: no line has a 4-digit
    gradient that fails."""
    page = client.get("/?" + urlencode({"sizes": "3, 4, 4, 2", "x": "0.1, 0.2, 0.3", "y": "0, 1"})).text
    tex = client.get(f"/runs/{run_id(page)}/steps/10/equation.tex").text
    lines = [line for line in numeric_lines(tex) if "\\rightarrow" not in line]
    assert len(lines) == 3 * 4 + 4 + 4 * 4 + 4 + 4 * 2 + 2
    longer = 0
    for line in lines:
        _, expression, result = top_level_split(line, " = ")
        operands = re.split(r" - | \\times (?!10\^)", expression.replace("(", "").replace(")", ""))
        old, eta, grad = (printed(t)[0] for t in operands)
        r, last = printed(result)
        with localcontext() as ctx:
            ctx.prec = 60
            assert (old - eta * grad).quantize(Decimal(1).scaleb(last), rounding=ROUND_HALF_EVEN) == r, line
        longer += len(grad.as_tuple().digits) > 4
    assert longer >= 1  # some gradient needed more than the panel's 4 digits


@pytest.mark.slow
def test_every_step_compiles_with_pdflatex(run: Run, tmp_path: Path) -> None:
    """One pdflatex run per step, in a document that only adds amsmath (and lets long steps break across pages)."""
    assert shutil.which("pdflatex"), "pdflatex is missing: apt-get install texlive-latex-base (the test command does)"
    for k, tex in enumerate(run.steps):
        (tmp_path / f"eq{k}.tex").write_text(tex, encoding="utf-8")
        (tmp_path / f"doc{k}.tex").write_text(
            "\\documentclass{article}\n\\usepackage{amsmath}\n\\allowdisplaybreaks\n"
            f"\\begin{{document}}\n\\input{{eq{k}.tex}}\n\\end{{document}}\n",
            encoding="utf-8",
        )
        done = subprocess.run(
            ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", f"doc{k}.tex"],
            cwd=tmp_path,
            capture_output=True,
            timeout=60,
            check=False,
        )
        log = (tmp_path / f"doc{k}.log").read_text(encoding="utf-8", errors="replace")
        assert done.returncode == 0 and (tmp_path / f"doc{k}.pdf").stat().st_size > 0, log[-2000:]
        assert "Undefined control sequence" not in log and "Missing $" not in log
        # every row fits the page: nothing sticks out into the margin by more than a hair
        overfull = [float(p) for p in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log)]
        assert all(p < 1.0 for p in overfull), (k, overfull)
