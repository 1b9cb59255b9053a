"""The page's configuration form: text fields in, a validated ``TraceRequest`` out.

The form (and a permalink's query string) carries short texts: ``sizes`` as
"2, 2, 2", ``x`` as "0.05, 0.10", weights as JSON. This module only turns those
texts into the JSON API's request, so every rule about networks, costs and
limits stays in ``app.core.schemas`` (which reads the app's limits as it
validates); the page's own limits (layers drawn, iterations replayed) come in
as arguments from the route's settings. Its errors come back keyed by the form field
they belong to, worded as the API words them, every field's at once. Numbers
are read by ``app.core.forms.read_number``, so the page's own minus sign "−" works.

New sizes that the weights on the form do not fit, when those weights fit the
network on screen (the hidden ``previous_sizes``), are a new network: its
weights are drawn from the seed and ``PageRequest.notice`` says so. Weights
that fit neither are a mistake, named beside the weights field.

Left out: batches. The page traces one example (x, y) at a time.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, get_args
from urllib.parse import urlencode

import numpy as np
from pydantic import ValidationError

from backprop_lens.app.core.errors import clean_errors, unknown_name, validation_message
from backprop_lens.app.core.forms import read_number, read_numbers
from backprop_lens.app.core.schemas import WORKED_EXAMPLE, ActivationName, NetworkSpec, TraceRequest

FIELDS = ("sizes", "activation", "cost", "init", "x", "y", "eta", "seed", "weights", "biases", "scale")
SCALES = {"": "layer", "layer": "layer", "network": "network"}
"""The form's ``scale``: δ and ∂C/∂w coloured per layer (the default, left out of permalinks) or on one scale."""

INIT_TEXT = {"standard": "N(0, 1)", "scaled": "N(0, 1/n_in)"}
"""How the page names the spread of weights drawn from the seed (``NetworkSpec.init``)."""

# The first part of an API error message (its field) → the form field showing it.
_FIELD_OF = (
    ("network.sizes", "sizes"),
    ("network.activation", "activation"),
    ("network.weights", "weights"),
    ("network.biases", "biases"),
    ("network.seed", "seed"),
    ("network.init", "init"),
    ("inputs", "x"),
    ("targets", "y"),
    ("cost", "cost"),
    ("eta", "eta"),
)


def _numbers_text(values: list[float]) -> str:
    return ", ".join(repr(v) for v in values)


def default_form() -> dict[str, str]:
    """The worked example (the API docs' 2-2-2 network) with η = 0.5, as form texts."""
    net = WORKED_EXAMPLE["network"]
    return {
        "sizes": ", ".join(str(n) for n in net["sizes"]),
        "activation": net["activation"],
        "cost": WORKED_EXAMPLE["cost_function"],
        "init": "standard",
        "x": _numbers_text(WORKED_EXAMPLE["inputs"][0]),
        "y": _numbers_text(WORKED_EXAMPLE["targets"][0]),
        "eta": "0.5",
        "seed": "0",
        "weights": json.dumps(net["weights"]),
        "biases": json.dumps(net["biases"]),
        "scale": "",  # δ and ∂C/∂w a scale per layer
    }


@dataclass(frozen=True)
class PageRequest:
    """A validated configuration: the API request, how many updates precede it, the form texts.

    ``iteration`` counts updates: iteration 0 is the pass of the initial weights, iteration n the pass
    after n updates (the page's label, the permalink's ``iteration=n`` and the trace JSON agree).
    ``notice`` is what the page should say about how it read the form (fresh weights for new sizes).
    ``present`` is lecture mode, which a permalink keeps (``present=1``) so that a lecturer can bookmark it.
    """

    request: TraceRequest
    iteration: int
    form: Mapping[str, str]
    notice: str = ""
    present: bool = False  # lecture mode (``present=1``): the same run drawn for a projector

    def query(self, iteration: int | None = None, step: int = 0, line: int = 0) -> str:
        """The permalink's query string: the form texts, not the numbers they produce; with ``step`` (from 0)
        and ``line`` (from 1; 0 for none) when the view is past the first step or on a line."""
        n = self.iteration if iteration is None else iteration
        pairs = [(name, self.form[name]) for name in FIELDS if self.form.get(name, "") != ""]
        if n:
            pairs.append(("iteration", str(n)))
        if self.present:
            pairs.append(("present", "1"))
        if step:
            pairs.append(("step", str(step)))
        if line:
            pairs.append(("line", str(line)))
        return urlencode(pairs)

    def next(self, by: int = 1) -> PageRequest:
        """The same configuration ``by`` gradient steps later (in lecture mode if this is)."""
        return dataclasses.replace(self, iteration=self.iteration + by, notice="")

    def presenting(self, on: bool) -> PageRequest:
        """This configuration in lecture mode, or out of it."""
        return dataclasses.replace(self, present=on, notice="")

    @property
    def scale(self) -> str:
        """The backward scales' scope: "layer" (each layer its own) or "network" (one for the network)."""
        return SCALES.get(self.form.get("scale", ""), "layer")

    @property
    def summary(self) -> str:
        """One line describing this network: "2-3-2 · sigmoid · quadratic · η 0.5 · seed 0, N(0, 1)"."""
        req = self.request
        net = req.network
        names = net.activation_list()
        activation = names[0] if len(set(names)) == 1 else ", ".join(names)
        weights = "pasted weights" if net.weights is not None else f"seed {net.seed}, {INIT_TEXT[net.init]}"
        cost = req.cost_function.replace("_", "-")
        return f"{'-'.join(str(n) for n in net.sizes)} · {activation} · {cost} · η {req.eta:g} · {weights}"


class FormError(Exception):
    """Problems with the form, by field name: {"sizes": "sizes: …"}."""

    def __init__(self, errors: dict[str, str], form: Mapping[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors
        self.form = dict(form)


_NAMES = re.compile(r"[\s,;]+")
_SIZES = re.compile(r"[^\s,;x×\-\u2212]+")
_JSON_NUMBER = re.compile(r"[^\s\[\],]+")  # in a JSON list of numbers, whatever lies between brackets and commas
ACTIVATIONS: tuple[str, ...] = get_args(ActivationName)
PRESENT = {"": False, "0": False, "1": True, "true": True, "false": False}
"""What a permalink's ``present`` may say (lecture mode or not)."""


MAX_LINE = 10_000
"""The largest line a URL may name (``line=``; a step has far fewer: a line past its last is its last)."""


def read_position(form: Mapping[str, str], steps: int) -> tuple[int, int]:
    """The step (0 … steps − 1; 0 when absent) and line (1 … ``MAX_LINE``; 0, none, when absent) a URL asks for;
    ValueError saying which is wrong. Whether the step has that many lines is the page's to find out (lecture mode
    walks only the lines the screen cannot hold at once): a line past the last is the last."""
    found = []
    for name, most in (("step", steps - 1), ("line", MAX_LINE)):
        text = form.get(name, "").strip()
        if text and (not text.isdigit() or int(text) > most or (name == "line" and int(text) == 0)):
            least = 1 if name == "line" else 0
            raise ValueError(f"{name}: a whole number from {least} to {most}, got {text[:20]!r}")
        found.append(int(text) if text else 0)
    return found[0], found[1]


NEW_NUMBERS_DIGITS = 2  # x and y are drawn as numbers a student copies onto paper
MAX_SEED = 2**31 - 1


def with_new_numbers(form: Mapping[str, str], seed: int) -> dict[str, str]:
    """The form with the same architecture (sizes, activations, cost, η, initialisation, scale) and new numbers:
    weights drawn from ``seed``, and x and y drawn from it too, uniform in [0, 1) at two decimals, written out so
    that the permalink holds them. Sizes that do not read are left for ``parse_form`` to word."""
    new = dict(form)
    tokens = _sizes(form.get("sizes", ""))
    new.update(seed=str(seed), weights="", biases="", previous_sizes="")
    if len(tokens) >= 2 and all(t.isdigit() for t in tokens):
        rng = np.random.default_rng(seed)
        x = np.round(rng.uniform(0.0, 1.0, int(tokens[0])), NEW_NUMBERS_DIGITS)
        y = np.round(rng.uniform(0.0, 1.0, int(tokens[-1])), NEW_NUMBERS_DIGITS)
        new.update(x=", ".join(f"{v:g}" for v in x), y=", ".join(f"{v:g}" for v in y))
    return new


def has_configuration(form: Mapping[str, str]) -> bool:
    """Whether a URL's query carries a configuration (a network at least), from which a run can be made again."""
    return form.get("sizes", "").strip() != ""


def _sizes(text: str) -> list[str]:
    return _SIZES.findall(text)


def _parse_fields(
    form: Mapping[str, str], max_layers: int, max_iterations: int
) -> tuple[dict[str, Any], int, dict[str, str]]:
    """The API's request body from the texts, the iteration, and every text that could not be read."""
    errors: dict[str, str] = {}
    body: dict[str, Any] = {"network": {}}

    def attempt(field: str, parse: Any) -> None:
        try:
            parse(form.get(field, "").strip())
        except ValueError as e:
            errors[field] = str(e)

    def sizes(text: str) -> None:
        tokens = _sizes(text)
        if not tokens:
            raise ValueError("sizes: give the neurons per layer, input layer first, e.g. 2, 3, 2")
        if not all(t.isdigit() for t in tokens):
            raise ValueError(f"sizes: whole numbers of neurons per layer, e.g. 2, 3, 2; got {text!r}")
        if not 2 <= len(tokens) <= max_layers:
            raise ValueError(f"sizes: the page draws 2 to {max_layers} layers, got {len(tokens)}")
        body["network"]["sizes"] = [int(t) for t in tokens]

    def activation(text: str) -> None:
        names = [t for t in _NAMES.split(text) if t] or ["sigmoid"]
        for i, name in enumerate(names):
            if name not in ACTIVATIONS:
                where = f" (layer {i + 2})" if len(names) > 1 else ""
                raise ValueError(f"activation: {unknown_name('activation', name, ACTIVATIONS, where)}")
        body["network"]["activation"] = names[0] if len(names) == 1 else names

    def numbers(field: str, key: str) -> Any:
        def parse(text: str) -> None:
            values = read_numbers(field, text)
            if not values:
                raise ValueError(f"{field}: give one number per neuron, separated by commas")
            body[key] = [values]

        return parse

    def eta(text: str) -> None:
        body["eta"] = read_number("eta", text) if text else 0.5

    def seed(text: str) -> None:
        if text and not text.isdigit():
            raise ValueError(f"seed: a whole number from 0 to 4294967295, got {text!r}")
        body["network"]["seed"] = int(text) if text else 0

    def matrix(field: str) -> Any:
        def parse(text: str) -> None:
            if not text:
                return
            # Each number goes through the one number reader (so "−0.5" is −0.5) and back as JSON.
            plain = _JSON_NUMBER.sub(lambda m: repr(read_number(field, m.group())), text)
            try:
                body["network"][field] = json.loads(plain)
            except json.JSONDecodeError as e:
                raise ValueError(f"{field}: not valid JSON ({e.msg} at character {e.pos})") from None

        return parse

    attempt("sizes", sizes)
    attempt("activation", activation)
    body["cost_function"] = form.get("cost", "").strip() or "quadratic"
    body["network"]["init"] = form.get("init", "").strip() or "standard"
    attempt("x", numbers("x", "inputs"))
    attempt("y", numbers("y", "targets"))
    attempt("eta", eta)
    attempt("seed", seed)
    attempt("weights", matrix("weights"))
    attempt("biases", matrix("biases"))

    if form.get("scale", "").strip() not in SCALES:
        errors["scale"] = "scale: choose layer or network"  # a choice from a list: what was sent is not shown
    present = form.get("present", "").strip().lower()
    if present not in PRESENT:
        errors["form"] = f"present: 1 for lecture mode, 0 or nothing for the page, got {present!r}"
    iteration = 0
    text = form.get("iteration", "").strip()
    if text:
        if not text.isdigit() or int(text) > max_iterations:
            errors["form"] = f"iteration: a whole number from 0 to {max_iterations}, got {text!r}"
        else:
            iteration = int(text)
    return body, iteration, errors


def _form_field(message: str) -> str:
    head = message.partition(":")[0]
    for prefix, field in _FIELD_OF:
        if head.startswith(prefix):
            return field
    return "form"


def _fits(sizes: list[int], weights: Any, biases: Any) -> bool:
    """Whether the weights and biases are those of a network of these sizes (by the API's own rules)."""
    try:
        NetworkSpec.model_validate({"sizes": sizes, "weights": weights, "biases": biases})
    except ValidationError:
        return False
    return True


def _fresh_weights(previous_sizes: str, body: dict[str, Any]) -> str:
    """For new sizes, drop the weights of the network on screen from ``body``; the notice saying so, or ""."""
    net = body["network"]
    sizes, weights, biases = net.get("sizes"), net.get("weights"), net.get("biases")
    tokens = _sizes(previous_sizes)
    if sizes is None or weights is None or biases is None or not tokens or not all(t.isdigit() for t in tokens):
        return ""
    previous = [int(t) for t in tokens]
    if previous == sizes or _fits(sizes, weights, biases) or not _fits(previous, weights, biases):
        return ""
    del net["weights"], net["biases"]
    spread = INIT_TEXT.get(net["init"], net["init"])
    return f"New sizes {'-'.join(str(n) for n in sizes)}: fresh weights drawn from seed {net.get('seed', 0)} ({spread})"


def _collect(errors: dict[str, str], body: dict[str, Any]) -> TraceRequest | None:
    """Validate ``body``; each error goes beside its field unless that field already has one."""
    try:
        return TraceRequest.model_validate(body)
    except ValidationError as e:
        for item in clean_errors(e.errors()):
            message = validation_message(item)
            if message.startswith("cost_function:"):  # the API's name for what this form calls `cost`
                message = "cost:" + message.removeprefix("cost_function:")
            errors.setdefault(_form_field(message), message)
    return None


def _stand_ins(body: dict[str, Any], errors: Mapping[str, str]) -> dict[str, Any]:
    """``body`` with valid defaults for the fields already at fault (zeros of the right width for x and y)."""
    net = dict(body["network"])
    sizes = net.get("sizes")
    whole = dict(body)
    # Stand-ins only for sizes within the app's limits (the API's own check): never a list of a billion zeros.
    if sizes is not None and "sizes" not in errors and _fits(sizes, None, None):
        for field, key, width in (("x", "inputs", sizes[0]), ("y", "targets", sizes[-1])):
            if field in errors or key not in whole:
                whole[key] = [[0.0] * width]
    for field, key, default in (("eta", "eta", 0.5), ("cost", "cost_function", "quadratic")):
        if field in errors or key not in whole:
            whole[key] = default
    for field, default in (("seed", 0), ("init", "standard")):
        if field in errors:
            net[field] = default
    for fields in (("activation",), ("weights", "biases")):
        if any(f in errors for f in fields):
            for f in fields:
                net.pop(f, None)
    whole["network"] = net
    return whole


def _check_each_part(errors: dict[str, str], body: dict[str, Any]) -> None:
    """The errors a whole-body validation hides.

    A model validator runs only when every field is valid and stops at its first problem (wrong activations
    hide wrong weights, a wrong network hides a wrong x), so the network's parts are checked one by one with
    valid stand-ins for the fields already at fault, until no new field turns up.
    """
    while True:
        found = len(errors)
        whole = _stand_ins(body, errors)
        net = whole["network"]
        base = {k: net[k] for k in ("sizes", "seed", "init") if k in net}
        for keys in (("activation",), ("weights", "biases"), ()):
            _collect(errors, {**whole, "network": {**base, **{k: net[k] for k in keys if k in net}}})
        if len(errors) == found:
            return


def parse_form(form: Mapping[str, str], max_layers: int, max_iterations: int) -> PageRequest:
    """The validated configuration, or ``FormError`` naming every field at fault.

    ``form["previous_sizes"]`` (the sizes of the network on screen, a hidden field of the page's form)
    lets new sizes replace that network's weights with fresh ones from the seed.
    """
    texts = {name: form.get(name, "").strip() for name in FIELDS}
    texts["cost"] = texts["cost"] or "quadratic"
    texts["init"] = texts["init"] or "standard"
    texts["scale"] = "network" if texts["scale"] == "network" else ""  # per layer, the default, goes unsaid
    body, iteration, errors = _parse_fields(form, max_layers, max_iterations)
    notice = _fresh_weights(form.get("previous_sizes", ""), body)
    request = None if errors else _collect(errors, body)
    if request is None:
        _check_each_part(errors, body)
        raise FormError(errors, texts)
    if notice:
        texts["weights"] = texts["biases"] = ""  # the permalink draws them from the seed again
    present = PRESENT[form.get("present", "").strip().lower()]
    return PageRequest(request=request, iteration=iteration, form=texts, notice=notice, present=present)
