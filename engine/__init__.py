"""backprop-lens engine: chapter 2 of Nielsen's *Neural Networks and Deep Learning* in NumPy.

Pure NumPy: nothing here imports the web app, FastAPI, Starlette or Jinja2.

    from engine import Network, backprop
    net = Network([2, 3, 2], seed=0)
    g = backprop(net, X, Y, cost="quadratic")
    g.cost, g.nabla_w, g.nabla_b
"""

from engine.activations import ACTIVATIONS, get_activation, sigmoid, sigmoid_prime
from engine.backprop import Gradients, backprop, backprop_per_example, cost_of, feedforward
from engine.costs import COSTS, get_cost
from engine.gradcheck import numerical_gradient, relative_error
from engine.network import Network, parameter_count
from engine.sgd import SGD, update_mini_batch
from engine.trace import Step, Trace, trace

__all__ = [
    "ACTIVATIONS",
    "COSTS",
    "SGD",
    "Gradients",
    "Network",
    "Step",
    "Trace",
    "backprop",
    "backprop_per_example",
    "cost_of",
    "feedforward",
    "get_activation",
    "get_cost",
    "numerical_gradient",
    "parameter_count",
    "relative_error",
    "sigmoid",
    "sigmoid_prime",
    "trace",
    "update_mini_batch",
]
