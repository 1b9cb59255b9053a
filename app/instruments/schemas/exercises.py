"""Requests and responses of the chapter's exercises: a modified neuron, linear neurons, cross-entropy."""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator

from backprop_lens.app.core.limits import limit as setting
from backprop_lens.app.core.schemas import ActivationName
from backprop_lens.app.instruments.schemas.base import (
    InstrumentRequest,
    LayerIndex,
    Matrix,
    NeuronIndex,
    SingleExampleRequest,
    check_neuron,
    check_widths,
    example_config,
)
from backprop_lens.engine.insight import (
    CostComparison,
    LinearNetwork,
    ModifiedNeuron,
)
from backprop_lens.engine.insight.exercises import OutputError

# --- 7. exercises ------------------------------------------------------------------------------


class ModifiedNeuronRequest(InstrumentRequest):
    model_config = example_config({"layer": 2, "neuron": 1, "f": "tanh"})

    layer: LayerIndex
    neuron: NeuronIndex
    f: ActivationName = Field(description="The modified neuron's own activation f.")

    @model_validator(mode="after")
    def _check_position(self) -> ModifiedNeuronRequest:
        check_neuron(self.network, self.layer, self.neuron)
        return self


class ModifiedNeuronResponse(BaseModel):
    layer: int
    neuron: int
    f: str
    cost: float
    f_prime: list[float] = Field(description="f'(z^l_j) per example: used in BP1/BP2 at this neuron.")
    sigma_prime: list[float] = Field(description="σ'(z^l_j) per example: what the layer's activation would give.")
    deltas: list[Matrix] = Field(description="δ^l for l = 2..L, one row per example.")
    nabla_w: list[Matrix]
    nabla_b: list[list[float]]

    @classmethod
    def of(cls, m: ModifiedNeuron) -> ModifiedNeuronResponse:
        return cls(
            layer=m.layer,
            neuron=m.j + 1,
            f=m.f,
            cost=m.cost,
            f_prime=m.f_prime.tolist(),
            sigma_prime=m.sigma_prime.tolist(),
            deltas=[d.tolist() for d in m.deltas],
            nabla_w=[w.tolist() for w in m.nabla_w],
            nabla_b=[b.tolist() for b in m.nabla_b],
        )


class LinearNetworkRequest(SingleExampleRequest):
    model_config = example_config({})

    @model_validator(mode="after")
    def _check_size(self) -> LinearNetworkRequest:
        check_widths(self.network, 2, int(setting("max_matrix_form_width")), "the linear-network exercise")
        if self.cost_function != "quadratic":
            raise ValueError(
                "cost_function: the linear-network exercise needs the quadratic cost (linear outputs leave (0, 1))"
            )
        return self


class LinearLayer(BaseModel):
    layer: int
    map: Matrix = Field(description="(w^{l+1})^T … (w^L)^T; the identity for l = L.")
    delta: list[float] = Field(description="map · ∇_aC.")
    delta_backprop: list[float] = Field(description="δ^l from BP1 and BP2 with σ(z) = z.")


class LinearNetworkResponse(BaseModel):
    example: int
    nabla_a: list[float]
    layers: list[LinearLayer]

    @classmethod
    def of(cls, n: LinearNetwork) -> LinearNetworkResponse:
        return cls(
            example=n.example,
            nabla_a=n.nabla_a.tolist(),
            layers=[
                LinearLayer(layer=i + 2, map=mp.tolist(), delta=d.tolist(), delta_backprop=db.tolist())
                for i, (mp, d, db) in enumerate(zip(n.maps, n.deltas, n.deltas_backprop, strict=True))
            ],
        )


class CostComparisonRequest(SingleExampleRequest):
    """Both costs are computed; ``cost`` is not used."""

    model_config = example_config({})

    @model_validator(mode="after")
    def _check_outputs(self) -> CostComparisonRequest:
        if self.network.activation_list()[-1] != "sigmoid":
            raise ValueError("network.activation: the comparison needs a sigmoid output layer (0 < a^L < 1)")
        row = self.targets[self.example]
        if any(not 0.0 <= v <= 1.0 for v in row):
            raise ValueError(f"targets[{self.example}]: cross_entropy needs targets between 0 and 1")
        return self


class OutputErrorModel(BaseModel):
    cost: float
    nabla_a: list[float] = Field(description="∇_aC.")
    sigma_prime: list[float] = Field(description="σ'(z^L).")
    delta: list[float] = Field(description="δ^L = ∇_aC ⊙ σ'(z^L) (BP1).")

    @classmethod
    def of(cls, e: OutputError) -> OutputErrorModel:
        return cls(cost=e.cost, nabla_a=e.nabla_a.tolist(), sigma_prime=e.sigma_prime.tolist(), delta=e.delta.tolist())


class CostComparisonResponse(BaseModel):
    example: int
    z: list[float]
    a: list[float]
    y: list[float]
    a_minus_y: list[float]
    quadratic: OutputErrorModel
    cross_entropy: OutputErrorModel

    @classmethod
    def of(cls, c: CostComparison) -> CostComparisonResponse:
        return cls(
            example=c.example,
            z=c.z.tolist(),
            a=c.a.tolist(),
            y=c.y.tolist(),
            a_minus_y=c.a_minus_y.tolist(),
            quadratic=OutputErrorModel.of(c.quadratic),
            cross_entropy=OutputErrorModel.of(c.cross_entropy),
        )
