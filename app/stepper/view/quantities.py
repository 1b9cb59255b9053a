"""The quantities a step computes that a person can be asked for, how an answer is read, and how it is checked.

Each step of the equation panel computes numbers: eq. 25 a z and an a per neuron, BP1 and BP2 a δ, BP3 and BP4 a
∂C/∂b per neuron and a ∂C/∂w per edge, the update a new w and b. Each is a ``Quantity``: its key (the tables'
``data-q``: "delta-3-1", "nabla_w-3-1-2", "w_new-2-1-1"), its symbol ("δ³₁"), its value, the diagram's items it
lives on, the factors its line multiplies, and the usual mistakes that apply to that line, each computed exactly
from this example's numbers (``Mistake``):

* σ′ left out; σ(z) used for σ′(z); w not transposed (w_jk where w_kj belongs, where the shapes let it happen);
* the sign of a − y flipped (BP1); η left out, or the update's sign wrong;
* z^{l−1} used for a^{l−1} in BP4; the previous layer's δ used unchanged (BP2, BP3, BP4).

A mistake that gives the right number within the tolerance, or the same number as a mistake before it, is left
out: a bin is a number a student can tell apart. An answer is right within the tolerance (``close``): the value's
4 significant digits, or 1% of it. The class's questions (``app.classroom``) and the step-through's practice mode
check answers with the same ``check``.

Left out: where answers are kept and counted (the classroom), the markup (templates).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from backprop_lens.app.core.format import fmt, sub, sup
from backprop_lens.app.stepper.view.model import MAX_DRAWN, RunView, drawn
from backprop_lens.engine import Step

RELATIVE = 0.01
"""An answer within 1% of the value is right."""
SIGNIFICANT = 4
"""An answer that agrees with the value to 4 significant digits is right."""
ZERO = 1e-9
"""How far from 0 an answer may be when the value is 0 (a dead ReLU's δ): no relative rule can apply."""
MAX_INPUTS_ASKED = 4
"""BP4 and the update offer the weights from a neuron's first 4 inputs; the tables hold the others."""
MAX_ANSWER_CHARS = 40
"""An answer longer than this is not a number anyone typed."""
KEY_PATTERN = r"^(z|a|delta|nabla_b|b_new)-[0-9]{1,4}-[0-9]{1,4}$|^(nabla_w|w_new)-[0-9]{1,4}-[0-9]{1,4}-[0-9]{1,4}$"
"""A quantity's key as the routes accept it: "delta-3-1", "nabla_w-3-1-2"."""


@dataclass(frozen=True)
class Mistake:
    """A usual mistake on one line: its name in words, the number it gives here, and the sentence that names the
    first wrong factor (practice mode)."""

    name: str
    value: float
    sentence: str


@dataclass(frozen=True)
class Quantity:
    key: str
    symbol: str
    value: float
    ids: tuple[str, ...]  # the diagram's items it is about: a neuron, or an edge and its neurons
    factors: tuple[str, ...]  # the factors its line combines, in words ("(w³)ᵀδ³ at neuron 1", "σ′(z²₁)")
    mistakes: tuple[Mistake, ...]
    scale: float | None = None  # an updated parameter's step η∂C/∂w: the tolerance is of the step (see ``close``)


@dataclass(frozen=True)
class Verdict:
    right: bool
    mistake: Mistake | None
    text: str  # one sentence for the person who answered


_NAMES = {"z": "z", "a": "a", "delta": "δ", "nabla_b": "∂C/∂b", "nabla_w": "∂C/∂w", "b_new": "b", "w_new": "w"}


def symbol_of(key: str) -> str:
    """A quantity's symbol from its key: "delta-3-1" → "δ³₁", "nabla_w-3-1-2" → "∂C/∂w³₁₂", "w_new-2-1-1" →
    "w²₁₁ after the update"; KeyError or ValueError for a key no step computes."""
    name, layer, *index = key.split("-")
    symbol = f"{_NAMES[name]}{sup(int(layer))}{sub(*(int(i) for i in index))}"
    return f"{symbol} after the update" if name.endswith("_new") else symbol


def _rounded(v: float) -> float:
    return float(f"{v:.{SIGNIFICANT - 1}e}")


def close(answer: float, value: float, scale: float | None = None) -> bool:
    """Whether ``answer`` is ``value`` within the tolerance: its 4 significant digits, or 1% of it.

    ``scale``: for an updated weight or bias, the step it moved by (``value + scale`` is where it started). A step
    is often far below 1% of the weight: the 1% is then of the step, and 4 significant digits count only where they
    tell the new weight from the old, so that a weight left unchanged is not right."""
    if not (math.isfinite(answer) and math.isfinite(value)):
        return answer == value
    if value == 0:
        return abs(answer) <= ZERO
    size = abs(value) if scale is None else min(abs(value), abs(scale))
    if abs(answer - value) <= RELATIVE * size:
        return True
    digits_tell = scale is None or _rounded(value) != _rounded(value + scale)
    return digits_tell and _rounded(answer) == _rounded(value)


_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?", re.ASCII)  # the digits 0–9 only, as common.js
_TIMES_TEN = re.compile(r"^(?P<m>.+?)\s*[×x*·]\s*10\s*(\^\s*)?(?P<e>[+-]?\d+)$", re.ASCII)


class AnswerError(ValueError):
    """A typed answer that is not a number; the message is the sentence the person reads."""


def parse_answer(text: str) -> float:
    """A number as a person types it: −, U+2212 or -, a decimal point or comma, 1e-3, ×10⁻³ (or x10^-3).

    The same rules as static/js/common.js's ``parseAnswer``; AnswerError says what is wrong in words."""
    raw = text.strip()
    if not raw:
        raise AnswerError("Type a number first.")
    if len(raw) > MAX_ANSWER_CHARS:
        raise AnswerError(f"That is {len(raw)} characters; a number here has at most {MAX_ANSWER_CHARS}.")
    s = raw.replace("\u2212", "-").replace("\u2009", "").replace(" ", "").translate(_SUPERSCRIPT).replace("E", "e")
    if s.count(",") == 1 and "." not in s:
        s = s.replace(",", ".")
    m = _TIMES_TEN.match(s)
    if m:
        s = f"{m.group('m')}e{m.group('e')}"
    if not _NUMBER.fullmatch(s):
        raise AnswerError(f"“{raw}” is not a number. Write it like −0.0123, −0,0123, -1.23e-2 or −1.23×10⁻².")
    value = float(s)
    if not math.isfinite(value):
        raise AnswerError(f"“{raw}” is too large to be a number here.")
    return value


def check(q: Quantity, answer: float) -> Verdict:
    """Right within the tolerance; else the usual mistake it matches, named; else wrong, with where to look."""
    if close(answer, q.value, q.scale):
        return Verdict(True, None, f"Right: {q.symbol} = {fmt(q.value, 4)}.")
    for m in q.mistakes:
        if close(answer, m.value, q.scale):
            return Verdict(False, m, f"Not quite: {m.sentence}")
    if len(q.factors) > 1:
        hint = f" Go over {' and '.join(q.factors)} and how the line combines them."
    else:
        hint = f" Go over the line again from {q.factors[0]}." if q.factors else ""
    return Verdict(False, None, f"Not right, nor one of the usual mistakes on this line: {fmt(answer, 4)}.{hint}")


def _kept(value: float, candidates: list[Mistake], scale: float | None = None) -> tuple[Mistake, ...]:
    """The mistakes a student's number can tell apart: finite, not the right value, not an earlier mistake's."""
    out: list[Mistake] = []
    for m in candidates:
        if not math.isfinite(m.value) or close(m.value, value, scale):
            continue
        if not any(close(m.value, o.value, scale) for o in out):
            out.append(m)
    return tuple(out)


def _n(v: float) -> str:
    return fmt(v, 4)


def _feedforward(r: RunView, layer: int, j: int) -> list[Quantity]:
    w, a_in, b = r.w[layer], r.a[layer - 1], float(r.b[layer][j])
    n_in = len(a_in)
    wa = float(sum(float(w[j, k]) * float(a_in[k]) for k in range(n_in)))
    z, a = float(r.z[layer][j]), float(r.a[layer][j])
    lj, prev = f"{sup(layer)}{sub(j + 1)}", sup(layer - 1)
    z_key, a_key = f"z-{layer}-{j + 1}", f"a-{layer}-{j + 1}"
    zs: list[Mistake] = []
    if w.shape[0] == w.shape[1]:
        wt = float(sum(float(w[k, j]) * float(a_in[k]) for k in range(n_in)))
        zs.append(Mistake(
            f"w{sup(layer)} not transposed: w{sup(layer)}ₖⱼ where w{sup(layer)}ⱼₖ belongs", wt + b,
            f"b{lj} = {_n(b)} is right; the sum is not: you used w{sup(layer)}ₖⱼ where w{sup(layer)}ⱼₖ belongs "
            f"(row {j + 1} of w{sup(layer)} multiplies a{prev}).",
        ))  # fmt: skip
    zs.append(Mistake(
        f"the bias b{lj} left out", wa,
        f"w{sup(layer)}a{prev} = {_n(wa)} at neuron {j + 1} is right; b{lj} = {_n(b)} is missing: you left it out.",
    ))  # fmt: skip
    act = r.acts[layer - 2]
    as_: list[Mistake] = []
    if act != "linear":
        as_.append(Mistake(
            f"the activation left out: a{lj} = z{lj}", z,
            f"z{lj} = {_n(z)} is right; a{lj} is not z{lj} itself: pass it through the activation ({act}).",
        ))  # fmt: skip
    ids = (f"n-{layer}-{j + 1}", *(f"e-{layer}-{j + 1}-{k + 1}" for k in range(n_in)))
    return [
        Quantity(z_key, symbol_of(z_key), z, ids, (f"w{sup(layer)}a{prev} at neuron {j + 1}", f"b{lj}"),
                 _kept(z, zs)),
        Quantity(a_key, symbol_of(a_key), a, (f"n-{layer}-{j + 1}",), (f"z{lj}",), _kept(a, as_)),
    ]  # fmt: skip


def _sigma_prime_mistakes(known: str, value: float, lj: str, sp: float, a: float) -> list[Mistake]:
    """BP1's and BP2's mistakes on σ′(z) when the factor before it (``known``: its words and value) is right: σ′
    left out, and σ(z) used for σ′(z)."""
    sp_sym = f"σ′(z{lj})"
    return [
        Mistake(f"{sp_sym} left out", value, f"{known} is right; {sp_sym} = {_n(sp)} is missing: you left it out."),
        Mistake(f"σ(z{lj}) used for {sp_sym}", value * a,
                f"{known} is right; {sp_sym} is not: you used σ(z{lj}) = {_n(a)} where {sp_sym} = {_n(sp)} belongs."),
    ]  # fmt: skip


def _output_error(r: RunView, j: int, y: float) -> list[Quantity]:
    L = r.L
    lj = f"{sup(L)}{sub(j + 1)}"
    a, sp, delta = float(r.a[L][j]), float(r.sp[L][j]), float(r.delta[L][j])
    key = f"delta-{L}-{j + 1}"
    sym = symbol_of(key)
    sp_sym = f"σ′(z{lj})"
    ms: list[Mistake]
    if r.t.cost == "cross_entropy" and r.acts[-1] == "sigmoid":
        factors: tuple[str, ...] = (f"a{lj} − y{sub(j + 1)}",)
        ms = [
            Mistake(f"{sp_sym} multiplied in (with cross-entropy it cancels)", (a - y) * sp,
                    f"a{lj} − y{sub(j + 1)} = {_n(a - y)} is right; {sp_sym} = {_n(sp)} does not belong: with the "
                    "cross-entropy cost on sigmoid outputs it cancels, and δᴸ = aᴸ − y."),
            Mistake(f"the sign of a{lj} − y{sub(j + 1)} flipped", y - a,
                    f"{sym} is a{lj} − y{sub(j + 1)}, not y{sub(j + 1)} − a{lj}: you flipped its sign."),
        ]  # fmt: skip
    else:
        grad = a - y if r.t.cost == "quadratic" else float(r.nabla_a[j])
        g_sym = f"a{lj} − y{sub(j + 1)}" if r.t.cost == "quadratic" else f"∂C/∂a{lj}"
        factors = (g_sym, sp_sym)
        ms = _sigma_prime_mistakes(f"{g_sym} = {_n(grad)}", grad, lj, sp, a)
        if r.t.cost == "quadratic":
            ms.append(
                Mistake(
                    f"the sign of a{lj} − y{sub(j + 1)} flipped",
                    (y - a) * sp,
                    f"{sp_sym} = {_n(sp)} is right; {g_sym} is not: you used y{sub(j + 1)} − a{lj}.",
                )
            )
    return [Quantity(key, sym, delta, (f"n-{L}-{j + 1}",), factors, _kept(delta, ms))]


def _backpropagate(r: RunView, layer: int, j: int) -> list[Quantity]:
    w_up, d_up = r.w[layer + 1], r.delta[layer + 1]
    n_up = len(d_up)
    s = float(sum(float(w_up[q, j]) * float(d_up[q]) for q in range(n_up)))
    sp, a, delta = float(r.sp[layer][j]), float(r.a[layer][j]), float(r.delta[layer][j])
    lj, up = f"{sup(layer)}{sub(j + 1)}", sup(layer + 1)
    back, sp_sym = f"(w{up})ᵀδ{up}", f"σ′(z{lj})"
    ms = _sigma_prime_mistakes(f"{back} = {_n(s)} at neuron {j + 1}", s, lj, sp, a)
    if w_up.shape[0] == w_up.shape[1]:
        t = float(sum(float(w_up[j, q]) * float(d_up[q]) for q in range(n_up)))
        ms.append(Mistake(
            f"w{up} not transposed: w{up}ⱼₖ where w{up}ₖⱼ belongs", t * sp,
            f"{sp_sym} = {_n(sp)} is right; {back} is not: you used row {j + 1} of w{up} (w{up}{sub(j + 1)}ₖ) "
            f"where its column {j + 1} (w{up}ₖ{sub(j + 1)}) belongs.",
        ))  # fmt: skip
    if j < n_up:
        ms.append(Mistake(
            f"the previous layer's δ{up}{sub(j + 1)} used unchanged", float(d_up[j]),
            f"δ{lj} is not δ{up}{sub(j + 1)}: BP2 carries δ{up} back through (w{up})ᵀ and multiplies by {sp_sym}.",
        ))  # fmt: skip
    key = f"delta-{layer}-{j + 1}"
    return [Quantity(key, symbol_of(key), delta, (f"n-{layer}-{j + 1}",), (back, sp_sym),
                     _kept(delta, ms))]  # fmt: skip


def _gradients(r: RunView, layer: int, j: int, inputs: int = MAX_INPUTS_ASKED) -> list[Quantity]:
    """BP3's ∂C/∂b of neuron j, then BP4's ∂C/∂w from its first ``inputs`` inputs."""
    lj, up = f"{sup(layer)}{sub(j + 1)}", sup(layer + 1)
    above = r.delta.get(layer + 1)
    bs: list[Mistake] = []
    if above is not None and j < len(above):
        bs.append(Mistake(f"the previous layer's δ{up}{sub(j + 1)} used", float(above[j]),
                          f"∂C/∂b{lj} is this layer's δ{lj} (BP3), not δ{up}{sub(j + 1)}."))  # fmt: skip
    b_key = f"nabla_b-{layer}-{j + 1}"
    out = [Quantity(b_key, symbol_of(b_key), float(r.nabla_b[layer][j]), (f"n-{layer}-{j + 1}",),
                    (f"δ{lj}",), _kept(float(r.nabla_b[layer][j]), bs))]  # fmt: skip
    return out + [_weight_gradient(r, layer, j, k) for k in range(min(len(r.a[layer - 1]), inputs))]


def _weight_gradient(r: RunView, layer: int, j: int, k: int) -> Quantity:
    """BP4's ∂C/∂w of the edge from neuron k of layer − 1 to neuron j."""
    lj, up, prev = f"{sup(layer)}{sub(j + 1)}", sup(layer + 1), sup(layer - 1)
    delta = float(r.delta[layer][j])
    above = r.delta.get(layer + 1)
    a_in = r.a[layer - 1]
    n_out = len(r.delta[layer])
    a_k = float(a_in[k])
    ljk = f"{sup(layer)}{sub(j + 1, k + 1)}"
    value = float(r.nabla_w[layer][j, k])
    ms: list[Mistake] = []
    if layer - 1 >= 2:
        z_k = float(r.z[layer - 1][k])
        ms.append(Mistake(
            f"z{prev}{sub(k + 1)} used for a{prev}{sub(k + 1)}", z_k * delta,
            f"δ{lj} = {_n(delta)} is right; a{prev}{sub(k + 1)} is not: you used z{prev}{sub(k + 1)} = "
            f"{_n(z_k)} where a{prev}{sub(k + 1)} = {_n(a_k)} belongs.",
        ))  # fmt: skip
    if j < len(a_in) and k < n_out:
        swapped = float(a_in[j]) * float(r.delta[layer][k])
        ms.append(Mistake(
            f"j and k swapped: a{prev}ⱼδ{sup(layer)}ₖ where a{prev}ₖδ{sup(layer)}ⱼ belongs", swapped,
            f"∂C/∂w{ljk} is a{prev}{sub(k + 1)}δ{lj}: you used a{prev}{sub(j + 1)}δ{sup(layer)}{sub(k + 1)}, "
            f"as if w{sup(layer)} were transposed.",
        ))  # fmt: skip
    if above is not None and j < len(above):
        ms.append(Mistake(
            f"the previous layer's δ{up}{sub(j + 1)} used", a_k * float(above[j]),
            f"a{prev}{sub(k + 1)} = {_n(a_k)} is right; δ{lj} is not: you used δ{up}{sub(j + 1)} = "
            f"{_n(float(above[j]))}.",
        ))  # fmt: skip
    ids = (f"e-{layer}-{j + 1}-{k + 1}", f"n-{layer - 1}-{k + 1}", f"n-{layer}-{j + 1}")
    w_key = f"nabla_w-{layer}-{j + 1}-{k + 1}"
    return Quantity(w_key, symbol_of(w_key), value, ids, (f"a{prev}{sub(k + 1)}", f"δ{lj}"), _kept(value, ms))


def _updated(name: str, key: str, old: float, grad: float, eta: float, new: float,
             ids: tuple[str, ...]) -> Quantity:  # fmt: skip
    ms = [
        Mistake("η left out", old - grad,
                f"{name} = {_n(old)} and ∂C/∂{name} = {_n(grad)} are right; η = {fmt(eta)} is missing: you left "
                "it out."),
        Mistake("the update's sign wrong: + η∂C/∂… where − belongs", old + eta * grad,
                f"η∂C/∂{name} = {_n(eta * grad)} is right; its sign is not: the step goes against the gradient, "
                f"{name} − η∂C/∂{name}."),
        Mistake(f"{name} not updated: the step η∂C/∂{name} left out", old,
                f"{name} = {_n(old)} is where the update starts; it moves by −η∂C/∂{name} = {_n(-eta * grad)}."),
    ]  # fmt: skip
    step = eta * grad
    return Quantity(key, symbol_of(key), new, ids, (name, f"η∂C/∂{name}"), _kept(new, ms, step), step)


def _updated_w(r: RunView, m: int, j: int, k: int) -> Quantity:
    w = f"w{sup(m)}{sub(j + 1, k + 1)}"
    return _updated(w, f"w_new-{m}-{j + 1}-{k + 1}", float(r.w[m][j, k]), float(r.nabla_w[m][j, k]), r.t.eta,
                    float(r.w_new[m][j, k]), (f"e-{m}-{j + 1}-{k + 1}",))  # fmt: skip


def _updated_b(r: RunView, m: int, j: int) -> Quantity:
    b = f"b{sup(m)}{sub(j + 1)}"
    return _updated(b, f"b_new-{m}-{j + 1}", float(r.b[m][j]), float(r.nabla_b[m][j]), r.t.eta,
                    float(r.b_new[m][j]), (f"n-{m}-{j + 1}",))  # fmt: skip


def _update(r: RunView) -> list[Quantity]:
    out: list[Quantity] = []
    for m in range(2, r.L + 1):
        for j in (i for i in drawn(r.sizes[m - 1])[:2] if i is not None):
            out += [_updated_w(r, m, j, k) for k in range(min(r.sizes[m - 2], MAX_INPUTS_ASKED))]
            out.append(_updated_b(r, m, j))
    return out


def askable(r: RunView, step: Step, *, lecture: bool = False) -> list[Quantity]:
    """What step ``step`` computes that can be asked, in the order of its lines: every neuron drawn, BP4's and the
    update's weights from each neuron's first ``MAX_INPUTS_ASKED`` inputs. The input layer computes nothing.

    ``lecture``: what lecture mode's lines show (``app.stepper.view.equation``): the first ``MAX_DRAWN`` neurons of a
    layer, and BP4's weights from as many of their inputs."""
    layer = step.layer or r.L
    if lecture:
        neurons, inputs = list(range(min(r.sizes[layer - 1], MAX_DRAWN))), MAX_DRAWN
    else:
        neurons, inputs = [j for j in drawn(r.sizes[layer - 1]) if j is not None], MAX_INPUTS_ASKED
    if step.kind == "feedforward":
        return [q for j in neurons for q in _feedforward(r, layer, j)]
    if step.kind == "output_error":
        y = step.values["y"]
        assert not isinstance(y, tuple)
        return [q for j in neurons for q in _output_error(r, j, float(y[0, j]))]
    if step.kind == "backpropagate":
        return [q for j in neurons for q in _backpropagate(r, layer, j)]
    if step.kind == "gradients":
        return [q for j in neurons for q in _gradients(r, layer, j, inputs)]
    if step.kind == "update":
        return _update(r)
    return []


def find(r: RunView, step: Step, key: str) -> Quantity | None:
    """The quantity ``key`` of step ``step`` (any neuron or weight it computes, not only those ``askable`` offers),
    or None when the step does not compute it."""
    try:
        name, layer_text, *index_text = key.split("-")
        layer, index = int(layer_text), [int(i) - 1 for i in index_text]
    except ValueError:
        return None
    weight = name in ("nabla_w", "w_new")
    if len(index) != 1 + weight or not 2 <= layer <= r.L or not 0 <= index[0] < r.sizes[layer - 1]:
        return None
    if weight and not 0 <= index[1] < r.sizes[layer - 2]:
        return None
    j = index[0]
    if step.kind == "update" or name in ("w_new", "b_new"):
        if step.kind != "update" or name not in ("w_new", "b_new"):
            return None
        q = _updated_w(r, layer, j, index[1]) if weight else _updated_b(r, layer, j)
        return q if q.key == key else None  # "w_new-02-1-1" names no line
    if layer != (step.layer or r.L):
        return None
    found: list[Quantity] = []
    if step.kind == "feedforward":
        found = _feedforward(r, layer, j)
    elif step.kind == "output_error":
        y = step.values["y"]
        assert not isinstance(y, tuple)
        found = _output_error(r, j, float(y[0, j]))
    elif step.kind == "backpropagate":
        found = _backpropagate(r, layer, j)
    elif step.kind == "gradients":
        found = [_weight_gradient(r, layer, j, index[1])] if weight else _gradients(r, layer, j, inputs=0)
    return next((q for q in found if q.key == key), None)
