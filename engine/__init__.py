"""backprop-lens engine: chapter 2 of Nielsen's *Neural Networks and Deep Learning* in NumPy.

Pure NumPy: nothing here imports the web app, FastAPI, Starlette or Jinja2.

    from backprop_lens.engine import Network, backprop
    net = Network([2, 3, 2], seed=0)          # Network(2-3-2, activation=sigmoid, 17 parameters)
    net([0.05, 0.10])                          # a^L for one example
    g = backprop(net, X, Y, cost="quadratic")  # X: (m, n_1), Y: (m, n_L), examples as rows
    g.cost, g.nabla_w, g.nabla_b

The few names a student needs are here; the rest stay in their modules: ``engine.backprop`` (one
function per equation, feedforward, the book's per-example loop), ``engine.activations``,
``engine.costs``, ``engine.sgd`` (the update, ``iterate``), ``engine.gradcheck``, ``engine.trace``,
``engine.insight`` (the chapter's thought experiments), ``engine.datasets`` and ``engine.training``.
"""

from backprop_lens.engine.backprop import Gradients, backprop
from backprop_lens.engine.gradcheck import numerical_gradient
from backprop_lens.engine.network import Network
from backprop_lens.engine.sgd import SGD
from backprop_lens.engine.trace import Step, Trace, trace

__all__ = ["SGD", "Gradients", "Network", "Step", "Trace", "backprop", "numerical_gradient", "trace"]
