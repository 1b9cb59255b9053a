"""The step-through as a Jupyter widget (anywidget): the page's diagram, equation panel and controls, no server.

The kernel computes the whole trace and draws every step once, with the page's view code
(``backprop_lens.display``); the widget's script (``static/js/widget.js``) only shows them: play and pause,
step back and forward, the scrubber and the keys (← →, space, Home, End), with δ's pulse travelling back
along the edges during BP2 as on the page (``static/css/widget.css``). ``index``, the step on screen, is
shared both ways: set it from Python, or read what the student chose.

Outside a live kernel (nbviewer, GitHub, an HTML export) the widget's output falls back to the step on
screen as static HTML.

Left out: choosing the network in the widget; make it in Python and call ``show`` again.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

NEEDS = "the notebook widget needs anywidget: pip install 'backprop-lens[notebook]'"

try:
    import anywidget
    import traitlets
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(NEEDS) from exc

from backprop_lens.display import step_html, widget_step  # noqa: E402 - after the check for anywidget
from backprop_lens.engine.trace import Trace  # noqa: E402

_STATIC = files("backprop_lens") / "static"


class StepThrough(anywidget.AnyWidget):
    """One iteration of backpropagation, step by step: ``StepThrough(trace)`` or ``backprop_lens.show(net, x, y)``."""

    _esm = (_STATIC / "js" / "widget.js").read_text(encoding="utf-8")
    _css = (_STATIC / "css" / "widget.css").read_text(encoding="utf-8")

    steps = traitlets.List(traitlets.Dict()).tag(sync=True)
    """Each step as drawn in the kernel: diagram (HTML with the SVG), equation (HTML with MathML), title."""
    index = traitlets.Int(0).tag(sync=True)
    """The step on screen, 0-based."""
    speed = traitlets.Int(700).tag(sync=True)
    """Milliseconds a step while playing."""

    def __init__(self, t: Trace, start: int = 0, **kwargs: Any) -> None:
        if not 0 <= start < len(t.steps):
            raise ValueError(f"start: a step from 0 to {len(t.steps) - 1}, got {start}")
        self.trace = t
        super().__init__(steps=[widget_step(t, k) for k in range(len(t.steps))], index=start, **kwargs)

    def __repr__(self) -> str:
        return f"StepThrough(step {self.index} of {len(self.trace.steps)}, {self.trace!r})"

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """anywidget's bundle (the live view), plus the step on screen as HTML for where widgets cannot run."""
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data, metadata = bundle
        return {**data, "text/html": step_html(self.trace, self.index)}, metadata
