"""Presentation of a trace: numbers as text, colour scales, the diagram's layout, equations as MathML.

``step_view(run, k)`` gathers everything the templates need to show step k of
a run: which quantities the algorithm has produced by then, the shading of
every drawn neuron and edge, the equation with its numbers substituted and the
numbers tables. It only reads the engine's arrays; every number shown was
computed by the engine.

The modules: ``model`` (the view dataclasses and the run's arrays), ``colours``, ``layout`` (text that
fits: the one width estimate and the one label placer), ``diagram`` (with the legend), ``equation``,
``tables``, ``present`` (lecture mode's diagram), ``patch`` (the stream's step-to-step patches) and
``export`` (a step as SVG and LaTeX files); number formats and MathML are in ``app.core`` as the
instruments use them too.

Left out: HTML. The templates under ``templates/`` turn these views into markup.
"""

from __future__ import annotations

from backprop_lens.app.core.format import pretty
from backprop_lens.app.stepper.view.diagram import diagram_at, legend_at
from backprop_lens.app.stepper.view.equation import equation_at
from backprop_lens.app.stepper.view.model import PHASES, SHORT, RunView, StepView
from backprop_lens.app.stepper.view.tables import cell, tables_at
from backprop_lens.engine import Trace


def step_view(run_id: str, t: Trace, k: int, *, lecture: bool = False, scale: str = "layer") -> StepView:
    """Everything the page shows at step k of a run; ``lecture``: with lecture mode's lines of the equation."""
    r = RunView(t, scale)  # scale: δ's and ∂C/∂w's colour scales, "layer" or "network" (the form's)
    step = t.steps[k]
    phase = PHASES[step.kind]
    tl = r.timeline
    costs = [
        cell(t.cost_before if k >= tl.delta.get(r.L, 0) else None, "cost_before", tl.delta.get(r.L) == k, 6),
        cell(t.cost_after if k >= tl.update else None, "cost_after", tl.update == k, 6),
    ]
    scales = legend_at(r, step, k)
    marks = [
        (s.index, SHORT[s.kind], f"Step {s.index + 1}: {pretty(s.title)} ({s.equation})", PHASES[s.kind])
        for s in t.steps
    ]
    announce = f"Step {k + 1} of {len(t.steps)}: {pretty(step.title)} ({step.equation})"
    return StepView(
        run_id=run_id,
        k=k,
        steps=len(t.steps),
        step=step,
        title=pretty(step.title),
        phase=phase,
        diagram=diagram_at(r, step, k),
        equation=equation_at(r, step, k, lecture=lecture),
        tables=tables_at(r, k),
        costs=costs,
        scales=scales,
        announce=announce,
        marks=marks,
    )
