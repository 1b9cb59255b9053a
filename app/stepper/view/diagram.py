"""The diagram at step k: every drawn neuron, edge and pulse with its colour and read-out, and the legend."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from backprop_lens.app.core.format import detail, exact, fmt, pretty, sub, sup
from backprop_lens.app.stepper.view.colours import NEUTRAL, PENDING, W_NEGATIVE, W_POSITIVE, Scale
from backprop_lens.app.stepper.view.layout import (
    FORWARD_PULSE,
    PULSE_COLOUR,
    PULSE_WIDTH,
    Box,
    Spot,
    layer_labels,
    place_values,
    text_width,
)
from backprop_lens.app.stepper.view.model import (
    EDGES_FOCUSABLE,
    MAX_DRAWN,
    MAX_HEIGHT,
    MAX_WIDTH,
    MIN_HEIGHT,
    PHASES,
    Diagram,
    EdgeView,
    GapView,
    LegendEntry,
    NeuronView,
    PulseView,
    RunView,
    drawn,
)
from backprop_lens.engine import Step

Array = NDArray[np.float64]


def _neuron_info(r: RunView, layer: int, j: int, k: int) -> str:
    """The read-out of a neuron (hover, focus, tap): what the algorithm has computed by step k."""
    name = f"Neuron {j + 1} of layer {layer}"
    if layer == 1:
        return f"{name} (input): a{sup(1)}{sub(j + 1)} = x{sub(j + 1)} = {detail(r.a[1][j])}"
    parts = []
    if r.seen(r.timeline.a, layer, k):
        parts += [f"z = {detail(r.z[layer][j])}", f"a = {detail(r.a[layer][j])}"]
    else:
        parts.append("z and a not yet computed")
    if r.seen(r.timeline.delta, layer, k):
        parts += [f"σ′(z) = {detail(r.sp[layer][j])}", f"δ = {detail(r.delta[layer][j])}"]
    else:
        parts.append("σ′(z) and δ not yet computed")
    if r.seen(r.timeline.grad, layer, k):
        parts.append(f"∂C/∂b = {detail(r.nabla_b[layer][j])}")
    return f"{name}: " + ", ".join(parts)


def _neuron_data(r: RunView, layer: int, j: int, k: int) -> tuple[tuple[str, str], ...]:
    """The neuron's numbers as the engine holds them, for machines (data-* attributes)."""
    tl = r.timeline
    data = [("a", exact(r.a[layer][j]))] if layer == 1 or r.seen(tl.a, layer, k) else []
    if layer > 1 and r.seen(tl.a, layer, k):
        data.append(("z", exact(r.z[layer][j])))
    if layer > 1 and r.seen(tl.delta, layer, k):
        data += [("sigma-prime", exact(r.sp[layer][j])), ("delta", exact(r.delta[layer][j]))]
    if layer > 1 and r.seen(tl.grad, layer, k):
        data.append(("nabla-b", exact(r.nabla_b[layer][j])))
    return tuple(data)


def _edge_info(r: RunView, layer: int, j: int, i: int, k: int) -> str:
    """The read-out of an edge: its weight, and the a_in, δ_out and ∂C/∂w computed by step k."""
    w = r.w_new if k >= r.timeline.update else r.w
    text = (
        f"w{sup(layer)}{sub(j + 1, i + 1)}, from neuron {i + 1} of layer {layer - 1} "
        f"to neuron {j + 1} of layer {layer}: w = {detail(w[layer][j, i])}"
    )
    if r.seen(r.timeline.a, layer - 1, k):
        text += f", a_in = a{sup(layer - 1)}{sub(i + 1)} = {detail(r.a[layer - 1][i])}"
    if r.seen(r.timeline.delta, layer, k):
        text += f", δ_out = δ{sup(layer)}{sub(j + 1)} = {detail(r.delta[layer][j])}"
    if r.seen(r.timeline.grad, layer, k):
        text += f", ∂C/∂w = a_in δ_out = {detail(r.nabla_w[layer][j, i])}"
    return text


def _edge_data(r: RunView, layer: int, j: int, i: int, k: int) -> tuple[tuple[str, str], ...]:
    w = r.w_new if k >= r.timeline.update else r.w
    data = [("w", exact(w[layer][j, i]))]
    if r.seen(r.timeline.grad, layer, k):
        data.append(("nabla-w", exact(r.nabla_w[layer][j, i])))
    return tuple(data)


def _carried(r: RunView, layer: int) -> dict[tuple[int, int], float]:
    """BP2's terms w^{l}_{kj} δ^{l}_k along the drawn edges into layer ``layer``, by (k, j), 0-based."""
    rows = [q for q in drawn(r.sizes[layer - 1]) if q is not None]
    cols = [i for i in drawn(r.sizes[layer - 2]) if i is not None]
    return {(q, i): float(r.w[layer][q, i]) * float(r.delta[layer][q]) for q in rows for i in cols}


def _largest(values: Sequence[float]) -> float:
    return max((abs(v) for v in values if math.isfinite(v)), default=0.0)


_SHADING = {
    "forward": "neurons shaded by their activation a, edges by their weight w",
    "backward": "neurons shaded by their error δ, {scope}; edges by their weight w",
    "gradient": "neurons shaded by δ = ∂C/∂b, edges of finished layers by ∂C/∂w, {scope}",
    "update": "neurons shaded by δ, {scope}; edges by the updated weights",
}
SCOPE_TEXT = {"layer": "each layer on its own scale", "network": "one scale for the whole network"}
"""How the page names the backward scales' scope (the form's ``scale``), in the legend and the diagram's words."""


def _neuron_look(r: RunView, step: Step, layer: int, j: int, k: int) -> tuple[str, str, str]:
    """(fill, value text, classes) of neuron j of a layer at step k: δ once it is known, a going forward."""
    phase = PHASES[step.kind]
    fill, label, classes = PENDING, "", ["neuron"]
    if phase != "forward" and r.seen(r.timeline.delta, layer, k):
        v = float(r.delta[layer][j])
        fill, label = r.scale_delta[layer].colour(v), fmt(v)
        classes.append("shows-delta")
    elif phase == "forward" and layer > 1 and r.seen(r.timeline.a, layer, k):
        v = float(r.a[layer][j])
        fill, label = r.scale_a[layer].colour(v), fmt(v)
        classes.append("shows-a")
    elif layer == 1:
        fill, label = NEUTRAL, fmt(float(r.a[1][j]))
    else:
        classes.append("pending")
    if step.layer == layer and phase != "update":
        classes.append("current")
    if layer in changed_layers(r, step):
        classes.append("changed")
    return fill, label, " ".join(classes)


def changed_layers(r: RunView, step: Step) -> frozenset[int]:
    """The layers whose neurons step ``step`` computes something for: only these may flash.

    eq. 25 gives a^l, BP1 and BP2 give δ^l, BP3/BP4 the gradients of layer l; the update changes every
    layer's weights and biases, and the input step gives a^1."""
    if step.kind == "update":
        return frozenset(range(2, r.L + 1))
    return frozenset() if step.layer is None else frozenset({step.layer})


def _back_pulse(carried: float, peak: float) -> PulseView:
    """BP2's dash along an edge: coloured by the sign of w·δ, as wide as its share of the layer's largest."""
    sign = "pos" if carried > 0 else ("neg" if carried < 0 else "zero")
    rel = abs(carried) / peak if peak > 0 and math.isfinite(carried) else 0.0
    size = PULSE_WIDTH[0] + (PULSE_WIDTH[1] - PULSE_WIDTH[0]) * rel
    return PulseView("back", PULSE_COLOUR[sign], round(size, 2), sign, exact(carried))


def _edge_look(r: RunView, step: Step, layer: int, j: int, i: int, k: int) -> tuple[str, float, bool, list[str]]:
    """(colour, width, dashed, classes) of the edge from neuron i to neuron j: ∂C/∂w once computed, else w."""
    phase = PHASES[step.kind]
    if phase == "gradient" and r.seen(r.timeline.grad, layer, k):
        scale = r.scale_nabla_w[layer]
        v = float(r.nabla_w[layer][j, i])
        width = 1.5 + 6.5 * (abs(v) / scale.hi if scale.hi > 0 else 0.0)
        return scale.colour(v), width, False, ["edge", "shows-grad"]
    v = float((r.w_new if phase == "update" else r.w)[layer][j, i])
    width = 0.75 + 5.25 * abs(v) / r.w_max
    return (W_POSITIVE if v >= 0 else W_NEGATIVE), width, v < 0, ["edge", "dim"] if phase == "gradient" else ["edge"]


def _edges(
    r: RunView, step: Step, k: int, positions: dict[tuple[int, int], tuple[float, float, float]], focusable: bool
) -> list[EdgeView]:
    """Every drawn edge with its look, its pulse at eq. 25 or BP2, and (when few enough) its read-out.

    Many edges: drawn only. Their numbers are in the ∂C/∂w tables, and a page of a
    thousand read-outs would weigh a megabyte per step.
    """
    edges: list[EdgeView] = []
    for layer in range(2, r.L + 1):
        forward = step.layer == layer and step.kind == "feedforward"
        back = step.layer == layer - 1 and step.kind == "backpropagate"
        carried = _carried(r, layer) if back else {}
        peak = _largest(list(carried.values()))
        for j in (j for j in drawn(r.sizes[layer - 1]) if j is not None):
            x2, y2, _ = positions[(layer, j)]
            for i in (i for i in drawn(r.sizes[layer - 2]) if i is not None):
                x1, y1, _ = positions[(layer - 1, i)]
                colour, width, dashed, classes = _edge_look(r, step, layer, j, i, k)
                pulse = (
                    PulseView("forward", FORWARD_PULSE, 5.0, "")
                    if forward
                    else _back_pulse(carried[(j, i)], peak)
                    if back
                    else None
                )
                if pulse is not None or (step.kind == "gradients" and step.layer == layer):
                    classes.append("active")
                edges.append(
                    EdgeView(
                        id=f"e-{layer}-{j + 1}-{i + 1}",
                        x1=x1,
                        y1=y1,
                        x2=x2,
                        y2=y2,
                        colour=colour,
                        width=round(width, 2),
                        dashed=dashed,
                        info=_edge_info(r, layer, j, i, k) if focusable else "",
                        classes=" ".join(classes),
                        focusable=focusable,
                        pulse=pulse,
                        data=_edge_data(r, layer, j, i, k) if focusable else (),
                    )
                )
    return edges


def diagram_at(r: RunView, step: Step, k: int) -> Diagram:
    phase = PHASES[step.kind]
    L = r.L
    mx, bottom = 80.0, 20.0
    svg_width = max(460, min(MAX_WIDTH, 230 * (L - 1) + 2 * int(mx)))
    xs = [round(mx + (svg_width - 2 * mx) * i / (L - 1), 1) for i in range(L)]
    room = min((svg_width - 2 * mx) / (L - 1) - 10, 2 * mx - 4)
    labels, title_font, line_font = layer_labels(r, xs, room)
    line_step = math.ceil(line_font * 1.3)  # a line's box is 1.17 em high
    lines = max(len(lb.lines) for lb in labels)
    last_line = 36 + line_step * (lines - 1)  # baseline of the labels' last line
    top = last_line + 20
    tallest = max(len(drawn(n)) for n in r.sizes)
    height = int(min(MAX_HEIGHT, max(MIN_HEIGHT, 76 + 80 * tallest)) + top - 56)
    positions: dict[tuple[int, int], tuple[float, float, float]] = {}
    spots: list[Spot] = []
    pending: list[tuple[str, int, int, float, float, float, str, str]] = []
    gaps: list[GapView] = []
    obstacles: list[Box] = []
    total_edges = sum(len(drawn(r.sizes[i])) * len(drawn(r.sizes[i + 1])) for i in range(L - 1))
    for li, n in enumerate(r.sizes):
        layer = li + 1
        slots = drawn(n)
        spacing = min(80.0, (height - top - bottom) / len(slots))
        y0 = top + (height - top - bottom - spacing * len(slots)) / 2 + spacing / 2
        radius = round(max(5.0, min(29.0, spacing * 0.37)), 1)
        for s, j in enumerate(slots):
            y = round(y0 + s * spacing, 1)
            if j is None:
                gap = GapView(xs[li], y, f"⋮ {n - (MAX_DRAWN - 2)} more")
                gaps.append(gap)
                half = text_width(gap.text, 13) / 2
                obstacles.append((gap.x - half, y - 8, gap.x + half, y + 8))
                continue
            positions[(layer, j)] = (xs[li], y, radius)
            fill, label, classes = _neuron_look(r, step, layer, j, k)
            spots.append(Spot(xs[li], y, radius, label, fill))
            pending.append((f"n-{layer}-{j + 1}", layer, j, xs[li], y, radius, fill, classes))
    # Values beside the output layer may use a wider right margin: the viewBox grows to hold them.
    segments = [
        (*positions[(layer - 1, i)][:2], *positions[(layer, j)][:2])
        for layer in range(2, L + 1)
        for j in drawn(r.sizes[layer - 1])
        if j is not None
        for i in drawn(r.sizes[layer - 2])
        if i is not None
    ]
    values = place_values(spots, obstacles, (2.0, last_line + 6, svg_width + 120.0, height - 2.0), segments)
    right = max((v.x + text_width(v.text, v.font) + 4 for v in values if v and v.anchor == "start"), default=0)
    svg_width = max(svg_width, math.ceil(right))
    neurons = [
        NeuronView(
            id=nid,
            layer=layer,
            j=j + 1,
            x=x,
            y=y,
            r=radius,
            fill=fill,
            value=value,
            info=_neuron_info(r, layer, j, k),
            classes=classes,
            data=_neuron_data(r, layer, j, k),
        )
        for (nid, layer, j, x, y, radius, fill, classes), value in zip(pending, values, strict=True)
    ]

    edges = _edges(r, step, k, positions, focusable=total_edges <= EDGES_FOCUSABLE)
    shading = _SHADING[phase].format(scope=SCOPE_TEXT[r.scope])
    if step.kind == "backpropagate":
        shading += (
            "; a dash carries w·δ back along each edge (where motion is reduced, an arrowhead stands on it),"
            " orange for +, blue for −, wider for more"
        )
    title = f"A {'-'.join(map(str, r.sizes))} network at step {k + 1}: {pretty(step.title)}"
    return Diagram(
        svg_width,
        height,
        neurons,
        edges,
        gaps,
        labels,
        title,
        f"{title}; {shading}.",
        title_font,
        line_step,
        touched_layers(r, step),
    )


def touched_layers(r: RunView, step: Step) -> tuple[int, ...]:
    """The layers step ``step`` reads from and writes to: eq. 25 and BP3/BP4 at l read l − 1 and write l, BP2 at l
    reads l + 1 and writes l, BP1 reads and writes L; the update, every layer's weights."""
    layer = step.layer
    if step.kind == "update" or layer is None:
        return tuple(range(1, r.L + 1))
    if step.kind in ("feedforward", "gradients"):
        return (layer - 1, layer)
    if step.kind == "backpropagate":
        return (layer, layer + 1)
    return (layer,)


def _layer_entry(
    scales: dict[int, Scale], appeared: dict[int, int], k: int, focus: int | None, active: bool, what: str, note: str
) -> LegendEntry:
    """A backward scale in the legend: its scope, and its range (one scale: the network's; per layer: the
    layer in focus's, or each layer's)."""
    known = [layer for layer in sorted(scales) if appeared.get(layer, k + 1) <= k]
    shown = next(iter(scales.values()))
    if shown.scope == "network":
        text = f"{SCOPE_TEXT['network']}, ±its largest |{what}|{note} · " + (
            f"{shown.ends[0]} … {shown.ends[1]}" if known else "not yet computed"
        )
        short = "one scale for the network" + (f": ±{fmt(shown.hi)}" if known else "")
        return LegendEntry(shown, active, "network", text, short=short)
    text = f"per layer, ±its own largest |{what}|{note}"
    short = "a scale per layer"
    layer: int | None = None
    if focus in known and focus is not None:
        shown, layer = scales[focus], focus
        lo, hi = shown.ends
        text += f" · layer {focus}: {lo} … {hi}"
        short += f" · layer {focus}: ±{fmt(shown.hi)}"
    elif known:
        text += " · " + ", ".join(f"layer {q}: ±{fmt(scales[q].hi)}" for q in known)
    else:
        text += " · not yet computed"
    return LegendEntry(shown, active, "layer", text, layer, short=short)


def _activation_entry(r: RunView, step: Step, active: bool) -> LegendEntry:
    """a's scales: one per activation (sigmoid 0 … 1; tanh, ReLU, linear about 0), the step's layer's swatch."""
    kinds = dict.fromkeys(r.acts)
    layer = step.layer if step.layer is not None and step.layer > 1 else 2
    shown = r.scale_a[layer]
    parts = [
        f"{act} {r.scale_a[r.acts.index(act) + 2].ends[0]} … {r.scale_a[r.acts.index(act) + 2].ends[1]}"
        for act in kinds
    ]
    signed = " (0 in the middle)" if any(r.scale_a[q].diverging for q in r.scale_a) else ""
    text = " · ".join(parts) + signed + " · one scale per activation"
    return LegendEntry(shown, active, "network", text, short=" · ".join(parts))


def legend_at(r: RunView, step: Step, k: int) -> list[LegendEntry]:
    """The legend: every scale, which ones this step uses, their kind and the numbers at their ends."""
    phase = PHASES[step.kind]
    active = {
        "forward": {"a", "w"},
        "backward": {"delta", "w"},
        "gradient": {"delta", "nabla_w"},
        "update": {"delta", "w"},
    }[phase]
    scale_w = Scale("w", "w", -r.w_max, r.w_max, (W_NEGATIVE, W_POSITIVE), True, scope="network")
    focus = step.layer if phase in ("backward", "gradient") else None
    into = step.layer + 1 if step.kind == "backpropagate" and step.layer is not None else None
    peak = _largest(list(_carried(r, into).values())) if into is not None else 0.0
    pulse = Scale("pulse", "w·δ", -peak, peak, (PULSE_COLOUR["neg"], PULSE_COLOUR["pos"]), True, into)
    pulse_text = "BP2's dash: orange +, blue −, width ∝ |w·δ|"
    pulse_short = "BP2's dash (arrowheads with reduced motion): orange +, blue −"
    still_text = "BP2's arrowheads (reduced motion: nothing moves): w·δ carried back, orange +, blue −, width ∝ |w·δ|"
    if into is not None:
        pulse_text += f" · layer {into} → {into - 1}: up to {fmt(peak)}"
        still_text += f" · layer {into} → {into - 1}: up to {fmt(peak)}"
    w_text = f"green +, dashed purple −, width ∝ |w| up to {scale_w.ends[1]} · one scale for the network"
    w_short = "green +, dashed purple −"
    delta_note = " (= ∂C/∂b)" if phase == "gradient" else ""
    grad_focus = focus if phase == "gradient" else None
    return [
        _activation_entry(r, step, "a" in active),
        LegendEntry(scale_w, "w" in active, "network", w_text, short=w_short),
        _layer_entry(r.scale_delta, r.timeline.delta, k, focus, "delta" in active, "δ", delta_note),
        _layer_entry(r.scale_nabla_w, r.timeline.grad, k, grad_focus, "nabla_w" in active, "∂C/∂w", ", width too"),
        LegendEntry(pulse, into is not None, "layer", pulse_text, into, still_text, pulse_short),
    ]
