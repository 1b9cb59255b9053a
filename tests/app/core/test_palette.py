"""The palette is defined once: lens.css's custom properties equal app.core.palette's constants (read from the
stylesheet's text), no script writes a colour of its own (the training page's pictures are coloured on the server), and
the step-through and training import the same constants. The ramp is checked against values worked by hand."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from backprop_lens.app.core import palette
from backprop_lens.app.stepper.view import colours
from tests.default_app import app

ROOT = Path(__file__).resolve().parents[3]
CSS = ROOT / "static" / "css"


def custom_properties(css: str) -> dict[str, str]:
    """The custom properties a stylesheet declares in its :root rules, comments removed."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    found: dict[str, str] = {}
    for body in re.findall(r":root\s*\{([^}]*)\}", css):
        found |= {name: value.strip() for name, value in re.findall(r"(--[\w-]+)\s*:\s*([^;]+);", body)}
    return found


def test_lens_css_declares_every_palette_property_with_the_python_value() -> None:
    declared = custom_properties((CSS / "lens.css").read_text(encoding="utf-8"))
    assert {name: declared.get(name, "missing").lower() for name in palette.CSS_PROPERTIES} == {
        name: value.lower() for name, value in palette.CSS_PROPERTIES.items()
    }


def test_no_other_stylesheet_redefines_the_palette() -> None:
    for sheet in sorted(CSS.glob("*.css")):
        if sheet.name != "lens.css":
            redefined = set(custom_properties(sheet.read_text(encoding="utf-8"))) & set(palette.CSS_PROPERTIES)
            assert redefined == set(), sheet.name


def test_no_script_has_a_colour_of_its_own() -> None:
    """The training page's pictures are coloured on the server (app.training.view): train.js and the other
    scripts write no colour and read none of the palette's properties."""
    for script in sorted((ROOT / "static" / "js").glob("*.js")):
        code = re.sub(r"//[^\n]*", "", script.read_text(encoding="utf-8"))
        found = re.findall(r"#[0-9a-fA-F]{6}\b|#[0-9a-fA-F]{3}\b|\brgba?\(|\"--(?:neg|pos|zero)", code)
        assert found == [], script.name


def test_both_features_use_the_one_definition() -> None:
    assert colours.DIVERGING is palette.DIVERGING and colours.DIVERGING_EDGE is palette.DIVERGING_EDGE
    assert colours.SEQUENTIAL is palette.SEQUENTIAL and colours.ramp is palette.ramp
    assert app.state.templates.env.filters["diverging"] is palette.diverging  # the training templates' filter
    assert palette.DIVERGING[0] == palette.NEGATIVE and palette.DIVERGING[-1] == palette.POSITIVE
    assert palette.DIVERGING_EDGE[0] == palette.NEGATIVE and palette.DIVERGING_EDGE[-1] == palette.POSITIVE


@pytest.mark.parametrize(
    ("t", "colour"),
    [
        (0.0, "#2166ac"),
        (0.5, "#f7f7f7"),
        (1.0, "#b35806"),
        (-3.0, "#2166ac"),  # clamped
        (float("nan"), "#f7f7f7"),  # the middle: "no value here"
        # a fifth of the way from #2166ac to #92c5de: 33 + 0.2·113 = 55.6, 102 + 0.2·95 = 121, 172 + 0.2·50 = 182
        (0.05, "#3879b6"),
    ],
)
def test_ramp_at_worked_points(t: float, colour: str) -> None:
    assert palette.ramp(palette.DIVERGING, t) == colour


@pytest.mark.parametrize(
    ("v", "scale", "colour"),
    [
        (-2.0, 2.0, "#2166ac"),
        (2.0, 2.0, "#b35806"),
        (1e300, 1e-300, "#b35806"),  # far beyond the scale: the end, not an overflow
        (0.0, 1.0, "#f7f7f7"),
        (1.0, 0.0, "#f7f7f7"),  # an all-zero image has scale 0
        (float("inf"), 1.0, "#f7f7f7"),
        (-0.9, 1.0, "#3879b6"),  # t = 0.5 − 0.45 = 0.05, as above
    ],
)
def test_diverging_maps_minus_scale_to_scale_onto_the_ramp(v: float, scale: float, colour: str) -> None:
    assert palette.diverging(v, scale) == colour


def _contrast_with_white(colour: str) -> float:
    """WCAG contrast against #ffffff, computed here from the hex digits."""

    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(int(colour[i : i + 2], 16)) for i in (1, 3, 5))
    return 1.05 / (0.2126 * r + 0.7152 * g + 0.0722 * b + 0.05)


def test_the_signed_activation_ramp_is_as_strong_below_zero_as_above() -> None:
    """tanh's −0.976 must read as strong as +0.976: each stop below 0 as far from white as its mirror above."""
    stops = palette.FORWARD_DIVERGING
    for lo, hi in ((stops[0], stops[4]), (stops[1], stops[3])):
        assert _contrast_with_white(lo) == pytest.approx(_contrast_with_white(hi), rel=0.05), (lo, hi)
    assert _contrast_with_white(stops[0]) > 7


def test_the_focus_colour_is_apart_from_both_weight_colours() -> None:
    def distance(a: str, b: str) -> float:
        return math.dist([int(a[i : i + 2], 16) for i in (1, 3, 5)], [int(b[i : i + 2], 16) for i in (1, 3, 5)])

    for weight in (palette.W_POSITIVE, palette.W_NEGATIVE):
        assert distance(palette.FOCUS, weight) > 100, weight
