"""Chapter 2 in a notebook: rich display of the engine's objects, drawn by the page's own view code, no server.

``install()`` registers the renderers with the engine's hooks (``backprop_lens.engine.display``); it imports
nothing heavy, and the view code, Jinja2 and MathML load on the first drawing. Then

* a ``Network`` shows its diagram, edges by weight, and its weights and biases as tables;
* ``Gradients`` show δ, ∂C/∂b and ∂C/∂w per layer as tables;
* a ``Step`` shows its diagram (``_repr_svg_``: the page's ``diagram.svg`` export) and its equation with the
  numbers in MathML (in ``_repr_html_``, beside the diagram);
* a ``Trace`` shows every step's title and the cost before and after the update.

Every output is self-contained, so it survives nbviewer, GitHub and HTML export: styles inside (scoped to the
output), generic fonts, no script and no URL. The ids inside an output carry a prefix made from its content, so
two outputs on one page never share an id (a gradient's ``url(#…)`` finds its own) and the same output is the
same text each time (notebooks diff cleanly). ``show`` opens the interactive step-through (``widget.py``).

Left out: the web app. Nothing here imports FastAPI, Starlette or the app's settings.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from backprop_lens.engine import display as hooks
from backprop_lens.engine.backprop import Gradients
from backprop_lens.engine.costs import Cost
from backprop_lens.engine.network import Network
from backprop_lens.engine.trace import Step, Trace, trace

if TYPE_CHECKING:
    from jinja2 import Environment

    from backprop_lens.app.stepper.view.model import StepView
    from backprop_lens.widget import StepThrough

Array = NDArray[np.float64]
RUN_ID = "notebook"  # the view's run id; only the page's URLs use it
MAX_ROWS, MAX_COLUMNS = 16, 10  # of a table in an output; the rest is counted in a note


def install() -> None:
    """Let the engine's objects display richly in a notebook. Cheap: it only registers functions."""
    hooks.register("network", "text/html", network_html)
    hooks.register("gradients", "text/html", gradients_html)
    hooks.register("step", "text/html", _step_html)
    hooks.register("step", "image/svg+xml", _step_svg)
    hooks.register("trace", "text/html", trace_html)


def show(
    net: Network | Trace,
    x: Any = None,
    y: Any = None,
    cost: str | Cost = "quadratic",
    eta: float = 0.5,
    start: int = 0,
) -> StepThrough:
    """The step-through of one iteration on (x, y) as a widget, every number computed in this kernel.

    ``show(net, x, y)`` traces the network first; ``show(trace)`` steps through a trace already made.
    Needs anywidget: ``pip install 'backprop-lens[notebook]'``.
    """
    from backprop_lens.widget import StepThrough  # raises ImportError naming the extra without anywidget

    if isinstance(net, Trace):
        return StepThrough(net, start=start)
    if x is None or y is None:
        raise ValueError("show(net, x, y): give the input x and the target y (or pass a trace alone)")
    return StepThrough(trace(net, x, y, cost=cost, eta=eta), start=start)


# --- the page's templates and styles, loaded on the first drawing ------------------------------------------


@cache
def environment() -> Environment:
    """Jinja2 over the package's templates with the app's shared filters (``make_templates``'s, without FastAPI)."""
    from jinja2 import Environment, FileSystemLoader

    from backprop_lens.app.core.format import detail, exact, fmt, sub, sup
    from backprop_lens.app.core.mathml import mathml, mathml_line, prose_math

    env = Environment(loader=FileSystemLoader(str(files("backprop_lens") / "templates")), autoescape=True)
    env.filters.update(num=fmt, exact=exact, detail=detail, prose_math=prose_math)
    env.globals.update(root="", sub=sub, sup=sup, mathml=mathml, mathml_line=mathml_line)
    return env


@cache
def stylesheet() -> str:
    """``static/css/widget.css``: the page's look for the widget and the HTML outputs, every rule under ``.bpl``."""
    return (files("backprop_lens") / "static" / "css" / "widget.css").read_text(encoding="utf-8")


def _digest(text: str) -> str:
    return "bpl" + hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:8] + "-"


_ID = re.compile(r'\b(id|aria-labelledby|aria-describedby)="([^"]+)"')
_URL = re.compile(r"url\(#([^)]+)\)")


def unique_ids(markup: str, prefix: str) -> str:
    """``markup`` with every id (and every reference to one) prefixed, so that it can share a page."""
    markup = _ID.sub(lambda m: f'{m.group(1)}="{" ".join(prefix + v for v in m.group(2).split())}"', markup)
    return _URL.sub(lambda m: f"url(#{prefix}{m.group(1)})", markup)


_RULE = re.compile(r"^([^{}\n]+)\{", re.MULTILINE)


def _scoped(css: str, root: str) -> str:
    """Flat CSS rules made to apply inside ``#root`` only (``svg`` itself becomes the root)."""

    def scope(m: re.Match[str]) -> str:
        selectors = [s.strip() for s in m.group(1).split(",")]
        return ", ".join(f"#{root}" if s == "svg" else f"#{root} {s}" for s in selectors) + " {"

    return _RULE.sub(scope, css)


def _html(body: str) -> str:
    """An HTML output: its markup with the stylesheet inside, under a wrapper that scopes it."""
    return f'<div class="bpl bpl-output"><style>{stylesheet()}</style>{body}</div>'


# --- steps -----------------------------------------------------------------------------------------------------


def step_view(t: Trace, k: int) -> StepView:
    """Step k of ``t`` as the page's view code sees it."""
    from backprop_lens.app.stepper.view import step_view as view_at

    return view_at(RUN_ID, t, k)


def diagram_svg(view: StepView) -> str:
    """The step's diagram as a standalone SVG: the page's ``diagram.svg`` export, its style scoped to it."""
    from backprop_lens.app.stepper.view.export import SVG_STYLE
    from backprop_lens.app.stepper.view.export import diagram_svg as export_svg

    svg = export_svg(environment(), view)
    prefix = _digest(svg)
    scoped = _scoped(SVG_STYLE, prefix + "net")
    return unique_ids(svg, prefix).replace(f"<style>{SVG_STYLE}</style>", f"<style>{scoped}</style>")


_EQUATION = """\
<section class="bpl-equation" data-step="{{ view.k }}">
<h4><span class="bpl-tag">{{ view.step.equation }}</span> {{ view.title }}</h4>
<div class="bpl-symbolic">{% for m in view.equation.symbolic %}{{ m }}{% endfor %}</div>
<div class="bpl-numeric">{% for m, ids in view.equation.numeric %}<div class="bpl-line">{{ m }}</div>{% endfor %}</div>
{%- if view.equation.more %}<p class="bpl-more">{{ view.equation.more }}</p>{% endif %}
<p class="bpl-words">{{ view.equation.words }}</p>
</section>"""


def equation_html(view: StepView) -> str:
    """The equation panel of the page for this step: the equation, its lines with the numbers (MathML), words."""
    return environment().from_string(_EQUATION).render(view=view)


def _trace_of(step: Step) -> Trace | None:
    owner = hooks.owner_of(step)
    return owner if isinstance(owner, Trace) else None


def step_html(t: Trace, k: int) -> str:
    """Step k as an HTML output: the diagram beside the equation with this example's numbers."""
    view = step_view(t, k)
    svg = diagram_svg(view).split("?>", 1)[-1]  # inside HTML, without the XML declaration
    return _html(f'<div class="bpl-panels"><div class="bpl-figure">{svg}</div>{equation_html(view)}</div>')


def _step_html(step: Step) -> str | None:
    t = _trace_of(step)
    return None if t is None else step_html(t, step.index)


def _step_svg(step: Step) -> str | None:
    t = _trace_of(step)
    return None if t is None else diagram_svg(step_view(t, step.index))


def widget_step(t: Trace, k: int) -> dict[str, str]:
    """What the widget shows at step k: the page's figure (with its moving pulses and legend), the equation."""
    view = step_view(t, k)
    figure = environment().get_template("page/_diagram.html").render(view=view)
    return {
        "diagram": unique_ids(figure, _digest(figure)),
        "equation": equation_html(view),
        "title": f"{view.title} ({view.step.equation})",
        "short": view.marks[k][1],
        "phase": view.phase,
    }


# --- tables ------------------------------------------------------------------------------------------------

_TABLES = """\
{%- for table in tables %}
<table class="bpl-table" data-table="{{ table.id }}">
<caption>{{ table.caption }}</caption>
<thead><tr><th scope="col">{{ table.corner }}</th>
{%- for c in table.columns %}<th scope="col">{{ c }}</th>{% endfor %}</tr></thead>
<tbody>
{%- for head, cells in table.rows %}
<tr><th scope="row">{{ head }}</th>
{%- for q, v in cells %}<td data-q="{{ q }}" data-value="{{ v|exact }}">{{ v|detail }}</td>{% endfor %}</tr>
{%- endfor %}
</tbody>
</table>
{%- if table.note %}<p class="bpl-note">{{ table.note }}</p>{% endif %}
{%- endfor %}"""


def _table(id: str, caption: str, columns: list[tuple[str, str, Array]], n: int) -> dict[str, Any]:
    """A table of ``n`` rows (neurons j): each column a (head, quantity, values), one value per row; the
    quantity names the cell for machines ("delta-2-{j}" becomes data-q="delta-2-1" in row 1)."""
    shown = columns[:MAX_COLUMNS]
    rows = [
        (str(j + 1), [(q.format(j=j + 1), float(values[j])) for _, q, values in shown]) for j in range(min(n, MAX_ROWS))
    ]
    left = [f"{n - MAX_ROWS} more rows"] if n > MAX_ROWS else []
    left += [f"{len(columns) - MAX_COLUMNS} more columns"] if len(columns) > MAX_COLUMNS else []
    note = f"Left out: {' and '.join(left)} (the arrays hold every number)." if left else ""
    return {"id": id, "caption": caption, "corner": "neuron j", "columns": [c for c, _, _ in shown],
            "rows": rows, "note": note}  # fmt: skip


def _tables_html(tables: list[dict[str, Any]]) -> str:
    return environment().from_string(_TABLES).render(tables=tables)


def gradients_html(g: Gradients) -> str:
    """δ, ∂C/∂b and ∂C/∂w of every layer, one table per layer (δ of the first examples of the batch)."""
    from backprop_lens.app.core.format import sub, sup

    tables = []
    m = g.deltas[0].shape[0]
    for i, (delta, nb, nw) in enumerate(zip(g.deltas, g.nabla_b, g.nabla_w, strict=True)):
        layer = i + 2
        examples = min(m, 3)
        deltas = [
            (f"δ{sup(layer)} (example {e + 1})" if m > 1 else f"δ{sup(layer)}",
             f"delta-{layer}-{{j}}" + (f"-x{e + 1}" if m > 1 else ""), delta[e])
            for e in range(examples)
        ]  # fmt: skip
        weights = [
            (f"∂C/∂w{sup(layer)}ⱼ{sub(k + 1)}", f"nabla-w-{layer}-{{j}}-{k + 1}", nw[:, k]) for k in range(nw.shape[1])
        ]
        columns = [*deltas, (f"∂C/∂b{sup(layer)}", f"nabla-b-{layer}-{{j}}", nb), *weights]
        mean = f"; ∂C/∂b and ∂C/∂w are means over the batch of {m}" if m > 1 else ""
        caption = f"Layer {layer}: δ (BP1, BP2), ∂C/∂b (BP3), ∂C/∂w (BP4){mean}"
        tables.append(_table(f"layer-{layer}", caption, columns, nb.shape[0]))
    head = f'<p class="bpl-head">Gradients of C = {_fmt(g.cost)} (mean over {m} example{"s" if m != 1 else ""})</p>'
    return _html(head + _tables_html(tables))


def _fmt(v: float) -> str:
    from backprop_lens.app.core.format import detail

    return detail(v)


# --- the network and the trace -----------------------------------------------------------------------------

_TITLE = re.compile(r'(<text class="export-title"[^>]*>)[^<]*(</text>)')


def network_svg(net: Network) -> str:
    """The network's diagram, edges drawn by weight (green +, dashed purple −, width ∝ |w|), no input yet."""
    from markupsafe import escape

    t = trace(net, np.zeros((1, net.sizes[0])), np.zeros((1, net.sizes[-1])))
    view = step_view(t, 0)
    neurons = [
        replace(n, value=None, data=(), info=f"Neuron {n.j} of layer 1 (input)") if n.layer == 1 else n
        for n in view.diagram.neurons
    ]
    title = f"A {'-'.join(map(str, net.sizes))} network: its weights"
    diagram = replace(view.diagram, neurons=neurons, title=title, description=f"{title}; edges by their weight w.")
    scales = [replace(e, active=e.scale.name == "w") for e in view.scales]
    svg = diagram_svg(replace(view, diagram=diagram, scales=scales))
    return _TITLE.sub(lambda m: f"{m.group(1)}{escape(repr(net))}{m.group(2)}", svg, count=1)


def network_html(net: Network) -> str:
    """The diagram, then w^l and b^l of every layer as tables (row j: the weights into neuron j)."""
    from backprop_lens.app.core.format import sub, sup

    tables = [
        _table(
            f"w-{i + 2}",
            f"w{sup(i + 2)} and b{sup(i + 2)}: row j holds the weights into neuron j of layer {i + 2}",
            [(f"w{sup(i + 2)}ⱼ{sub(k + 1)}", f"w-{i + 2}-{{j}}-{k + 1}", w[:, k]) for k in range(w.shape[1])]
            + [(f"b{sup(i + 2)}", f"b-{i + 2}-{{j}}", b)],
            b.shape[0],
        )
        for i, (w, b) in enumerate(zip(net.weights, net.biases, strict=True))
    ]
    svg = network_svg(net).split("?>", 1)[-1]
    return _html(f'<div class="bpl-figure">{svg}</div><div class="bpl-tables">{_tables_html(tables)}</div>')


_TRACE = """\
<p class="bpl-head">One iteration of backpropagation on a {{ sizes }} network, {{ t.cost }} cost, η = {{ t.eta }}:
C = {{ t.cost_before|detail }} before the update, {{ t.cost_after|detail }} after.</p>
<ol class="bpl-steps" start="0">
{%- for s in t.steps %}
<li data-step="{{ s.index }}"><span class="bpl-tag">{{ s.equation }}</span> {{ s.title }}</li>
{%- endfor %}
</ol>
<p class="bpl-hint">Show one: <code>trace.steps[k]</code>;
step through them all: <code>backprop_lens.show(trace)</code>.</p>"""


def trace_html(t: Trace) -> str:
    """A summary: the network, the cost before and after the update, and every step's title with its equation."""
    body = environment().from_string(_TRACE).render(t=t, sizes="-".join(map(str, t.network.sizes)))
    return _html(body)
