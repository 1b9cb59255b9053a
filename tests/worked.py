"""The worked example (Matt Mazur's 2-2-2: sigmoid, quadratic cost, η = 0.5) worked by hand, in plain Python.

Every number here comes from the example's weights, biases, x, y and η alone, with nothing of the engine's or
the app's: the tests that check what the page shows of this example (practice, the class's questions) take their
expected values from here.
"""

from __future__ import annotations

import math

W2, B2 = [[0.15, 0.2], [0.25, 0.3]], [0.35, 0.35]
W3, B3 = [[0.4, 0.45], [0.5, 0.55]], [0.6, 0.6]
X, Y, ETA = [0.05, 0.1], [0.01, 0.99], 0.5


def sigma(z: float) -> float:
    return 1 / (1 + math.exp(-z))


Z2 = [sum(W2[j][k] * X[k] for k in range(2)) + B2[j] for j in range(2)]
A2 = [sigma(z) for z in Z2]
Z3 = [sum(W3[j][k] * A2[k] for k in range(2)) + B3[j] for j in range(2)]
A3 = [sigma(z) for z in Z3]
SP2 = [a * (1 - a) for a in A2]  # σ′(z²) = σ(z²)(1 − σ(z²))
SP3 = [a * (1 - a) for a in A3]
D3 = [(A3[j] - Y[j]) * SP3[j] for j in range(2)]  # BP1
BACK2 = [sum(W3[q][j] * D3[q] for q in range(2)) for j in range(2)]  # (w³)ᵀδ³
D2 = [BACK2[j] * SP2[j] for j in range(2)]  # BP2


def four(v: float) -> str:
    """A value as the verdicts print it: 4 significant digits, a true minus."""
    return f"{v:.4g}".replace("-", "−")
