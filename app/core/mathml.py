"""LaTeX to MathML on the server (latex2mathml), for Chromium to lay out natively.

``mathml`` renders a displayed equation; ``mathml_line`` a line of numbers as pieces that may wrap after an
operator; ``prose_math`` the engine's plain-text formulas inside a sentence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from latex2mathml.converter import convert
from markupsafe import Markup, escape
from numpy.typing import NDArray

Array = NDArray[np.float64]

# A minus right after "(" is a sign, not a subtraction: latex2mathml leaves it infix, which
# Chromium spaces as a binary operator, "( − 0.04)". Marking it prefix prints "(−0.04)".
_SIGN = re.compile(r'(<mo stretchy="false">&#x00028;</mo>|<mtd>|<mrow>)<mo>&#x02212;</mo>')


def _signs(markup: str) -> str:
    return _SIGN.sub(r'\1<mo form="prefix">&#x02212;</mo>', markup)


@lru_cache(maxsize=256)
def mathml(latex: str) -> Markup:
    """LaTeX → MathML (Chromium lays it out natively; nothing for the browser to download)."""
    return Markup(_signs(convert(latex, display="block")))  # latex2mathml escapes its input


# A piece of a line ends at its operator: marked infix, it keeps its space on both sides
# (as the last child Chromium would lay it out as postfix, tight against its left operand).
_LAST_OPERATOR = re.compile(r"<mo>([^<]+)</mo></mrow></math>$")


@lru_cache(maxsize=4096)
def _inline(latex: str) -> str:
    return _LAST_OPERATOR.sub(r'<mo form="infix">\1</mo></mrow></math>', _signs(convert(latex)))


def mathml_line(pieces: Sequence[str]) -> Markup:
    """One equation as inline MathML pieces, each ending at an operator ("δ²₁ =", "0.4·0.1385 +", …).

    Chromium does not break a long ``<math>`` across lines, so a sum wider than its
    panel would be cut off. Separate pieces wrap like words between them: a line
    breaks after an operator and continues below, and the result is never clipped.
    """
    return Markup(" ".join(_inline(p) for p in pieces))


# The engine's sentences write their formulas in plain text ("δ^L_j = ∂C/∂a^L_j · σ'(z^L_j)").
# A word is part of a formula if it has a mark no English word has, or brackets or a slash
# around something that is not a word ("(a", "y)/(a(1" but not "(low-activation", "BP1/BP2"),
# or is a number right after a formula ("≈ 0").
_FORMULA_MARK = re.compile(r"[\^_=≈·δσ∂∇']")
_PLAIN_WORD = re.compile(r"\(?[A-Za-z][A-Za-z0-9/-]{2,}\)?")
_TO_TEX = {"−": "-", "≈": r"\approx ", "·": r"\cdot ", "∂": r"\partial ", "δ": r"\delta ", "σ": r"\sigma ",
           "∇": r"\nabla "}  # fmt: skip


def _formula_word(word: str, in_formula: bool) -> bool:
    if _FORMULA_MARK.search(word) or word == "−":
        return True
    if re.search(r"[()/−]", word):
        return not _PLAIN_WORD.fullmatch(word)
    return in_formula and bool(re.fullmatch(r"\d+(\.\d+)?", word))


def prose_math(text: str) -> Markup:
    """A sentence whose formulas are plain text, as HTML with each formula in MathML."""
    out: list[str] = []
    formula: list[str] = []

    def end_formula(tail: str = "") -> None:
        if formula:
            latex = " ".join(formula)
            for char, command in _TO_TEX.items():
                latex = latex.replace(char, command)
            out.append(_inline(latex) + str(escape(tail)))
            formula.clear()

    for word in text.split(" "):
        core, tail = (word[:-1], word[-1]) if word[-1:] in (",", ";", ":", ".") else (word, "")
        if core and _formula_word(core, bool(formula)):
            formula.append(core)
            if tail:
                end_formula(tail)
            continue
        end_formula()
        out.append(str(escape(word)))
    end_formula()
    return Markup(" ".join(out))
