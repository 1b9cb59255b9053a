"""The training form (and the CLI's arguments) as one bounded model, and what the stream sends.

The same ``TrainConfig`` validates the page's form fields (texts, each number
read by ``app.forms.read_number``, so the page's minus sign "−" and "1e-3" work)
and the ``train`` command's options (already numbers). Every bound comes from
``Settings``; cross-field errors start with the field's name. ``form_errors``
keys every error by the form field that shows it, as the step-through page does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

import annotated_types
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic.fields import FieldInfo

from backprop_lens.app.core.errors import clean_errors, validation_message
from backprop_lens.app.core.forms import number_tokens, read_number
from backprop_lens.app.core.limits import Limit, at_most, limit, most_items
from backprop_lens.app.core.schemas import ActivationName, CostName, ErrorItem, InitName
from backprop_lens.app.core.settings import current_settings
from backprop_lens.engine import Network
from backprop_lens.engine.datasets import GENERATED, Dataset, digits, from_csv, generated
from backprop_lens.engine.network import parameter_count

DatasetName = Literal["xor", "moons", "circles", "spirals", "digits", "csv"]
DATASET_LABELS: dict[str, str] = {
    "xor": "XOR (four blurred corners)",
    "moons": "Two moons",
    "circles": "Concentric circles",
    "spirals": "Two spirals",
    "digits": "Handwritten digits, 8×8 (1797 images)",
    "csv": "My own CSV",
}
assert set(DATASET_LABELS) - {"digits", "csv"} == set(GENERATED)
DIGITS_INPUTS, DIGITS_OUTPUTS = 64, 10
CSV_HELP = "Each row: numeric features, then a label (a class name or number); an optional header row."
DEFAULT_ETA = 2.0
"""The learning rate η of the page's form and of ``backprop-lens train`` when none is given."""
NUMBER_FIELDS = ("points", "noise", "test_fraction", "epochs", "batch", "eta", "lmbda", "seed", "delay_ms")


class TrainConfig(BaseModel):
    """A data set, a network and the SGD hyper-parameters of one training run."""

    model_config = ConfigDict(extra="forbid")

    dataset: DatasetName = "xor"
    points: Annotated[int, Field(ge=4), at_most("max_training_examples")] = Field(
        200, description="Points of a generated data set."
    )
    noise: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] = Field(
        0.1, description="σ of the Gaussian noise added to a generated data set."
    )
    test_fraction: Annotated[float, Field(ge=0.0, le=0.5, allow_inf_nan=False)] = Field(
        0.2, description="Share of the examples held out for testing."
    )
    hidden: Annotated[list[Annotated[int, Field(ge=1), at_most("max_width")]], most_items("max_layers", -2)] = Field(
        default_factory=lambda: [4], description="Widths of the hidden layers, e.g. 30 or 8,8."
    )
    activation: ActivationName = Field("sigmoid", description="σ of the hidden layers.")
    output_activation: ActivationName = Field("sigmoid", description="σ of the output layer.")
    cost: CostName = "cross_entropy"
    init: InitName = Field("scaled", description="standard: w ~ N(0, 1); scaled: w ~ N(0, 1/n_in).")
    epochs: Annotated[int, Field(ge=1), at_most("max_epochs")] = 300
    batch: Annotated[int, Field(ge=1), at_most("max_batch")] = Field(10, description="Mini-batch size m.")
    eta: Annotated[float, Field(gt=0.0, allow_inf_nan=False), at_most("max_eta")] = Field(
        DEFAULT_ETA, description="Learning rate η."
    )
    lmbda: Annotated[float, Field(ge=0.0, allow_inf_nan=False), at_most("max_lmbda")] = Field(
        0.0, description="L2 regularisation λ: each step w → (1 − ηλ/n) w − η ∂C₀/∂w (eq. 93); 0 for none."
    )
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = 0
    delay_ms: Annotated[int, Field(ge=0, le=1000)] = Field(
        0, description="A pause after every epoch so that a person can watch; not counted as training time."
    )
    csv: Annotated[str, most_items("max_csv_bytes")] = Field("", description=CSV_HELP)

    @field_validator(*NUMBER_FIELDS, mode="before")
    @classmethod
    def _number(cls, v: object, info: ValidationInfo) -> object:
        if isinstance(v, str):
            if not v.strip():
                raise ValueError(f"{info.field_name}: give a number")
            return read_number(str(info.field_name), v)  # whole numbers are checked by the field's type
        return v

    @field_validator("hidden", mode="before")
    @classmethod
    def _widths(cls, v: object) -> object:
        if isinstance(v, str):
            widths = []
            for token in number_tokens(v):
                try:
                    width = read_number("hidden", token)
                except ValueError as exc:
                    raise ValueError(f"{exc}; give widths like 30 or 8,8") from None
                if not width.is_integer():
                    raise ValueError(f"hidden: {token[:12]!r} is not a whole number; give widths like 30 or 8,8")
                widths.append(int(width))
            return widths
        return v

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        if self.cost == "cross_entropy" and self.output_activation != "sigmoid":
            raise ValueError(
                "output_activation: the cross-entropy cost needs a sigmoid output layer, whose a^L lies in (0, 1)"
            )
        if self.dataset == "csv" and not self.csv.strip():
            raise ValueError("csv: paste or choose a CSV file to train on your own data")
        return self

    def build_dataset(self) -> Dataset:
        """The engine's data set; ValueError (naming ``csv``) for a bad file."""
        if self.dataset == "digits":
            return digits(self.test_fraction, self.seed)
        if self.dataset == "csv":
            rows, cols = int(limit("max_csv_rows")), int(limit("max_csv_cols"))
            return from_csv(self.csv, self.test_fraction, self.seed, rows, cols)
        return generated(self.dataset, self.points, self.noise, self.test_fraction, self.seed)

    def sizes_for(self, data: Dataset) -> list[int]:
        return [data.n_inputs, *self.hidden, data.n_outputs]

    def build_network(self, data: Dataset) -> Network:
        """The starting network; ValueError (naming ``hidden``) over the parameter budget."""
        sizes = self.sizes_for(data)
        params = parameter_count(sizes)
        if params > int(limit("max_training_parameters")):
            raise ValueError(
                f"hidden: the network {sizes} has {params} weights and biases; "
                f"the limit for training is {int(limit('max_training_parameters'))}"
            )
        acts = [self.activation] * len(self.hidden) + [self.output_activation]
        return Network(sizes, activation=acts, seed=self.seed, init=self.init)


def form_texts(config: TrainConfig) -> dict[str, str]:
    """The form's fields as the page shows them for ``config``."""
    texts = {name: str(value) for name, value in config.model_dump().items()}
    texts["hidden"] = ",".join(str(n) for n in config.hidden)
    return texts


def form_field(message: str) -> str:
    """The form field an error message names at its start ("csv line 3, column 1: …" is ``csv``'s), else "form"."""
    head = message.partition(":")[0].replace(".", " ").replace("[", " ").split(" ", 1)[0]
    return head if head in TrainConfig.model_fields else "form"


FORM_LABELS: dict[str, str] = {
    "dataset": "Data set",
    "points": "Points",
    "noise": "Noise σ",
    "test_fraction": "Held out for testing",
    "csv": "CSV",
    "hidden": "Hidden layers",
    "activation": "σ hidden",
    "output_activation": "σ output",
    "init": "Initial weights",
    "cost": "Cost",
    "epochs": "Epochs",
    "batch": "Mini-batch m",
    "eta": "η",
    "lmbda": "λ (L2)",
    "seed": "Seed",
    "delay_ms": "Pace",
}
"""Each field of the training form as the page labels it (templates/train/_form.html); its errors say these."""
BOUND_ERRORS = (
    "greater_than",
    "greater_than_equal",
    "less_than",
    "less_than_equal",
    "int_from_float",
    "int_parsing",
    "int_parsing_size",
)


def _plain(v: object) -> str:
    return str(int(v)) if isinstance(v, float) and v.is_integer() and abs(v) < 1e15 else str(v)


def range_words(field: FieldInfo) -> str:
    """What a number field takes, in words, with the bounds this app enforces: "a whole number from 1 to 10000"."""
    low: object = None
    high: object = None
    above = False
    for m in field.metadata:
        if isinstance(m, annotated_types.Ge):
            low = m.ge
        elif isinstance(m, annotated_types.Gt):
            low, above = m.gt, True
        elif isinstance(m, annotated_types.Le):
            high = m.le
        elif isinstance(m, Limit) and m.kind == "max":
            high = m.bound(current_settings())
    kind = "a whole number" if field.annotation is int else "a number"
    if above:
        return f"{kind} greater than {_plain(low)}" + (f" and at most {_plain(high)}" if high is not None else "")
    if low is not None and high is not None:
        return f"{kind} from {_plain(low)} to {_plain(high)}"
    if low is not None:
        return f"{kind} of at least {_plain(low)}"
    return f"{kind} of at most {_plain(high)}" if high is not None else kind


def plain_message(model: type[BaseModel], item: ErrorItem, labels: Mapping[str, str]) -> str:
    """An error as the page says it: the field by its label, and pydantic's wording in plain words.

    "eta: Input should be greater than 0" is "η: give a number greater than 0 and at most 1000"; the
    messages that already say what to do ("eta: 'abc' is not a number") only get the label.
    """
    message = validation_message(item)
    if item.type == "extra_forbidden":
        return f"form: this form has no field {message.partition(':')[0]}"
    name = str(item.loc[0]) if item.loc else ""
    label = labels.get(name)
    field = model.model_fields.get(name)
    if label is None or field is None:
        return labelled(message, labels)
    ctx_max = message.rpartition("at most ")[2].split(" ")[0] if item.type == "too_long" else ""
    if name == "hidden" and len(item.loc) > 1 and item.type in BOUND_ERRORS:
        return f"{label}: give widths from 1 to {current_settings().max_width}, like 30 or 8,8"
    if name == "hidden" and item.type == "too_long":
        return f"{label}: at most {ctx_max} hidden layers"
    if item.type == "too_long":
        return f"{label}: too long, at most {ctx_max} characters"
    if item.type in BOUND_ERRORS:
        return f"{label}: give {range_words(field)}"
    return labelled(message, labels)


def labelled(message: str, labels: Mapping[str, str]) -> str:
    """A message that starts with a field's name ("eta: …", "csv line 3, column 1: …") with its label instead."""
    head, sep, rest = message.partition(":")
    name = head.split(" ", 1)[0]
    return labels[name] + head[len(name) :] + sep + rest if sep and name in labels else message


def form_errors(exc: ValidationError) -> dict[str, str]:
    """Every error of the form, keyed by the field beside which it is shown (the first one per field), worded
    as the page names the fields (``plain_message``)."""
    errors: dict[str, str] = {}
    for item in clean_errors(exc.errors()):
        errors.setdefault(form_field(validation_message(item)), plain_message(TrainConfig, item, FORM_LABELS))
    return errors or {"form": "form: invalid"}


def hidden_from_sizes(sizes: list[int], data: Dataset) -> list[int]:
    """The hidden widths of a full ``--sizes`` list, checked against the data set's inputs and outputs."""
    if len(sizes) < 2 or sizes[0] != data.n_inputs or sizes[-1] != data.n_outputs:
        raise ValueError(
            f"sizes: the {data.name} data set has {data.n_inputs} inputs and {data.n_outputs} outputs, "
            f"so sizes must start with {data.n_inputs} and end with {data.n_outputs}; got {sizes}"
        )
    return sizes[1:-1]


class EpochPoint(BaseModel):
    """What one epoch measured, after its last mini-batch."""

    epoch: int
    cost: float = Field(description="C₀ on the training set (without the L2 term).")
    train_accuracy: float | None
    test_accuracy: float | None
    test_cost: float | None = Field(None, description="C₀ on the test set; null without test examples.")
    speeds: list[float] = Field(
        default_factory=list,
        description="Layers 2 … L: the mean over the epoch's mini-batches of (1/n_l) Σ_j |∂C/∂b^l_j|.",
    )
    eta: float = Field(description="The learning rate η in force at the end of the epoch.")


class NetworkView(BaseModel):
    """The drawn network as the page shows it (``app.training.view.network_view``)."""

    edges: list[list[list[list[str]]]] = Field(
        description="[l][j][k]: edge from neuron k of layer l + 1 to neuron j of layer l + 2, as "
        "[class by w, width by w, class by ∂C/∂w, width by ∂C/∂w, w, mean ∂C/∂w, read-out]."
    )
    nodes: list[list[list[str | None]]] = Field(
        description="[l][j]: neuron j of layer l + 1 as [read-out, its picture over the plane (a data: URL) or null]."
    )
    legend: dict[str, str] = Field(description="The legend's text when the edges show w and when they show ∂C/∂w.")


class TrainingView(BaseModel):
    """What the page prints and draws, written on the server: the page formats no number itself."""

    texts: dict[str, str] = Field(
        description="The status line and read-outs: progress, epoch, batch, time, and once an epoch is measured "
        "cost and accuracy."
    )
    eta_history: str | None = Field(description="η as the history recorded it, once it has changed.")
    charts: dict[str, str] | None = Field(
        None,
        description="SVG of the charts: cost_log, cost_linear, accuracy, speed. Drawn at most every "
        "VIEW_SECONDS and in the last event; null in the events between (the page keeps the last drawing).",
    )
    heat: str | None = Field(None, description="Two-dimensional sets: a^L_1 over the plane, a data: URL.")
    weights: list[str] | None = Field(
        None, description="8×8 images: each hidden neuron's incoming weights, data: URLs (null between drawings)."
    )
    network: NetworkView | None = Field(
        None, description="The network drawn edge by edge, when it is narrow (null between drawings)."
    )


class ProgressEvent(BaseModel):
    """One ``progress`` event of the training stream (also the data of the final ``done`` event)."""

    state: Literal["ready", "running", "paused", "finished", "stopped", "diverged", "failed"] = Field(
        description="failed: the worker running it stopped (killed, crashed or shut down); `message` says when."
    )
    epoch: int = Field(description="Epochs completed or under way.")
    epochs: int
    batch: int
    batches_per_epoch: int
    fraction: float = Field(description="Mini-batches done over all mini-batches of the run.")
    seconds: float = Field(description="Training time so far, without pauses.")
    seconds_left: float | None
    message: str | None = Field(description="Why training ended, when it was stopped or diverged.")
    history: list[EpochPoint] = Field(description="Epochs measured since the previous event.")
    grid: list[list[float]] | None = Field(
        None, description="Two-dimensional sets: a^L_1 over the plot, row 0 at the top."
    )
    network: dict[str, object] | None = Field(
        None, description="The current weights, when the network is small enough to stream."
    )
    mean_nabla_w: list[list[list[float]]] | None = Field(
        None, description="The last completed epoch's mean ∂C₀/∂w per layer, when `network` is sent."
    )
    neurons: list[list[list[list[float]]]] | None = Field(
        None,
        description="Two-dimensional sets: [l][j][row][col], hidden neuron j of layer l + 2 over the plot, "
        "to 4 decimals, row 0 at the top.",
    )
    view: TrainingView | None = Field(None, description="What the page shows of this event, formatted and drawn.")
