"""Networks with every weight written out, and the arithmetic the diagram's tests check the page against.

Shared by ``tests/app/stepper/test_diagram.py`` (the view model) and ``tests/browser/test_diagram.py`` (the page in
Chromium). Nothing here imports the app: δ^l comes from the scalar autograd (``tests/autograd.py``), contrast
from the WCAG formula, and numbers are read back from the page's text by hand.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from itertools import pairwise

from backprop_lens.app.core.schemas import WORKED_EXAMPLE
from tests.autograd import reference_gradients

MIN_CONTRAST = 3.0  # WCAG 2.1, 1.4.11: a graphical object against what is next to it


@dataclass(frozen=True)
class Case:
    """A network with its weights written out, so that the test knows every number it checks."""

    name: str
    sizes: list[int]
    activation: str
    weights: list[list[list[float]]]
    biases: list[list[float]]
    x: list[float]
    y: list[float]

    def steps(self) -> int:
        """input, eq. 25 per layer, BP1, BP2 per hidden layer, BP3/BP4 per layer, update."""
        n = len(self.sizes)
        return 1 + (n - 1) + 1 + (n - 2) + (n - 1) + 1

    def step(self, k: int) -> tuple[str, int | None]:
        """The kind and layer of step k, in the order of the book's algorithm."""
        L = len(self.sizes)
        if k == 0:
            return "input", 1
        if k < L:
            return "feedforward", k + 1
        if k == L:
            return "output_error", L
        if k < 2 * L - 1:
            return "backpropagate", 2 * L - k
        if k < 3 * L - 2:
            return "gradients", 3 * L - 1 - k
        return "update", None

    def deltas(self) -> dict[int, list[float]]:
        """δ^l by layer: with one example, BP3's ∂C/∂b^l, here from the scalar autograd."""
        acts = [self.activation] * (len(self.sizes) - 1)
        _, _, nabla_b = reference_gradients(self.weights, self.biases, acts, "quadratic", [self.x], [self.y])
        return {i + 2: b for i, b in enumerate(nabla_b)}

    def carried(self, layer: int) -> dict[str, float]:
        """BP2's terms w^{l}_{kj} δ^{l}_k, by the id of the edge from neuron j of layer l−1 to neuron k of l."""
        w, d = self.weights[layer - 2], self.deltas()[layer]
        return {f"e-{layer}-{k + 1}-{j + 1}": w[k][j] * d[k] for k in range(len(w)) for j in range(len(w[0]))}

    def form(self) -> dict[str, str]:
        return {
            "sizes": ", ".join(map(str, self.sizes)),
            "activation": self.activation,
            "cost": "quadratic",
            "x": ", ".join(map(repr, self.x)),
            "y": ", ".join(map(repr, self.y)),
            "eta": "0.5",
            "seed": "0",
            "weights": json.dumps(self.weights),
            "biases": json.dumps(self.biases),
        }


def seeded(name: str, sizes: list[int], activation: str, seed: int) -> Case:
    rng = random.Random(seed)
    weights = [[[rng.gauss(0, 1) for _ in range(n_in)] for _ in range(n_out)] for n_in, n_out in pairwise(sizes)]
    biases = [[rng.gauss(0, 1) for _ in range(n)] for n in sizes[1:]]
    x = [round(rng.uniform(-1, 1), 3) for _ in range(sizes[0])]
    y = [round(rng.uniform(0, 1), 3) for _ in range(sizes[-1])]
    return Case(name, sizes, activation, weights, biases, x, y)


NET = WORKED_EXAMPLE["network"]
WORKED = Case(
    "worked", NET["sizes"], "sigmoid", NET["weights"], NET["biases"], WORKED_EXAMPLE["inputs"][0],
    WORKED_EXAMPLE["targets"][0],
)  # fmt: skip
WIDE = seeded("4-12-3", [4, 12, 3], "sigmoid", 1)
DEEP = seeded("8 layers", [2, 3, 3, 3, 3, 3, 3, 2], "sigmoid", 3)
RELU = seeded("relu", [3, 5, 4, 2], "relu", 2)
CASES = [WORKED, WIDE, DEEP]


def luminance(rgb: tuple[float, float, float]) -> float:
    """WCAG 2.1 relative luminance of an sRGB colour with channels 0–255."""

    def channel(v: float) -> float:
        s = v / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def rgb(colour: str) -> tuple[float, float, float]:
    """ "#rrggbb" or CSS's "rgb(r, g, b)" as three channels."""
    if colour.startswith("#"):
        return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)
    parts = [float(p) for p in re.findall(r"[\d.]+", colour)[:3]]
    return parts[0], parts[1], parts[2]


def contrast(a: str, b: str) -> float:
    """WCAG 2.1 contrast ratio of two colours."""
    hi, lo = sorted((luminance(rgb(a)), luminance(rgb(b))), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def sig_digits(number: str) -> int:
    """Significant digits of a number as the page prints it: "−0.001234" → 4, "1.5×10⁻⁹" → 2."""
    mantissa = number.split("×")[0].lstrip("−-").replace(".", "").lstrip("0")
    return max(len(mantissa), 1)


NUMBER = re.compile(r"[−-]?\d+(?:\.\d+)?(?:×10[⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+)?")
MINUS_ZERO = re.compile(r"[−-]0(?![.\d])")  # "−0" on its own; "−0.5" is fine


def as_number(text: str) -> float:
    """A number as the page prints it ("−2.31×10⁻⁹") as a float."""
    text = text.replace("−", "-")
    if "×10" in text:
        mantissa, exponent = text.split("×10")
        return float(mantissa) * 10.0 ** int(exponent.translate(str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")))
    return float(text)
