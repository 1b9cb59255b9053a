"""Mazur's worked example ("A Step by Step Backpropagation Example"), computed here in plain NumPy.

An independent reference: it shares no code with the engine or the views, and writes the book's column
vectors as the equations do. Mazur's post gives some results by hand (``HAND``), which check this in turn.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

W2 = [[0.15, 0.20], [0.25, 0.30]]
B2 = [0.35, 0.35]
W3 = [[0.40, 0.45], [0.50, 0.55]]
B3 = [0.60, 0.60]
X = [0.05, 0.10]
Y = [0.01, 0.99]
ETA = 0.5

HAND = {"cost": 0.298371109, "nabla_w3_11": 0.082167041, "nabla_w2_11": 0.000438568}
"""Mazur's own numbers: E_total, ∂E/∂w₅ (w³₁₁ here) and ∂E/∂w₁ (w²₁₁), to the digits he prints."""


def _sigmoid(z: Array) -> Array:
    out: Array = 1.0 / (1.0 + np.exp(-z))
    return out


def reference() -> dict[str, Array]:
    """Every quantity of one forward and backward pass, quadratic cost C = ½‖y − a³‖², by the equations."""
    x, y = np.array(X), np.array(Y)
    w2, b2, w3, b3 = np.array(W2), np.array(B2), np.array(W3), np.array(B3)
    z2 = w2 @ x + b2
    a2 = _sigmoid(z2)
    z3 = w3 @ a2 + b3
    a3 = _sigmoid(z3)
    delta3 = (a3 - y) * a3 * (1 - a3)
    delta2 = (w3.T @ delta3) * a2 * (1 - a2)
    return {
        "z2": z2, "a2": a2, "z3": z3, "a3": a3,
        "cost": np.array(0.5 * np.sum((y - a3) ** 2)),
        "delta3": delta3, "delta2": delta2,
        "nabla_w3": np.outer(delta3, a2), "nabla_w2": np.outer(delta2, x),
    }  # fmt: skip
