"""backprop-lens: chapter 2 of Nielsen's *Neural Networks and Deep Learning* made visible.

One import name holds the whole house (in the repository, ``backprop_lens/`` links the top-level folders in):

    backprop_lens.engine     the NumPy engine: BP1-BP4, the trace, SGD, gradient checks, the chapter's instruments
    backprop_lens.app        the web app (FastAPI; made by ``backprop_lens.app.main.create_app``, never at import)
    backprop_lens.bench      ``backprop-lens bench``
    backprop_lens.static, backprop_lens.templates    what the app serves

Importing this package starts nothing and reads no settings. The names a student needs first are here:

    from backprop_lens import Network, backprop
    net = Network([2, 3, 2], seed=0)
    g = backprop(net, X, Y, cost="quadratic")   # X: (m, n_1), Y: (m, n_L), examples as rows

The book's own code runs on the engine with its import line changed (``from backprop_lens import network``,
``network2``; ``backprop_lens.loader`` gives the shipped digits as ``load_data_wrapper`` does), and
``backprop_lens.check(my_backprop)`` names the first equation a student's backprop gets wrong. In a notebook,
a network, its gradients, a step and a trace display as the page draws them, and ``backprop_lens.show(net, x, y)``
is the page's step-through as a widget (the ``notebook`` extra), computed in the kernel.
"""

from __future__ import annotations

from typing import Any

from backprop_lens.display import install as _install_display
from backprop_lens.display import show
from backprop_lens.engine import SGD, Gradients, Network, Step, Trace, backprop, numerical_gradient, trace

__version__ = "0.1.0"

__all__ = [
    "SGD", "Gradients", "Network", "Step", "Trace", "__version__", "backprop", "check", "numerical_gradient", "show",
    "trace",
]  # fmt: skip

_install_display()  # registers the notebook's renderers; they import the view code on their first drawing

_LAZY = {"check": "backprop_lens.checker"}
"""Faces imported on first use, so that ``import backprop_lens`` stays the engine alone."""


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'backprop_lens' has no attribute {name!r}")
