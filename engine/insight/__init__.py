"""The chapter's thought experiments as instruments, each computed from the engine's own passes.

One module per idea of chapter 2:

* ``speed``: why backpropagation is fast (one backward pass against eq. 46's 2P + 1 forward passes);
* ``demon``: what δ means (ΔC ≈ δ^l_j Δz^l_j against a forward pass with z^l_j nudged);
* ``saturation``: why neurons with σ'(z) ≈ 0 or inputs a ≈ 0 learn slowly (BP1, BP2, BP4);
* ``paths``: ∂C/∂w^l_jk as a sum over paths through the network (eq. 53);
* ``matrix_form``: δ^l as a product of matrices (eqs. 33–35);
* ``minibatch``: each example's δ and ∂C/∂w before they are averaged;
* ``exercises``: a neuron with its own activation f, a network of linear neurons, and
  cross-entropy against quadratic cost at the output (δ^L loses its σ'(z^L)).

Single-example instruments take the example's row index in the batch and work with its
own cost C_x, since δ^l (eq. 29) is defined per example.

Left out: rendering; the app turns these values into HTML and JSON.
"""

from backprop_lens.engine.insight.demon import Demon, Nudge, demon, predicted_change
from backprop_lens.engine.insight.exercises import (
    CostComparison,
    LinearNetwork,
    ModifiedNeuron,
    compare_costs,
    linear_network,
    modified_neuron,
)
from backprop_lens.engine.insight.forward import all_finite, feedforward_tweaked, single_example
from backprop_lens.engine.insight.matrix_form import MatrixForm, matrix_form, sigma_prime_matrix
from backprop_lens.engine.insight.minibatch import MiniBatch, example_batch, inside_minibatch
from backprop_lens.engine.insight.paths import Path, PathSum, path_count, path_factors, path_sum
from backprop_lens.engine.insight.saturation import QuietNeuron, SaturatedNeuron, Saturation, SlowWeight, saturation
from backprop_lens.engine.insight.speed import SpeedComparison, compare_speed, widen

__all__ = [
    "CostComparison",
    "Demon",
    "LinearNetwork",
    "MatrixForm",
    "MiniBatch",
    "ModifiedNeuron",
    "Nudge",
    "Path",
    "PathSum",
    "QuietNeuron",
    "SaturatedNeuron",
    "Saturation",
    "SlowWeight",
    "SpeedComparison",
    "all_finite",
    "compare_costs",
    "compare_speed",
    "demon",
    "example_batch",
    "feedforward_tweaked",
    "inside_minibatch",
    "linear_network",
    "matrix_form",
    "modified_neuron",
    "path_count",
    "path_factors",
    "path_sum",
    "predicted_change",
    "saturation",
    "sigma_prime_matrix",
    "single_example",
    "widen",
]
