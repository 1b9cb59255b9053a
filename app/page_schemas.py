"""The page's configuration form: text fields in, a validated ``TraceRequest`` out.

The form (and a permalink's query string) carries short texts: ``sizes`` as
"2, 2, 2", ``x`` as "0.05, 0.10", weights as JSON. This module only turns those
texts into the JSON API's request, so every rule about networks, costs and
limits stays in ``app.schemas``; its errors come back keyed by the form field
they belong to, worded as the API words them.

Left out: batches. The page traces one example (x, y) at a time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from pydantic import ValidationError

from app.errors import clean_errors, validation_message
from app.schemas import WORKED_EXAMPLE, TraceRequest

FIELDS = ("sizes", "activation", "cost", "x", "y", "eta", "seed", "weights", "biases")

# The first part of an API error message (its field) → the form field showing it.
_FIELD_OF = (
    ("network.sizes", "sizes"),
    ("network.activation", "activation"),
    ("network.weights", "weights"),
    ("network.biases", "biases"),
    ("network.seed", "seed"),
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
        "cost": WORKED_EXAMPLE["cost"],
        "x": _numbers_text(WORKED_EXAMPLE["inputs"][0]),
        "y": _numbers_text(WORKED_EXAMPLE["targets"][0]),
        "eta": "0.5",
        "seed": "0",
        "weights": json.dumps(net["weights"]),
        "biases": json.dumps(net["biases"]),
    }


@dataclass(frozen=True)
class PageRequest:
    """A validated configuration: the API request, how many updates precede it, and the form texts."""

    request: TraceRequest
    iteration: int
    form: Mapping[str, str]

    def query(self, iteration: int | None = None) -> str:
        """The permalink's query string: the form texts, not the numbers they produce."""
        n = self.iteration if iteration is None else iteration
        pairs = [(name, self.form[name]) for name in FIELDS if self.form.get(name, "") != ""]
        if n:
            pairs.append(("iteration", str(n)))
        return urlencode(pairs)

    def next(self) -> PageRequest:
        """The same configuration one gradient step later."""
        return PageRequest(request=self.request, iteration=self.iteration + 1, form=self.form)


class FormError(Exception):
    """Problems with the form, by field name: {"sizes": "sizes: …"}."""

    def __init__(self, errors: dict[str, str], form: Mapping[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors
        self.form = dict(form)


_SPLIT = re.compile(r"[\s,;]+")


def _tokens(text: str) -> list[str]:
    return [t for t in _SPLIT.split(text.strip()) if t]


def _float(field: str, token: str) -> float:
    try:
        return float(token)
    except ValueError:
        raise ValueError(f"{field}: {token!r} is not a number") from None


def _parse_fields(form: Mapping[str, str], max_layers: int, max_iterations: int) -> tuple[dict[str, Any], int]:
    errors: dict[str, str] = {}
    body: dict[str, Any] = {"network": {}}

    def attempt(field: str, parse: Any) -> None:
        try:
            parse(form.get(field, "").strip())
        except ValueError as e:
            errors[field] = str(e)

    def sizes(text: str) -> None:
        tokens = re.findall(r"[^\s,;x×\-]+", text)
        if not tokens:
            raise ValueError("sizes: give the neurons per layer, input layer first, e.g. 2, 3, 2")
        if not all(t.isdigit() for t in tokens):
            raise ValueError(f"sizes: whole numbers of neurons per layer, e.g. 2, 3, 2; got {text!r}")
        if not 2 <= len(tokens) <= max_layers:
            raise ValueError(f"sizes: the page draws 2 to {max_layers} layers, got {len(tokens)}")
        body["network"]["sizes"] = [int(t) for t in tokens]

    def activation(text: str) -> None:
        names = _tokens(text) or ["sigmoid"]
        body["network"]["activation"] = names[0] if len(names) == 1 else names

    def numbers(field: str, key: str) -> Any:
        def parse(text: str) -> None:
            tokens = _tokens(text)
            if not tokens:
                raise ValueError(f"{field}: give one number per neuron, separated by commas")
            body[key] = [[_float(field, t) for t in tokens]]

        return parse

    def eta(text: str) -> None:
        body["eta"] = _float("eta", text) if text else 0.5

    def seed(text: str) -> None:
        if text and not text.isdigit():
            raise ValueError(f"seed: a whole number from 0 to 4294967295, got {text!r}")
        body["network"]["seed"] = int(text) if text else 0

    def matrix(field: str) -> Any:
        def parse(text: str) -> None:
            if not text:
                return
            try:
                body["network"][field] = json.loads(text)
            except json.JSONDecodeError as e:
                raise ValueError(f"{field}: not valid JSON ({e.msg} at character {e.pos})") from None

        return parse

    attempt("sizes", sizes)
    attempt("activation", activation)
    body["cost"] = form.get("cost", "").strip() or "quadratic"
    attempt("x", numbers("x", "inputs"))
    attempt("y", numbers("y", "targets"))
    attempt("eta", eta)
    attempt("seed", seed)
    attempt("weights", matrix("weights"))
    attempt("biases", matrix("biases"))

    iteration = 0
    text = form.get("iteration", "").strip()
    if text:
        if not text.isdigit() or int(text) > max_iterations:
            errors["form"] = f"iteration: a whole number from 0 to {max_iterations}, got {text!r}"
        else:
            iteration = int(text)
    if errors:
        raise FormError(errors, form)
    return body, iteration


def _form_field(message: str) -> str:
    head = message.partition(":")[0]
    for prefix, field in _FIELD_OF:
        if head.startswith(prefix):
            return field
    return "form"


def parse_form(form: Mapping[str, str], max_layers: int, max_iterations: int) -> PageRequest:
    """The validated configuration, or ``FormError`` naming each field at fault."""
    texts = {name: form.get(name, "").strip() for name in FIELDS}
    texts["cost"] = texts["cost"] or "quadratic"
    body, iteration = _parse_fields(form, max_layers, max_iterations)
    try:
        request = TraceRequest.model_validate(body)
    except ValidationError as e:
        errors: dict[str, str] = {}
        for item in clean_errors(e.errors()):
            message = validation_message(item)
            errors.setdefault(_form_field(message), message)
        raise FormError(errors, texts) from None
    return PageRequest(request=request, iteration=iteration, form=texts)
