"""Export for slides: a step's diagram as a standalone SVG file and its equation, with the numbers, as LaTeX.

The SVG is the page's own drawing of the step (``page/_diagram.html``'s ``<svg id="net">``, so every
number, colour and width is the one on screen) with what the page's stylesheet adds to it written into
a ``<style>`` inside: outlines, label colours, the white halo behind values beside their circles, the
pulse as a dash standing half-way along its edge. Fonts are generic (``sans-serif``), so the file looks
the same in any slide program, with nothing to download.

The LaTeX is the equation panel's own TeX (``app.stepper.view.equation``, before it becomes MathML):
the equation, then each line with this example's numbers, in ``gather*`` (amsmath), with the step's
title and words as comments.

Left out: fonts and raster images; the legend (its ranges are in the SVG's description).
"""

from __future__ import annotations

import re

from jinja2 import Environment

from app.core.format import pretty
from app.stepper.view.equation import _KINDS, _Lines  # the panel's TeX, before MathML
from app.stepper.view.model import RunView, StepView
from engine import Trace

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
.pulse { stroke-linecap: round; stroke-dasharray: 9 300; stroke-dashoffset: -45; fill: none; }
"""

_NET = re.compile(r'<svg id="net"(?P<attrs>[^>]*)>(?P<body>.*?)</svg>', re.DOTALL)
_VIEWBOX = re.compile(r'viewBox="0 0 (?P<w>[\d.]+) (?P<h>[\d.]+)"')


def diagram_svg(env: Environment, view: StepView) -> str:
    """The step's diagram as a standalone SVG document (styles inside, generic fonts)."""
    figure = env.get_template("page/_diagram.html").render(view=view)
    m = _NET.search(figure)
    if m is None:  # the template always draws #net; a change there must change this too
        raise RuntimeError('page/_diagram.html drew no <svg id="net">')
    attrs, body = m.group("attrs"), m.group("body")
    size = _VIEWBOX.search(attrs)
    wh = f' width="{size.group("w")}" height="{size.group("h")}"' if size else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="{SVG_NS}" id="net"{attrs}{wh}>\n<style>{SVG_STYLE}</style>'
        f'<rect width="100%" height="100%" fill="#ffffff"/>{body}</svg>\n'
    )


def _comment(text: str) -> str:
    return "\n".join(f"% {line}" for line in text.splitlines() if line.strip())


def equation_tex(t: Trace, k: int, permalink: str) -> str:
    """Step k's equation and its lines with this example's numbers, as a LaTeX fragment (needs amsmath)."""
    r = RunView(t)
    step = t.steps[k]
    lines = _Lines(limit=4)  # the panel's neurons; the others are in the tables, as on the page
    symbolic, words = _KINDS[step.kind](r, step, step.layer or r.L, lines)
    numeric = [" ".join(pieces) for pieces, _ in lines.lines]
    body = " \\\\\n".join([*symbolic, *numeric])
    return (
        f"% backprop-lens: step {k + 1} of {len(t.steps)}, {pretty(step.title)} ({step.equation})\n"
        f"% {permalink}\n"
        "% needs \\usepackage{amsmath}\n"
        f"\\begin{{gather*}}\n{body}\n\\end{{gather*}}\n"
        f"{_comment(pretty(words))}\n"
    )
