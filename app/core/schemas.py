"""Request and response models of the JSON API, every field bounded.

The bounds come from the app's ``Settings`` while a request validates
(``app.core.limits``), so two apps with different settings enforce their own;
the OpenAPI document names the setting that bounds each field. Cross-field checks
(shapes against sizes, the parameter budget) raise errors whose message starts
with the dotted name of the field at fault, e.g. ``network.weights[1]: …``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)
from typing_extensions import TypeAliasType

from backprop_lens.app.core.limits import at_most, limit, most_items, within
from backprop_lens.engine import Network, Trace
from backprop_lens.engine.network import check_batch, check_shapes, parameter_count

ActivationName = Literal["sigmoid", "tanh", "relu", "linear"]
CostName = Literal["quadratic", "cross_entropy"]
InitName = Literal["standard", "scaled"]

Number = Annotated[float, Field(allow_inf_nan=False), within("max_abs_value")]
Row = Annotated[list[Number], Field(min_length=1), most_items("max_width")]
Matrix = Annotated[list[Row], Field(min_length=1), most_items("max_width")]
Width = Annotated[int, Field(ge=1), at_most("max_width")]
Layers = most_items("max_layers")

# Named types: each is one component schema in /openapi.json, referenced by every request that uses it, so a
# generated client has one `Examples` class rather than `Input1` … `Input10` (one inline copy per request model).
Activation = TypeAliasType("Activation", ActivationName)
Activations = TypeAliasType("Activations", Annotated[list[Activation], Field(min_length=1), Layers])
CostFunction = TypeAliasType("CostFunction", CostName)
Init = TypeAliasType("Init", InitName)
Weights = TypeAliasType("Weights", Annotated[list[Matrix], Field(min_length=1), Layers])
Biases = TypeAliasType("Biases", Annotated[list[Row], Field(min_length=1), Layers])
Examples = TypeAliasType("Examples", Annotated[list[Row], Field(min_length=1), most_items("max_batch")])
Example = TypeAliasType("Example", Row)


def one_example(value: Any) -> Any:
    """A flat list of numbers is one example, as the library takes a 1-D x: ``[x]``; anything else as it is."""
    if isinstance(value, list) and value and not any(isinstance(item, list) for item in value):
        return [value]
    return value


ExamplesOrOne = Annotated[Examples, BeforeValidator(one_example, json_schema_input_type=Examples | Example)]
"""m examples as rows, or one example as a flat list (read as one row)."""

WORKED_EXAMPLE: dict[str, Any] = {
    "network": {
        "sizes": [2, 2, 2],
        "activation": "sigmoid",
        "weights": [[[0.15, 0.20], [0.25, 0.30]], [[0.40, 0.45], [0.50, 0.55]]],
        "biases": [[0.35, 0.35], [0.60, 0.60]],
    },
    "cost_function": "quadratic",
    "inputs": [[0.05, 0.10]],
    "targets": [[0.01, 0.99]],
}


class Strict(BaseModel):
    # strict: a JSON `true` is not the integer 1, and "0.5" is not a number.
    model_config = ConfigDict(strict=True, extra="forbid")


def check_budget(sizes: list[int], field: str) -> None:
    """ValueError naming ``field`` when a network of ``sizes`` has more parameters than ``max_parameters``."""
    params = parameter_count(sizes)
    if params > int(limit("max_parameters")):
        raise ValueError(f"{field}: {sizes} has {params} parameters; the limit is {int(limit('max_parameters'))}")


class NetworkSpec(Strict):
    """A network: its sizes and either explicit weights and biases or a seed."""

    model_config = ConfigDict(title="Network")

    sizes: Annotated[
        list[Width],
        Field(min_length=2, description="Neurons per layer n_1..n_L, the input layer first (at most max_layers)."),
        Layers,
    ]
    activation: Activation | Activations = Field(
        "sigmoid", description="One activation for every layer, or one per layer 2..L."
    )
    weights: Weights | None = Field(None, description="w^2..w^L; w^l is a list of n_l rows of n_{l-1} numbers.")
    biases: Biases | None = Field(None, description="b^2..b^L; b^l has n_l numbers.")
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = Field(
        0, description="Seeds N(0,1) initial weights when weights and biases are not given."
    )
    init: Init = Field("standard", description="standard: w ~ N(0,1); scaled: w ~ N(0, 1/n_in). Biases ~ N(0,1).")

    @model_validator(mode="after")
    def _check(self) -> NetworkSpec:
        sizes = self.sizes
        n_layers = len(sizes) - 1
        check_budget(sizes, "network.sizes")
        if isinstance(self.activation, list) and len(self.activation) != n_layers:
            raise ValueError(
                f"network.activation: expected one name or {n_layers} names (layers 2..L), got {len(self.activation)}"
            )
        if (self.weights is None) != (self.biases is None):
            missing = "biases" if self.biases is None else "weights"
            raise ValueError(f"network.{missing}: give weights and biases together, or neither")
        if self.weights is not None and self.biases is not None:
            try:
                check_shapes(sizes, self.weights, self.biases)  # the engine's check, in the engine's words
            except ValueError as e:
                raise ValueError(f"network.{e}") from None
        return self

    def activation_list(self) -> list[ActivationName]:
        n_layers = len(self.sizes) - 1
        return [self.activation] * n_layers if isinstance(self.activation, str) else list(self.activation)

    def build(self) -> Network:
        """The engine's network for this spec (validated shapes, so this cannot fail)."""
        return Network(
            self.sizes,
            weights=self.weights,
            biases=self.biases,
            activation=self.activation_list(),
            seed=self.seed,
            init=self.init,
        )


class SeededNetwork(BaseModel):
    """The query of ``GET /api/networks``: a network given by its sizes and seed, whose weights the reply writes out.

    Not strict: a query's values are text (``?sizes=2&sizes=3&sizes=1&seed=7``)."""

    model_config = ConfigDict(extra="forbid")

    sizes: Annotated[
        list[Width], Field(min_length=2, description="n_1..n_L, one `sizes` parameter per layer, in order."), Layers
    ]
    activation: Activation = "sigmoid"
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = 0
    init: Init = Field("standard", description="standard: w ~ N(0,1); scaled: w ~ N(0, 1/n_in). Biases ~ N(0,1).")

    @model_validator(mode="after")
    def _check(self) -> SeededNetwork:
        check_budget(self.sizes, "query.sizes")  # worded as FastAPI words the fields of a query
        return self

    def spec(self) -> NetworkSpec:
        """The network the seed draws (as ``NetworkSpec`` without weights draws it), its weights written out."""
        net = Network(self.sizes, activation=self.activation, seed=self.seed, init=self.init)
        return NetworkSpec.model_construct(
            sizes=self.sizes,
            activation=self.activation,
            weights=[w.tolist() for w in net.weights],
            biases=[b.tolist() for b in net.biases],
            seed=self.seed,
            init=self.init,
        )


class GradientRequest(Strict):
    """A network, a cost and a batch of examples (one per row)."""

    model_config = ConfigDict(json_schema_extra={"examples": [WORKED_EXAMPLE]})

    network: NetworkSpec
    # Named for what it is: `cost` is a value of C in every reply.
    cost_function: CostFunction = Field("quadratic", description="The cost function C.")
    inputs: ExamplesOrOne = Field(
        description="m examples, each a list of n_1 numbers; or one example as a flat list of n_1 numbers."
    )
    targets: ExamplesOrOne = Field(
        description="m targets, each a list of n_L numbers; or one target as a flat list of n_L numbers."
    )
    trace: bool = Field(False, description="Also return z, a, σ'(z) and δ of every layer.")

    @model_validator(mode="after")
    def _check_batch(self) -> GradientRequest:
        sizes = self.network.sizes
        for name, rows, width in (("inputs", self.inputs, sizes[0]), ("targets", self.targets, sizes[-1])):
            if len(rows) == width and len({len(row) for row in rows}) == 1 and len(rows[0]) != width:
                check_batch(np.array(rows), width, name)  # the book's columns: the engine's words say so
            for k, row in enumerate(rows):
                if len(row) != width:
                    raise ValueError(
                        f"{name}[{k}]: expected {width} numbers (n_{1 if name == 'inputs' else len(sizes)} "
                        f"= {width}), got {len(row)}"
                    )
        if len(self.targets) != len(self.inputs):
            raise ValueError(f"targets: expected {len(self.inputs)} rows, one per input, got {len(self.targets)}")
        values = len(self.inputs) * max(sizes)
        if values > int(limit("max_batch_values")):
            raise ValueError(
                f"inputs: {len(self.inputs)} examples × {max(sizes)} neurons is {values} values; "
                f"the limit is {int(limit('max_batch_values'))}"
            )
        if self.cost_function == "cross_entropy":
            if self.network.activation_list()[-1] != "sigmoid":
                raise ValueError(
                    "network.activation: cross_entropy needs a sigmoid output layer, whose a^L lies in (0, 1)"
                )
            for k, row in enumerate(self.targets):
                if any(not 0.0 <= v <= 1.0 for v in row):
                    raise ValueError(f"targets[{k}]: cross_entropy needs targets between 0 and 1")
        return self


class TraceRequest(GradientRequest):
    """A gradient request plus the learning rate of the update step."""

    model_config = ConfigDict(json_schema_extra={"examples": [{**WORKED_EXAMPLE, "eta": 0.5}]})

    eta: Annotated[float, Field(gt=0, allow_inf_nan=False), at_most("max_eta")] = Field(
        0.5, description="Learning rate η of the update w → w − η ∂C/∂w."
    )


class LayerValues(BaseModel):
    layer: int = Field(description="l, from 2 to L.")
    z: list[list[float]] = Field(description="z^l, one row per example.")
    a: list[list[float]] = Field(description="a^l = σ(z^l), one row per example.")
    sigma_prime: list[list[float]] = Field(description="σ'(z^l), one row per example.")
    delta: list[list[float]] = Field(description="δ^l = ∂C/∂z^l, one row per example.")


class GradientResponse(BaseModel):
    cost: float = Field(description="C = (1/m) Σ_x C_x over the batch.")
    nabla_w: list[list[list[float]]] = Field(description="∂C/∂w^l for l = 2..L, each the shape of w^l.")
    nabla_b: list[list[float]] = Field(description="∂C/∂b^l for l = 2..L.")
    layers: list[LayerValues] | None = Field(None, description="Present when the request set trace.")


StepKind = TypeAliasType(
    "StepKind", Literal["input", "feedforward", "output_error", "backpropagate", "gradients", "update"]
)
Rows = list[list[float]]


class Reply(BaseModel):
    # A reply names every value it may carry: an engine value this model does not know fails loudly in the tests.
    model_config = ConfigDict(extra="forbid")


class Present(Reply):
    """A reply whose absent values are left out of its JSON rather than sent as null."""

    @model_serializer(mode="wrap")
    def _present(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if v is not None}


class StepValues(Present):
    """The arrays of one step, each present on the steps that show it; rows are examples."""

    a: Rows | None = Field(None, description="a^l: the input x (input), or σ(z^l) (feedforward).")
    z: Rows | None = Field(None, description="z^l = w^l a^{l-1} + b^l (eq. 25).")
    y: Rows | None = Field(None, description="The targets (output_error).")
    nabla_a: Rows | None = Field(None, description="∇_a C at the output layer (BP1).")
    sigma_prime: Rows | None = Field(None, description="σ'(z^l).")
    delta: Rows | None = Field(None, description="δ^l (BP1 at the output layer, BP2 below it).")
    w_next_T_delta_next: Rows | None = Field(None, description="(w^{l+1})^T δ^{l+1} (BP2).")  # noqa: N815 (the engine's key)
    nabla_b: list[float] | None = Field(None, description="∂C/∂b^l, averaged over the batch (BP3).")
    nabla_w: Rows | None = Field(None, description="∂C/∂w^l, the shape of w^l (BP4).")
    weights: list[Rows] | None = Field(None, description="w^2..w^L after the update (eq. 20).")
    biases: Rows | None = Field(None, description="b^2..b^L after the update (eq. 21).")


class StepScalars(Present):
    """The numbers of one step: C at the output error, η and C before and after at the update."""

    cost: float | None = Field(None, description="C of the batch (output_error).")
    eta: float | None = None
    cost_before: float | None = None
    cost_after: float | None = None


class Step(Reply):
    index: int
    kind: StepKind
    equation: str
    layer: int | None
    title: str
    values: StepValues = Field(description="The step's arrays (only those it shows are present).")
    scalars: StepScalars


class TraceResponse(Reply):
    cost_function: CostFunction
    eta: float
    cost_before: float
    cost_after: float
    steps: list[Step]

    @classmethod
    def of(cls, t: Trace) -> TraceResponse:
        """The reply for a trace: its dictionary, with the cost function under its own name."""
        d = t.to_dict()
        d["cost_function"] = d.pop("cost")
        return cls.model_validate(d)


class Health(BaseModel):
    status: Literal["ok"]
    version: str


class Ready(BaseModel):
    """Readiness: whether this process can serve everything (its Redis reachable and writable, a worker alive)."""

    status: Literal["ready", "not ready"]
    reasons: list[str] = Field(description="What is wrong, in words; empty when ready.")


class ErrorItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(BaseModel):
    message: str = Field(description="The first problem, naming the field.")
    detail: list[ErrorItem] | str
