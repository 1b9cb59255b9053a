"""Small charts drawn on the server: axes with their ticks, lines through points, pictures of grids.

The step-through's cost per iteration (``app.stepper.history``) and the training page's charts per epoch
(``app.training.view``) place their numbers with these; their templates write the SVG. Every label is
written by the app's one formatter (``app.core.format.fmt``); every colour comes from ``app.core.palette``.

A chart's plot lies between ``left`` … ``right`` and ``top`` … ``bottom`` of its drawing; a value's place on
an axis is ``t`` ∈ [0, 1] of the plot's height (0 at the bottom). Tick labels sit left of the y axis, which
``fit_left`` moves right of the widest label: text is not measured here, so labels are given a width per
character that is wider than the pages' tick font draws them.

Left out: any arithmetic on the numbers beyond placing them; legends and captions (the templates').
"""

from __future__ import annotations

import math
import struct
import zlib
from base64 import b64encode
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from backprop_lens.app.core.format import fmt, sup

DECADE_STEPS = (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500)
TICK_CHAR_WIDTH = 6.6  # drawing units per character of an 11-unit tick label (digits, ×, −), generously
SUPERSCRIPT_WIDTH = 4.4  # a superscript digit or minus
MIN_TICK_GAP = 0.15  # of the height: two ticks closer than this would print over each other


@dataclass(frozen=True)
class Tick:
    at: float  # x or y in the drawing
    text: str


@dataclass(frozen=True)
class Axis:
    """Ticks at t ∈ [0, 1] of the height with their labels, and the map of a value to its t (None: not drawn)."""

    ticks: list[tuple[float, str]]
    t: Callable[[float], float | None]


def decade(n: int) -> str:
    """10ⁿ as a label: 1 and 10 written out, the rest as powers."""
    return "1" if n == 0 else "10" if n == 1 else f"10{sup(n)}"


def _round(v: float) -> float:
    return float(f"{v:.12g}")


def _fitted_log_ticks(a: float, b: float, margin: float) -> tuple[list[tuple[float, str]], float, float]:
    """Ticks of a log axis fitted to values from a to b (less than two decades), ``margin`` decades each side.

    Its ends are round numbers (to the unit one digit finer than the step) just outside the margin, and
    labelled; between them the powers of ten and round values (1, 2 or 5 × 10ⁿ apart), each at least
    MIN_TICK_GAP from the others (the ends come first, so they always keep theirs). Returns the ticks and
    the axis's ends as log10 values.
    """
    lower, upper = a * 10**-margin, b * 10**margin
    raw = (upper - lower) / 4
    p = 10 ** math.floor(math.log10(raw))
    step = next((m * p for m in (1, 2, 5, 10) if m * p >= raw), 10 * p)
    unit = p
    bottom = _round(math.floor(lower / unit) * unit)
    while bottom <= 0:
        unit /= 10  # a band near 0: a finer unit keeps the bottom above 0 (a log axis has no 0)
        bottom = _round(math.floor(lower / unit) * unit)
    top = _round(math.ceil(upper / p) * p)
    lo, hi = math.log10(bottom), math.log10(top)
    candidates = [bottom, top, *(10.0**n for n in range(math.ceil(lo), math.floor(hi) + 1))]
    k = math.ceil(bottom / step)
    while k * step <= top:
        candidates.append(_round(k * step))
        k += 1
    ticks: list[tuple[float, str]] = []
    for v in candidates:
        t = (math.log10(v) - lo) / (hi - lo)
        if t < -1e-9 or t > 1 + 1e-9 or any(abs(u - t) < MIN_TICK_GAP for u, _ in ticks):
            continue
        ticks.append((min(max(t, 0.0), 1.0), fmt(v)))
    return sorted(ticks), lo, hi


def log_axis(values: Iterable[float | None]) -> Axis:
    """A log axis for the values: whole decades (at most about five labelled) when the values fill at least
    half of them; values within a narrower band (a cost stuck at 0.1255) get an axis fitted to them with a
    margin. A value of 0 (no logarithm) is drawn on the bottom line; infinities and NaN are not drawn."""
    positive = [v for v in values if v is not None and math.isfinite(v) and v > 0]
    least = math.log10(min(positive)) if positive else -1.0
    most = math.log10(max(positive)) if positive else 0.0
    lo: float = math.floor(least)
    hi: float = max(math.ceil(most), lo + 1)
    ticks: list[tuple[float, str]] = []
    if positive and most - least < (hi - lo) / 2:
        margin = max(0.08 * (most - least), 0.004)  # in decades, each side (≥ 1%: labels of 4 digits differ)
        ticks, lo, hi = _fitted_log_ticks(10**least, 10**most, margin)
    else:
        step = next((s for s in DECADE_STEPS if (hi - lo) / s <= 4), math.ceil((hi - lo) / 4))
        lo, hi = math.floor(lo / step) * step, math.ceil(hi / step) * step
        ticks = [((n - lo) / (hi - lo), decade(int(n))) for n in range(int(lo), int(hi) + 1, step)]

    def t(v: float) -> float | None:
        if not math.isfinite(v) or v < 0:
            return None
        return (math.log10(v) - lo) / (hi - lo) if v > 0 else 0.0

    return Axis(ticks, t)


def linear_axis(values: Iterable[float | None]) -> Axis:
    """0 to a round number (1, 2, 2.5 or 5 × 10ⁿ) at or above the largest value, ticked at 0, half and top."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    most = max(finite, default=0.0)
    top = 1.0
    if most > 0:
        p = 10 ** math.floor(math.log10(most))
        top = next((m * p for m in (1, 2, 2.5, 5, 10) if m * p >= most), 10 * p)
        if not math.isfinite(top):
            top = most  # near the largest double: 10 × p overflows
    return Axis([(t, fmt(t * top, 2)) for t in (0.0, 0.5, 1.0)], lambda v: v / top if math.isfinite(v) else None)


def label_width(text: str) -> float:
    """A tick label's width in drawing units, at least what the pages' tick font draws."""
    small = sum(c in "⁰¹²³⁴⁵⁶⁷⁸⁹⁻" for c in text)
    return (len(text) - small) * TICK_CHAR_WIDTH + small * SUPERSCRIPT_WIDTH


def fit_left(least: float, labels: Iterable[str]) -> float:
    """Where the plot starts: at ``least``, or further right so that the widest label fits left of the axis."""
    return max(least, math.ceil(max((label_width(s) for s in labels), default=0.0)) + 8)


def polyline(
    xs: Sequence[float], ts: Sequence[float | None], left: float, right: float, top: float, bottom: float, x_max: float
) -> tuple[str, list[int]]:
    """The points of a line through (x, t) in the plot (t clamped to [0, 1]; None left out), and which were drawn."""
    pts: list[str] = []
    drawn: list[int] = []
    for i, (x, t) in enumerate(zip(xs, ts, strict=True)):
        if t is None:
            continue
        px = left + (right - left) * x / x_max
        py = bottom - (bottom - top) * min(max(t, 0.0), 1.0)
        pts.append(f"{px:.1f},{py:.1f}")
        drawn.append(i)
    return " ".join(pts), drawn


def png_data_url(pixels: Sequence[Sequence[tuple[int, int, int, int]]]) -> str:
    """Rows of RGBA pixels (0–255) as a ``data:image/png`` URL: a picture the page shows as it is."""
    height, width = len(pixels), len(pixels[0]) if pixels else 0
    raw = b"".join(b"\x00" + bytes(c for px in row for c in px) for row in pixels)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8 bits per channel, RGBA
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    return "data:image/png;base64," + b64encode(png).decode("ascii")
