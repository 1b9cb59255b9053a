"""What every instrument request shares: the batch of ``/api/gradients``, book-style indices and checks."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from backprop_lens.app.core.limits import at_most
from backprop_lens.app.core.schemas import WORKED_EXAMPLE, GradientRequest, NetworkSpec

LayerIndex = Annotated[int, Field(ge=2, description="l, the book's layer number: 2..L."), at_most("max_layers")]
NeuronIndex = Annotated[int, Field(ge=1, description="j, counted from 1 as in the book."), at_most("max_width")]
Matrix = list[list[float]]


def example_config(extra: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [{**WORKED_EXAMPLE, **extra}]})


def check_neuron(net: NetworkSpec, layer: int, neuron: int, field: str = "neuron") -> None:
    L = len(net.sizes)
    if layer > L:
        raise ValueError(f"layer: expected l from 2 to L = {L}, got {layer}")
    if neuron > net.sizes[layer - 1]:
        raise ValueError(f"{field}: layer {layer} has {net.sizes[layer - 1]} neurons, got {neuron}")


def check_widths(net: NetworkSpec, first_layer: int, limit: int, what: str) -> None:
    widest = max(net.sizes[first_layer - 1 :])
    if widest > limit:
        raise ValueError(
            f"network.sizes: {what} shows layers up to {limit} neurons wide; layer sizes {net.sizes} have {widest}"
        )


class InstrumentRequest(GradientRequest):
    """A network, a cost and a batch of examples (one per row), as for ``/api/gradients``."""

    trace: SkipJsonSchema[Literal[False]] = Field(False, exclude=True)


class SingleExampleRequest(InstrumentRequest):
    """Instruments of one example's cost C_x; ``example`` picks its row of the batch."""

    example: Annotated[int, Field(ge=0), at_most("max_batch", -1)] = Field(
        0, description="Row of inputs/targets to use, from 0."
    )

    @model_validator(mode="after")
    def _checkexample_config(self) -> SingleExampleRequest:
        if self.example >= len(self.inputs):
            raise ValueError(f"example: expected a row index from 0 to {len(self.inputs) - 1}, got {self.example}")
        return self
