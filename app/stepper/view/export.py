"""Export for slides: a step's diagram as a standalone SVG file and its equation, with the numbers, as LaTeX.

The SVG is the page's own drawing of the step (``page/_diagram.html``'s ``<svg id="net">``, so every
number, colour and width is the one on screen) with what the page's stylesheet adds to it written into
a ``<style>`` inside (outlines, label colours, the white plate under a value beside its circle, which
keeps it readable where it crosses an edge, as on the page),
under the step's title with its iteration ("Iteration 3 · Step 5 / 8 · Backpropagate the error: δ² (BP2)"; the
same words in its ``<title>``) and over one line per scale
the step uses (its swatch and its range in words, as the page's legend has them), wrapped onto further lines
within the drawing's width (a deep network's δ has a range per layer), estimated as the diagram estimates its text.
The moving pulses are left out: standing still they read as stray marks. Fonts are generic
(``sans-serif``), so the file looks the same in any slide program, with nothing to download.

The LaTeX is the equation panel's own TeX (``app.stepper.view.equation``, before it becomes MathML):
the equation, then each line with this example's numbers, in ``gather*`` (amsmath), with the step's
title and words as comments. Unlike the panel (a screen's worth), it writes every line the step has up to
``max_export_neurons`` (neurons of a layer, inputs of a neuron): every z and a, every δ, every ∂C/∂b and
∂C/∂w^l_jk, every updated w and b. A sum with more terms than that writes the others as one number under a
brace; whatever else is left out it says in a visible ``\\text`` line with the count, and in a comment.

Numbers that add up: every line's printed result follows from its printed operands to the last printed
digit. The result is the engine's value at the panel's digits (4 significant, 6 for the update and the cost);
the operands of a line get more significant digits, all alike, until the line's arithmetic on them as printed
(products, sums, σ, tanh), rounded half to even to the result's digits, gives that result (``_Lines.calc``).
Only if 17 digits (the engine's floats themselves) are not enough is the result printed as rounded from the
printed operands instead.

Left out: fonts and raster images; the pulses (the page's animation) and the scale of w·δ they carry.
"""

from __future__ import annotations

import re

from jinja2 import Environment
from markupsafe import escape

from backprop_lens.app.core.format import pretty
from backprop_lens.app.stepper.view.colours import Scale
from backprop_lens.app.stepper.view.equation import _KINDS, _Lines  # the panel's TeX, before MathML
from backprop_lens.app.stepper.view.layout import text_width
from backprop_lens.app.stepper.view.model import RunView, StepView
from backprop_lens.engine import Trace

SVG_NS = "http://www.w3.org/2000/svg"
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'"
"""The file's own policy, opened from the server: its one <style> and nothing else (the page's forbids inline style)."""

# What static/css/lens.css does to the diagram, with its custom properties written out.
SVG_STYLE = """
svg { font-family: sans-serif; background: #ffffff; }
text { font-family: sans-serif; }
.layer-label { font-weight: 700; fill: #1d2329; }
.layer-sub { fill: #59636e; }
.gap { font-size: 13px; fill: #59636e; paint-order: stroke; stroke: #ffffff; stroke-width: 3px; }
.neuron circle { stroke: #1d2329; stroke-width: 1.5; }
.neuron.pending circle { stroke: #8c959f; stroke-dasharray: 3 3; }
.neuron.current circle { stroke-width: 3.5; }
.neuron text { font-variant-numeric: tabular-nums; font-weight: 600; }
.neuron text.beside { paint-order: stroke; stroke: #ffffff; stroke-width: 3px; stroke-linejoin: round; }
.neuron .plate { fill: #ffffff; opacity: 0.88; }
.edge.dim .wire, .dim.wire { opacity: 0.3; }
.edge .hit { display: none; }
.export-title { font-weight: 700; fill: #1d2329; }
.export-legend text { fill: #1d2329; }
.export-legend .symbol { font-weight: 700; }
"""

_NET = re.compile(r'<svg id="net"(?P<attrs>[^>]*)>(?P<body>.*?)</svg>', re.DOTALL)
_VIEWBOX = re.compile(r'viewBox="0 0 (?P<w>[\d.]+) (?P<h>[\d.]+)"')
_SIZE = re.compile(r'\s(?:width|height)="[^"]*"')  # the page's own size in px; the file's grows by title and legend
_STILL = re.compile(r'\s*<line id="p[^"]*" class="pulse[^>]*/>')
"""A pulse (a dash the page moves along its edge; standing still it reads as a stray mark)."""
_PULSE_WORDS = re.compile(r"; a dash carries [^;<]*")  # the description's words for the pulses left out
_TITLE = re.compile(r"(<title[^>]*>)(.*?</title>)", re.DOTALL)
_LABELS = re.compile(r"\s*<title[^>]*>.*?</title>\s*<desc[^>]*>.*?</desc>", re.DOTALL)


def _swatch(scale: Scale, x: float, y: float, h: float) -> str:
    """The scale's swatch, 60 wide, as the page's legend draws it: w's two strokes, or the colour ramp."""
    if scale.name == "w":
        return (
            f'<line x1="{x}" y1="{y}" x2="{x + 26}" y2="{y}" stroke="{scale.stops[1]}" stroke-width="3"/>'
            f'<line x1="{x + 34}" y1="{y}" x2="{x + 60}" y2="{y}" stroke="{scale.stops[0]}" stroke-width="3"'
            ' stroke-dasharray="7 4"/>'
        )
    stops = "".join(f'<stop offset="{off}" stop-color="{c}"/>' for off, c in scale.gradient_stops())
    return (
        f'<defs><linearGradient id="export-{scale.name}">{stops}</linearGradient></defs>'
        f'<rect x="{x}" y="{y - h / 2}" width="60" height="{h}" fill="url(#export-{scale.name})"'
        ' stroke="#666666" stroke-width="0.5"/>'
    )


LEGEND_X = 76
"""Where a legend line's words start, right of its 60-wide swatch."""


def _legend_lines(text: str, room: float, font_size: float) -> list[str]:
    """``text`` in lines that each fit ``room`` (by the diagram's own ``text_width``, on the wide side), broken
    after a "," or "·" where one will do, else after a space; the lines, joined, are ``text`` again."""
    pieces: list[str] = []
    for part in re.split(r"(?<=[,·] )", text):
        pieces += re.split(r"(?<= )", part) if text_width(part.rstrip(), font_size) > room else [part]
    lines = [""]
    for piece in pieces:
        if lines[-1] and text_width((lines[-1] + piece).rstrip(), font_size) > room:
            lines.append("")
        lines[-1] += piece
    return lines


def diagram_svg(env: Environment, view: StepView, iteration: int | None = None) -> str:
    """The step's diagram as a standalone SVG document (styles inside, generic fonts), with its title (and the
    run's ``iteration``, when known) above and the scales it uses below."""
    figure = env.get_template("page/_diagram.html").render(view=view)
    m = _NET.search(figure)
    size = _VIEWBOX.search(m.group("attrs")) if m else None
    if m is None or size is None:  # the template always draws #net with its viewBox; a change there must change this
        raise RuntimeError('page/_diagram.html drew no <svg id="net" viewBox="0 0 w h">')
    width, height = float(size.group("w")), float(size.group("h"))
    body = _STILL.sub("", m.group("body"))
    labels = _LABELS.match(body)
    head = _PULSE_WORDS.sub("", labels.group(0)) if labels else ""
    body = body[labels.end() :] if labels else body
    title_font = max(15.0, round(width / 40, 1))
    legend_font = round(title_font * 0.8, 1)
    equation = f" ({view.step.equation})" if view.step.equation else ""
    at = "" if iteration is None else f"Iteration {iteration} · "
    title = f"{at}Step {view.k + 1} / {view.steps} · {view.title}{equation}"
    # the title wraps as the legend does (after a "·"), on as many lines as the drawing's width needs
    title_first, *title_more = _legend_lines(title, width - 16, title_font)
    title_row = round(title_font * 1.3, 1)
    top = round(title_font * 2 + title_row * len(title_more), 1)  # the title's band
    row = round(legend_font * 1.6, 1)
    scales = [e for e in view.scales if e.active and e.scale.name != "pulse"]
    rows = []
    line = 0  # legend lines so far: a scale's words wrap onto further lines within the width
    for e in scales:
        y = round(top + height + row * (line + 0.5), 1)
        first, *more = _legend_lines(f"{e.scale.symbol} {e.text}", width - LEGEND_X - 8, legend_font)
        rest = "".join(f'<tspan x="{LEGEND_X}" dy="{row}">{escape(text)}</tspan>' for text in more)
        rows.append(
            f"{_swatch(e.scale, 8.0, y, round(legend_font * 0.8, 1))}"
            f'<text x="{LEGEND_X}" y="{y}" dominant-baseline="central" font-size="{legend_font}">'
            f'<tspan class="symbol">{escape(e.scale.symbol)}</tspan>{escape(first[len(e.scale.symbol) :])}{rest}</text>'
        )
        line += 1 + len(more)
    total = round(top + height + row * line + (row * 0.4 if scales else 0), 1)
    title_rest = "".join(f'<tspan x="8" dy="{title_row}">{escape(t)}</tspan>' for t in title_more)
    if iteration is not None:  # the file's own title, which a slide program or a screen reader names it by
        head = _TITLE.sub(lambda t: f"{t.group(1)}{escape(title)}. {t.group(2)}", head, count=1)
    attrs = _VIEWBOX.sub(f'viewBox="0 0 {size.group("w")} {total:g}"', _SIZE.sub("", m.group("attrs")))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="{SVG_NS}" id="net"{attrs} width="{size.group("w")}" height="{total:g}">{head}\n'
        f"<style>{SVG_STYLE}</style>"
        f'<rect width="100%" height="100%" fill="#ffffff"/>\n'
        f'<text class="export-title" x="8" y="{round(title_font * 1.24, 1)}" font-size="{title_font}">'
        f"{escape(title_first)}{title_rest}</text>\n"
        f'<g transform="translate(0 {top:g})">{body}</g>\n'
        f'<g class="export-legend">{"".join(rows)}</g>\n</svg>\n'
    )


def _comment(text: str) -> str:
    return "\n".join(f"% {line}" for line in text.splitlines() if line.strip())


WRAP = 80
"""Characters of TeX a line of numbers may have in one row; a longer one breaks after an operator, as on the page."""


def _wrapped(pieces: list[str]) -> str:
    """A line of numbers (pieces that each end at an operator) in one row, or, past WRAP, in an amsmath ``split``:
    rows broken after an operator, aligned at the line's first ``=``, each further row indented."""
    text = " ".join(pieces)
    if len(text) <= WRAP:
        return text
    rows: list[list[str]] = [[]]
    for piece in pieces:
        if rows[-1] and len(" ".join([*rows[-1], piece])) > WRAP:
            rows.append([])
        rows[-1].append(piece)
    first, *rest = (" ".join(row) for row in rows)
    depth, at = 0, -1
    for i, ch in enumerate(first):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if ch == "=" and depth == 0:
            at = i
            break
    first = f"{first[:at]}&{first[at:]}" if at >= 0 else f"&{first}"
    return "\\begin{split}\n" + " \\\\\n".join([first, *(f"&\\quad {row}" for row in rest)]) + "\n\\end{split}"


def equation_tex(t: Trace, k: int, permalink: str, max_neurons: int) -> str:
    """Step k's equation and its lines with this example's numbers, as a LaTeX fragment (needs amsmath).

    Every line, up to ``max_neurons`` neurons of a layer and inputs of a neuron (the app's ``max_export_neurons``:
    a slide file has no screen to fill), with digits that add up (see the module's docstring); what is left
    out past that is said in a last visible line with its count, and the page's own words on it as a comment."""
    r = RunView(t)
    step = t.steps[k]
    lines = _Lines(max_neurons, every=True)
    symbolic, words = _KINDS[step.kind](r, step, step.layer or r.L, lines)
    numeric = [_wrapped(pieces) for pieces, _, _ in lines.lines]
    said = lines.left_out
    numeric += [text for text, _ in said]
    body = " \\\\\n".join([*symbolic, *numeric])
    more = "".join(f"\n% Left out: {note}." for _, note in said)
    page = f"\n{_comment('On the page: ' + pretty(lines.more))}" if lines.more else ""
    return (
        f"% backprop-lens: step {k + 1} of {len(t.steps)}, {pretty(step.title)} ({step.equation})\n"
        f"% {permalink}\n"
        "% needs \\usepackage{amsmath}\n"
        f"\\begin{{gather*}}\n{body}\n\\end{{gather*}}\n"
        f"{_comment(pretty(words))}{more}{page}\n"
    )
