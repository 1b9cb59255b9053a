"""Numbers as people read them: significant digits, a true minus sign, ×10ⁿ, never −0; sub- and superscripts.

One formatter for the whole app: the diagram prints SIG_DIAGRAM digits, tables and read-outs SIG_DETAIL;
``tex`` writes the same digits for LaTeX; ``exact`` is the value as the engine holds it, for machines
(data-* attributes).
"""

from __future__ import annotations

import math
import re

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

# --- numbers as text -------------------------------------------------------------

_SUP = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def sup(n: int | str) -> str:
    return str(n).translate(_SUP)


def sub(*indices: int) -> str:
    sep = "," if any(i > 9 for i in indices) else ""
    return sep.join(str(i).translate(_SUB) for i in indices)


def pretty(text: str) -> str:
    """The engine's plain titles ("δ^2") with real superscripts ("δ²")."""
    return re.sub(r"\^(\d+)", lambda m: sup(m.group(1)), text)


# One rule for every number a person reads: the diagram prints SIG_DIAGRAM significant
# digits, the read-outs (and the tables and sentences) SIG_DETAIL; fmt writes them as
# text, tex as LaTeX, both from _digits, so they agree on rounding, exponents and −0.
SIG_DIAGRAM = 4
SIG_DETAIL = 6


def _digits(v: float, sig: int) -> tuple[str, int | None]:
    """The mantissa of v to ``sig`` significant digits ("-" for minus) and its power of ten, if any.

    Zero has no sign: −0.0 (a ReLU's δ, a product with 0) prints as 0.
    """
    v = float(v)
    text = f"{(v if v != 0 else 0.0):.{sig}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        return mantissa, int(exponent)
    return text, None


def fmt(v: float, sig: int = SIG_DIAGRAM) -> str:
    """``sig`` significant digits, a true minus sign, ×10ⁿ instead of e-notation, never "−0"."""
    if not math.isfinite(v):
        return "∞" if v > 0 else ("−∞" if v < 0 else "NaN")
    mantissa, exponent = _digits(v, sig)
    text = mantissa if exponent is None else f"{mantissa}×10{sup(exponent)}"
    return text.replace("-", "−")


def exact(v: float) -> str:
    """The number as the engine holds it (round-trips exactly): for data attributes machines read, never for people."""
    return repr(float(v))


def tex(v: float, sig: int = 4) -> str:
    """A number for LaTeX by fmt's rules; negative numbers in parentheses so ``a · (−b)`` reads right."""
    if not math.isfinite(v):
        return "\\text{NaN}" if math.isnan(v) else ("\\infty" if v > 0 else "(-\\infty)")
    mantissa, exponent = _digits(v, sig)
    text = mantissa if exponent is None else f"{mantissa} \\times 10^{{{exponent}}}"
    return f"({text})" if mantissa.startswith("-") else text


def detail(v: float) -> str:
    """A number for people reading closely (tables, read-outs, tooltips): SIG_DETAIL significant digits."""
    return fmt(float(v), SIG_DETAIL)
