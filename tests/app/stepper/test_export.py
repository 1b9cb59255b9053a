"""Export for slides: the step's diagram as a standalone SVG, its equation with the numbers as LaTeX.

The SVG must parse as XML on its own, carry its styles and no font to download, and print the same
numbers as the step's diagram on the page. The LaTeX must hold the equation's numbers, checked against
Mazur's hand-worked example (written out here, to the 4 significant digits the panel prints), and be
well formed without a compiler: balanced braces and every \\begin with its \\end.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from backprop_lens.app.core.settings import Settings
from backprop_lens.app.main import create_app
from tests.app.stepper.test_routes import HX, run_id

SVG = "{http://www.w3.org/2000/svg}"
DEEP = {
    "sizes": "2, 4, 4, 4, 4, 4, 4, 2", "activation": "sigmoid", "cost": "quadratic", "x": "0.5, -0.3",
    "y": "0.2, 0.8", "eta": "0.5", "seed": "4",
}  # fmt: skip
# Mazur's example, by hand: δ³ = (a − y) σ′(z³), δ² = (w³)ᵀδ³ ⊙ σ′(z²), ∂C/∂w³₁₁ = a²₁ δ³₁, w³₁₁ after one step.
MAZUR_TEX = {
    4: ["0.1385", "(-0.0381)", "0.008771", "0.009954"],  # BP2: δ³ in, δ² out
    5: ["0.08217", "0.5933", "0.1385"],  # BP3/BP4 of layer 3
    7: ["0.358916", "0.298371", "0.280471"],  # the update and the cost before and after
}


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app())


def diagram_values(fragment: str) -> list[str]:
    """The numbers printed on the diagram of a step fragment, in order."""
    svg = re.search(r'<svg id="net".*?</svg>', fragment, re.DOTALL)
    assert svg
    return re.findall(r'<text class="value [^"]*"[^>]*>([^<]*)</text>', svg.group(0))


def balanced(tex: str) -> bool:
    depth = 0
    for ch in re.sub(r"\\[{}]", "", tex):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def environments_match(tex: str) -> bool:
    stack: list[str] = []
    for kind, name in re.findall(r"\\(begin|end)\{([^}]*)\}", tex):
        if kind == "begin":
            stack.append(name)
        elif not stack or stack.pop() != name:
            return False
    return not stack


@pytest.mark.parametrize(
    "query", ["", urlencode(DEEP), pytest.param(urlencode({**DEEP, "present": "1"}), marks=pytest.mark.slow)]
)
def test_the_svg_stands_alone_and_shows_the_steps_numbers(client: TestClient, query: str) -> None:
    page = client.get(f"/?{query}").text
    rid = run_id(page)
    steps = int(re.search(r'data-steps="(\d+)"', page).group(1))  # type: ignore[union-attr]
    for k in range(steps):
        r = client.get(f"/runs/{rid}/steps/{k}/diagram.svg")
        assert r.status_code == 200 and r.headers["content-type"] == "image/svg+xml"
        assert r.headers["content-disposition"] == f'attachment; filename="diagram-{rid[:8]}-step{k + 1}.svg"'
        assert "style-src 'unsafe-inline'" in r.headers["content-security-policy"]
        root = ET.fromstring(r.content)
        assert root.tag == f"{SVG}svg" and root.get("width") and root.get("height")
        style = root.find(f"{SVG}style")
        assert style is not None and "sans-serif" in (style.text or "")
        assert "@import" not in (style.text or "") and not re.search(r"url\((?!#)", r.text)  # nothing to fetch
        fragment = client.get(f"/runs/{rid}/steps/{k}", headers=HX).text
        shown = [t.text or "" for t in root.iter(f"{SVG}text") if "value" in (t.get("class") or "").split()]
        assert shown == diagram_values(fragment)
        # standing still, a pulse is a stray mark: not drawn, nor said in words; a value beside its circle keeps
        # the white plate it has on the page, which keeps it readable where it crosses an edge
        classes = [(el.get("class") or "").split() for el in root.iter()]
        assert not [c for c in classes if "pulse" in c]
        beside = sum("beside" in c for c in classes)
        assert sum("plate" in c for c in classes) == beside and ".plate" in (style.text or "")
        assert "a dash carries" not in (root.findtext(f"{SVG}desc") or "")
        # the step's title, as the page's status line says it, above the diagram
        status = re.search(
            r'<span class="counter">step (\d+) / (\d+)</span> <strong>([^<]*)</strong>'
            r' <span class="eq-tag">([^<]*)</span>',
            fragment,
        )
        assert status
        number, total, title, equation = status.groups()
        heading = root.find(f"{SVG}text[@class='export-title']")
        assert heading is not None and number == str(k + 1) and total == str(steps)
        iteration = re.search(r'<span class="iteration" id="iteration"[^>]*>iteration (\d+)</span>', page)
        assert iteration
        words = f"Iteration {iteration.group(1)} · Step {number} / {total} · {html.unescape(title)}" + (
            f" ({equation})" if equation else ""
        )
        assert "".join(heading.itertext()) == words  # on one line, or wrapped after a "·" (checked below)
        assert (root.findtext(f"{SVG}title") or "").startswith(f"{words}. ")  # the file's own title says it too
        # one line per scale the step uses (the page's legend marks them active), with the page's words
        legend = re.findall(
            r'<li class="scale scale-(\w+) active"[^>]*>.*?<span class="scale-name">([^<]*)</span>'
            r'.*?<span class="scale-text">([^<]*)</span>',
            fragment,
            re.DOTALL,
        )
        rows = [("".join(t.itertext())) for t in root.iterfind(f".//{SVG}g[@class='export-legend']/{SVG}text")]
        assert rows == [f"{html.unescape(sym)} {html.unescape(text)}" for name, sym, text in legend if name != "pulse"]
        assert rows  # every step uses a scale


def test_the_worked_examples_svg_has_mazurs_numbers(client: TestClient) -> None:
    rid = run_id(client.get("/").text)
    root = ET.fromstring(client.get(f"/runs/{rid}/steps/4/diagram.svg").content)  # BP2
    shown = {t.text for t in root.iter(f"{SVG}text")}
    assert {"0.1385", "−0.0381", "0.008771", "0.009954"} <= shown  # δ³ and δ² by hand, 4 digits


@pytest.mark.parametrize("query", ["", urlencode(DEEP)])
def test_the_latex_is_well_formed_at_every_step(client: TestClient, query: str) -> None:
    page = client.get(f"/?{query}").text
    rid = run_id(page)
    steps = int(re.search(r'data-steps="(\d+)"', page).group(1))  # type: ignore[union-attr]
    for k in range(steps):
        r = client.get(f"/runs/{rid}/steps/{k}/equation.tex")
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-tex")
        assert r.headers["content-disposition"] == f'attachment; filename="equation-{rid[:8]}-step{k + 1}.tex"'
        tex = r.text
        math = tex[tex.index("\\begin{gather*}") : tex.index("\\end{gather*}")]
        assert balanced(tex) and environments_match(tex), tex
        assert "\\begin{gather*}" in tex and "<" not in math and "−" not in math  # TeX's own minus, no markup
        assert "%" not in math  # a comment would swallow the rest of a line


@pytest.mark.parametrize("k", sorted(MAZUR_TEX))
def test_the_latex_holds_the_equations_numbers(client: TestClient, k: int) -> None:
    rid = run_id(client.get("/").text)
    tex = client.get(f"/runs/{rid}/steps/{k}/equation.tex").text
    for number in MAZUR_TEX[k]:
        assert number in tex, (number, tex)


@pytest.mark.parametrize("path", ["/runs/nope/steps/0/diagram.svg", "/runs/nope/steps/0/equation.tex"])
def test_an_unknown_run_is_a_404(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_a_step_out_of_range_is_a_404(client: TestClient) -> None:
    rid = run_id(client.get("/").text)
    for path in ("diagram.svg", "equation.tex"):
        r = client.get(f"/runs/{rid}/steps/8/{path}")
        assert r.status_code == 404 and "there is no step 9" in r.text


def test_the_latex_permalink_is_absolute_under_the_root_path() -> None:
    client = TestClient(create_app(), root_path="/backprop")
    page = client.get("/?" + urlencode(DEEP)).text
    tex = client.get(f"/runs/{run_id(page)}/steps/0/equation.tex").text
    link = tex.splitlines()[1]
    assert link.startswith("% http://testserver/backprop/?sizes=2%2C+4%2C+4"), link
    assert "seed=4" in link


def _row_value(text: str) -> float:
    text = text.strip()
    return -float(text[2:-1]) if text.startswith("(-") else float(text)


def test_long_lines_of_numbers_break_after_an_operator_and_keep_every_term(client: TestClient) -> None:
    """The deep network's eq. 25 has 4 products and a bias on a line (~110 characters in one row): it breaks into a
    split, rows of at most 80 characters each ending at an operator, and its terms still add up to its z."""
    page = client.get("/?" + urlencode(DEEP)).text
    rid = run_id(page)
    splits = 0
    for k in range(23):
        tex = client.get(f"/runs/{rid}/steps/{k}/equation.tex").text
        math = tex[tex.index("\\begin{gather*}") + len("\\begin{gather*}") : tex.index("\\end{gather*}")]
        for block in re.findall(r"\\begin\{split\}\n(.*?)\n\\end\{split\}", math, re.DOTALL):
            splits += 1
            rows = block.split(" \\\\\n")
            assert len(rows) >= 2 and rows[0].count("&=") == 1 and all(r.startswith("&\\quad ") for r in rows[1:])
            assert all(len(r) <= 80 + len("&\\quad ") for r in rows), rows
            assert all(r.rstrip().endswith(("+", "-", "=", "\\cdot", "\\times")) for r in rows[:-1]), rows
        rows = re.sub(r"\\begin\{split\}.*?\\end\{split\}", "", math, flags=re.DOTALL).split("\\\\")
        assert all(len(r.strip()) <= 80 for r in rows), rows
        if k == 2:  # eq. 25 at layer 3: z = Σ w·a + b, from the numbers printed, whatever the rows
            for block in re.findall(r"\\begin\{split\}\n(.*?)\n\\end\{split\}", math, re.DOTALL):
                line = re.sub(r"&\\quad |&| \\\\\n", " ", block)
                rhs, z = line.split("=")[1], line.split("=")[2]
                terms = [t.split("\\cdot") for t in re.split(r" \+ ", " ".join(rhs.split()))]
                total = sum(_row_value(t[0]) * (_row_value(t[1]) if len(t) == 2 else 1.0) for t in terms)
                assert total == pytest.approx(_row_value(z), rel=2e-3, abs=2e-3), line
    assert splits >= 4 * 5  # the five hidden layers' eq. 25 with 4 inputs each, at least


WIDE = {"sizes": "3, 14, 2", "x": "0.1, 0.2, 0.3", "y": "0.2, 0.8", "seed": "1"}


def _written(tex: str, pattern: str) -> set[int]:
    """The neurons j whose line matches ``pattern`` (a regex with one group, j)."""
    return {int(j) for j in re.findall(pattern, tex)}


def test_the_latex_writes_every_neurons_line_of_a_wide_layer(client: TestClient) -> None:
    """3, 14, 2 at eq. 25 of layer 2: the panel shows 4 neurons; the file, meant for a slide, all 14."""
    rid = run_id(client.get("/?" + urlencode(WIDE)).text)
    tex = client.get(f"/runs/{rid}/steps/1/equation.tex").text
    assert _written(tex, r"z\^\{2\}_\{(\d+)\} &?=") == set(range(1, 15))
    assert _written(tex, r"a\^\{2\}_\{(\d+)\} &?=") == set(range(1, 15))
    assert "Left out" not in tex and "the other" not in tex


def test_past_the_limit_the_latex_says_how_many_neurons_it_leaves_out() -> None:
    client = TestClient(create_app(Settings(max_export_neurons=4)))
    rid = run_id(client.get("/?" + urlencode(WIDE)).text)
    tex = client.get(f"/runs/{rid}/steps/1/equation.tex").text
    math = tex[tex.index("\\begin{gather*}") : tex.index("\\end{gather*}")]
    assert _written(math, r"z\^\{2\}_\{(\d+)\} &?=") == {1, 2, 3, 4}
    # visible in the typeset file, 14 − 4 = 10, and said again in a comment
    assert "\\text{… the other 10 neurons of layer 2 are in the page's tables}" in math
    assert "% Left out: the other 10 neurons of layer 2 are in the page's tables." in tex
    for k in (3, 4, 6):  # BP1 at the output (2 neurons: nothing left out), δ² by BP2 and BP3/BP4 of layer 2
        tex = client.get(f"/runs/{rid}/steps/{k}/equation.tex").text
        assert ("the other 10 neurons of layer 2" in tex) == (k != 3), (k, tex)
    # BP4 of layer 3: 2 neurons of 14 inputs, the first 4 (the limit) each written, 2 × 10 counted
    tex = client.get(f"/runs/{rid}/steps/5/equation.tex").text
    assert len(re.findall(r"partial w\^\{3\}_\{\d\d\}\}", tex)) == 2 * 4
    assert "\\text{… the other 20 } \\partial C/\\partial w^{3}_{jk}\\ (k > 4)" in tex
    # eq. 25 of layer 3: 14 inputs, 4 written one by one and the other 10 as one number under a brace
    tex = client.get(f"/runs/{rid}/steps/2/equation.tex").text
    assert tex.count("}_{k=5\\dots14}") == 2


def test_the_latex_of_bp4_writes_every_weight_gradient(client: TestClient) -> None:
    """The deep network's BP3/BP4 at layer 3 (step 21): 4 neurons of 4 inputs. The panel gives each neuron its
    ∂C/∂w of inputs 1 to 3 and says the table has the rest; the file writes all 4 × 4, and every ∂C/∂b."""
    rid = run_id(client.get("/?" + urlencode(DEEP)).text)
    tex = client.get(f"/runs/{rid}/steps/20/equation.tex").text
    math = tex[tex.index("\\begin{gather*}") : tex.index("\\end{gather*}")]
    assert _written(math, r"partial b\^\{3\}_\{(\d)\}\}") == {1, 2, 3, 4}
    weights = re.findall(r"partial w\^\{3\}_\{(\d)(\d)\}\}", math)
    assert sorted(weights) == [(str(j), str(i)) for j in range(1, 5) for i in range(1, 5)]
    assert "Left out" not in tex and "the other" not in math
    assert "On the page" not in tex  # the panel's note that the table has the rest: not so in the file


def test_the_latex_writes_every_updated_weight_and_bias_and_counts_the_rest_past_the_limit() -> None:
    """3, 14, 2 at the update: 14·3 + 14 + 2·14 + 2 = 86 parameters, every one written; with the limit at 4,
    4·3 + 4 + 2·4 + 2 = 26 are written and the other 60 counted, visibly and in a comment."""
    for limit, written in ((64, 86), (4, 26)):
        client = TestClient(create_app(Settings(max_export_neurons=limit)))
        rid = run_id(client.get("/?" + urlencode(WIDE)).text)
        tex = client.get(f"/runs/{rid}/steps/7/equation.tex").text
        math = tex[tex.index("\\begin{gather*}") : tex.index("\\end{gather*}")]
        names = re.findall(r"^(?:\\begin\{split\}\n)?([wb]\^\{\d\}_\{\d+\}) &?=", math, re.MULTILINE)
        assert len(names) == len(set(names)) == written, names
        left = 86 - written
        assert ("the other" in math) == bool(left)
        if left:
            assert f"\\text{{… the other {left} weights and biases are in the page's tables}}" in math
            assert f"% Left out: the other {left} weights and biases are in the page's tables." in tex


WIDE_DEEP = {"sizes": ", ".join(["16"] * 8), "x": ", ".join(["0.1"] * 16), "y": ", ".join(["0.5"] * 16)}


@pytest.mark.parametrize("query", ["", urlencode(DEEP), pytest.param(urlencode(WIDE_DEEP), marks=pytest.mark.slow)])
def test_every_legend_line_fits_the_width_of_the_svg(client: TestClient, query: str) -> None:
    """At every step (the update step of a deep network has the longest, one range per layer): each line of the
    legend, its width estimated as characters × font size × 0.6 from x = 76, ends inside the viewBox, and the
    last line is above its bottom; the lines, joined, still say the page's words (checked above)."""
    page = client.get(f"/?{query}").text
    rid = run_id(page)
    steps = int(re.search(r'data-steps="(\d+)"', page).group(1))  # type: ignore[union-attr]
    wrapped = 0
    for k in range(steps):
        root = ET.fromstring(client.get(f"/runs/{rid}/steps/{k}/diagram.svg").content)
        _, _, width, height = (float(v) for v in (root.get("viewBox") or "").split())
        legend = root.find(f"{SVG}g[@class='export-legend']")
        assert legend is not None
        for text in legend.iterfind(f"{SVG}text"):
            font = float(text.get("font-size") or 0)
            lines = [text.text or ""]
            for span in text:
                if span.get("x") is not None:  # a further line, one row down
                    assert span.get("x") == text.get("x") and float(span.get("dy") or 0) > font
                    lines.append("")
                lines[-1] += (span.text or "") + (span.tail or "")
            wrapped += len(lines) - 1
            for line in lines:
                assert float(text.get("x") or 0) + len(line.rstrip()) * font * 0.6 <= width, (k, line)
            dy = sum(float(s.get("dy") or 0) for s in text)
            assert float(text.get("y") or 0) + dy + font / 2 <= height, k
        title = root.find(f"{SVG}text[@class='export-title']")
        assert title is not None
        title_font = float(title.get("font-size") or 0)
        title_lines = [title.text or "", *(span.text or "" for span in title)]
        assert all(8 + len(t.rstrip()) * title_font * 0.6 <= width for t in title_lines), (k, title_lines)
        assert all(span.get("x") == "8" and float(span.get("dy") or 0) > title_font for span in title)
        below = float(title.get("y") or 0) + sum(float(span.get("dy") or 0) for span in title) + title_font * 0.3
        drawing = root.find(f"{SVG}g[@transform]")
        assert drawing is not None and below <= float((drawing.get("transform") or "")[len("translate(0 ") : -1])
    if query:  # the deep networks' δ ranges, one per layer, take more than one line
        assert wrapped >= 1


def test_the_svgs_title_carries_the_iteration_after_the_next_one(client: TestClient) -> None:
    """Two iterations on, the file says so, in its visible title and in its <title>; the page says the same."""
    rid = run_id(client.get("/").text)
    for _ in range(2):
        r = client.post(f"/runs/{rid}/next", follow_redirects=False)
        assert r.status_code == 303
        rid = r.headers["location"].rsplit("/", 1)[-1]
    assert "iteration 2</span>" in client.get(f"/runs/{rid}").text
    root = ET.fromstring(client.get(f"/runs/{rid}/steps/4/diagram.svg").content)
    heading = root.find(f"{SVG}text[@class='export-title']")
    assert heading is not None and "".join(heading.itertext()).startswith("Iteration 2 · Step 5 / 8 · ")
    assert (root.findtext(f"{SVG}title") or "").startswith("Iteration 2 · Step 5 / 8 · ")
