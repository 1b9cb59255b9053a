"""Requests and responses of the chapter's instruments: speed, the demon, saturation, paths, matrix form, mini-batch."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from backprop_lens.app.core.limits import at_most, most_items, within
from backprop_lens.app.core.limits import limit as setting
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
    Demon,
    MatrixForm,
    MiniBatch,
    PathSum,
    Saturation,
    SpeedComparison,
)
from backprop_lens.engine.network import parameter_count

# --- 1. why backpropagation is fast ------------------------------------------------


class GradcheckRequest(InstrumentRequest):
    model_config = example_config({"epsilon": 1e-6})

    epsilon: float = Field(1e-6, ge=1e-10, le=1e-2, allow_inf_nan=False, description="ε of eq. 46.")

    @model_validator(mode="after")
    def _check_budget(self) -> GradcheckRequest:
        params = parameter_count(self.network.sizes)
        if params > int(setting("max_gradcheck_parameters")):
            raise ValueError(
                f"network.sizes: {params} parameters need {2 * params + 1} forward passes; "
                f"the limit is {int(setting('max_gradcheck_parameters'))} parameters"
            )
        if params * len(self.inputs) > int(setting("max_gradcheck_work")):
            raise ValueError(
                f"inputs: {len(self.inputs)} examples × {params} parameters is {params * len(self.inputs)}; "
                f"the limit is {int(setting('max_gradcheck_work'))}"
            )
        return self


class GradcheckLayer(BaseModel):
    layer: int
    nabla_w_backprop: Matrix
    nabla_w_numerical: Matrix
    relative_error_w: Matrix = Field(description="|g_bp − g_fd| / max(|g_bp|, |g_fd|, 1e-8) per weight.")
    nabla_b_backprop: list[float]
    nabla_b_numerical: list[float]
    relative_error_b: list[float]


class Passes(BaseModel):
    backprop: int = Field(description="2: one forward and one backward pass (about the cost of one forward).")
    finite_differences: int = Field(description="2P + 1: two per parameter plus the unperturbed cost.")


class Seconds(BaseModel):
    backprop: float
    finite_differences: float


class GradcheckResponse(BaseModel):
    parameters: int = Field(description="P, weights plus biases.")
    epsilon: float
    cost: float
    forward_passes: Passes
    seconds: Seconds = Field(description="Measured wall-clock time of each method on the server.")
    max_relative_error: float
    max_absolute_error: float = Field(description="max |g_bp − g_fd| over every parameter.")
    layers: list[GradcheckLayer]

    @classmethod
    def of(cls, s: SpeedComparison, epsilon: float) -> GradcheckResponse:
        g, n = s.backprop, s.numerical
        return cls(
            parameters=s.parameters,
            epsilon=epsilon,
            cost=g.cost,
            forward_passes=Passes(backprop=s.backprop_passes, finite_differences=s.numerical_passes),
            seconds=Seconds(backprop=s.backprop_seconds, finite_differences=s.numerical_seconds),
            max_relative_error=s.max_relative_error,
            max_absolute_error=s.max_absolute_error,
            layers=[
                GradcheckLayer(
                    layer=i + 2,
                    nabla_w_backprop=g.nabla_w[i].tolist(),
                    nabla_w_numerical=n.nabla_w[i].tolist(),
                    relative_error_w=s.relative_error_w[i].tolist(),
                    nabla_b_backprop=g.nabla_b[i].tolist(),
                    nabla_b_numerical=n.nabla_b[i].tolist(),
                    relative_error_b=s.relative_error_b[i].tolist(),
                )
                for i in range(len(g.nabla_w))
            ],
        )


# --- 2. the demon --------------------------------------------------------------------

Nudge = Annotated[float, Field(allow_inf_nan=False), within("max_nudge")]


class DemonRequest(SingleExampleRequest):
    model_config = example_config({"layer": 2, "neuron": 1, "nudges": [-1.0, -0.1, -0.01, 0.01, 0.1, 1.0]})

    layer: LayerIndex
    neuron: NeuronIndex
    nudges: Annotated[list[Nudge], Field(min_length=1), most_items("max_nudges")] = Field(
        default_factory=lambda: [-1.0, -0.1, -0.01, 0.01, 0.1, 1.0],
        description="The Δz the demon adds to z^l_j, one forward pass each.",
    )

    @model_validator(mode="after")
    def _check_position(self) -> DemonRequest:
        check_neuron(self.network, self.layer, self.neuron)
        return self


class NudgeResult(BaseModel):
    dz: float
    predicted: float = Field(description="δ^l_j Δz, the linear estimate.")
    actual: float = Field(description="C_x with z^l_j + Δz minus C_x, from a forward pass.")
    ratio: float | None = Field(description="actual / predicted; null when the prediction is 0.")
    linear_error: float = Field(description="|actual − predicted| / max(|actual|, |predicted|).")


class DemonResponse(BaseModel):
    layer: int
    neuron: int
    example: int
    z: float
    delta: float = Field(description="δ^l_j = ∂C_x/∂z^l_j (eq. 29).")
    cost: float = Field(description="C_x of the example, before any nudge.")
    nudges: list[NudgeResult]

    @classmethod
    def of(cls, d: Demon) -> DemonResponse:
        return cls(
            layer=d.layer,
            neuron=d.j + 1,
            example=d.example,
            z=d.z,
            delta=d.delta,
            cost=d.cost,
            nudges=[
                NudgeResult(dz=n.dz, predicted=n.predicted, actual=n.actual, ratio=n.ratio, linear_error=n.linear_error)
                for n in d.nudges
            ],
        )


# --- 3. saturation --------------------------------------------------------------------


class SaturationRequest(SingleExampleRequest):
    model_config = example_config({"sigma_prime_threshold": 0.01, "activation_threshold": 0.01})

    sigma_prime_threshold: float = Field(
        0.01, gt=0, le=1, allow_inf_nan=False, description="A neuron is saturated when σ'(z) is below this."
    )
    activation_threshold: float = Field(
        0.01, gt=0, le=1, allow_inf_nan=False, description="A neuron is low-activation when |a| is below this."
    )
    limit: Annotated[int, Field(ge=1), at_most("max_slow_weights_listed")] = Field(
        20, description="Slow weights listed, smallest |∂C/∂w| first."
    )


class SaturatedNeuronModel(BaseModel):
    layer: int
    neuron: int
    z: float
    a: float
    sigma_prime: float
    delta: float
    slows_learning: bool
    reason: str


class QuietNeuronModel(BaseModel):
    layer: int
    neuron: int
    a: float
    reason: str


class SlowWeightModel(BaseModel):
    layer: int
    neuron: int = Field(description="j: the neuron the weight feeds.")
    input: int = Field(description="k: the neuron of layer l − 1 it comes from.")
    a_in: float
    sigma_prime: float = Field(description="σ'(z^l_j) of the neuron it feeds.")
    nabla_w: float
    reasons: list[str]


class SaturationResponse(BaseModel):
    example: int
    sigma_prime_threshold: float
    activation_threshold: float
    saturated: list[SaturatedNeuronModel]
    quiet: list[QuietNeuronModel] = Field(description="Low-activation neurons, layers 1..L−1.")
    slow_weights: list[SlowWeightModel]
    slow_weight_count: int
    weight_count: int

    @classmethod
    def of(cls, s: Saturation) -> SaturationResponse:
        return cls(
            example=s.example,
            sigma_prime_threshold=s.sigma_prime_threshold,
            activation_threshold=s.activation_threshold,
            saturated=[
                SaturatedNeuronModel(
                    layer=n.layer,
                    neuron=n.j + 1,
                    z=n.z,
                    a=n.a,
                    sigma_prime=n.sigma_prime,
                    delta=n.delta,
                    slows_learning=n.slows_learning,
                    reason=n.reason,
                )
                for n in s.saturated
            ],
            quiet=[QuietNeuronModel(layer=q.layer, neuron=q.k + 1, a=q.a, reason=q.reason) for q in s.quiet],
            slow_weights=[
                SlowWeightModel(
                    layer=w.layer,
                    neuron=w.j + 1,
                    input=w.k + 1,
                    a_in=w.a_in,
                    sigma_prime=w.sigma_prime,
                    nabla_w=w.nabla_w,
                    reasons=list(w.reasons),
                )
                for w in s.slow_weights
            ],
            slow_weight_count=s.slow_weight_count,
            weight_count=s.weight_count,
        )


# --- 4. sum over paths -------------------------------------------------------------------


class PathsRequest(SingleExampleRequest):
    model_config = example_config({"layer": 2, "neuron": 1, "input": 1, "top": 10})

    layer: LayerIndex
    neuron: NeuronIndex
    input: Annotated[int, Field(ge=1), at_most("max_width")] = Field(
        description="k: the neuron of layer l − 1, counted from 1."
    )
    top: Annotated[int, Field(ge=1), at_most("max_paths_listed")] = Field(
        10, description="How many of the strongest paths to list."
    )

    @model_validator(mode="after")
    def _check_position(self) -> PathsRequest:
        check_neuron(self.network, self.layer, self.neuron)
        if self.input > self.network.sizes[self.layer - 2]:
            raise ValueError(
                f"input: layer {self.layer - 1} has {self.network.sizes[self.layer - 2]} neurons, got {self.input}"
            )
        check_widths(self.network, self.layer, int(setting("max_path_width")), "the sum over paths")
        return self


class PathModel(BaseModel):
    neurons: list[int] = Field(description="q_l = j, q_{l+1}, …, q_L, counted from 1.")
    factors: list[float] = Field(
        description="a^{l−1}_k, σ'(z^l_j), then w^{m}_{q_m q_{m−1}} and σ'(z^m_{q_m}) per later layer, ∂C/∂a^L_{q_L}."
    )
    product: float


class PathsResponse(BaseModel):
    layer: int
    neuron: int
    input: int
    example: int
    count: int = Field(description="n_{l+1} · … · n_L paths in all.")
    paths: list[PathModel] = Field(description="The strongest paths by |product|, strongest first.")
    listed_sum: float
    rest_sum: float = Field(description="The exact sum of the paths not listed: total − listed_sum.")
    total: float = Field(description="∂C_x/∂w^l_jk = a^{l−1}_k δ^l_j from BP4.")

    @classmethod
    def of(cls, p: PathSum) -> PathsResponse:
        return cls(
            layer=p.layer,
            neuron=p.j + 1,
            input=p.k + 1,
            example=p.example,
            count=p.count,
            paths=[
                PathModel(neurons=[q + 1 for q in path.neurons], factors=list(path.factors), product=path.product)
                for path in p.paths
            ],
            listed_sum=p.listed_sum,
            rest_sum=p.rest_sum,
            total=p.total,
        )


# --- 5. matrix form ----------------------------------------------------------------------


class MatrixFormRequest(SingleExampleRequest):
    model_config = example_config({"layer": 2})

    layer: LayerIndex

    @model_validator(mode="after")
    def _check_layer(self) -> MatrixFormRequest:
        check_neuron(self.network, self.layer, 1)
        check_widths(self.network, self.layer, int(setting("max_matrix_form_width")), "the matrix form")
        return self


class MatrixFactorModel(BaseModel):
    kind: Literal["sigma_prime", "weights_T"] = Field(description="Σ'(z^layer) or (w^layer)^T.")
    layer: int
    matrix: Matrix


class MatrixFormResponse(BaseModel):
    layer: int
    example: int
    factors: list[MatrixFactorModel] = Field(description="The matrices of eq. 35, left to right.")
    nabla_a: list[float] = Field(description="∇_aC, the vector eq. 35 ends with.")
    delta: list[float] = Field(description="The product of eq. 35.")
    delta_layerwise: list[float] = Field(description="δ^l from BP1 and BP2, layer by layer.")

    @classmethod
    def of(cls, m: MatrixForm) -> MatrixFormResponse:
        return cls(
            layer=m.layer,
            example=m.example,
            factors=[MatrixFactorModel(kind=f.kind, layer=f.layer, matrix=f.matrix.tolist()) for f in m.factors],
            nabla_a=m.nabla_a.tolist(),
            delta=m.delta.tolist(),
            delta_layerwise=m.delta_layerwise.tolist(),
        )


# --- 6. inside a mini-batch -----------------------------------------------------------------


class MiniBatchRequest(InstrumentRequest):
    model_config = example_config({})

    @model_validator(mode="after")
    def _check_size(self) -> MiniBatchRequest:
        values = len(self.inputs) * parameter_count(self.network.sizes)
        if values > int(setting("max_minibatch_values")):
            raise ValueError(
                f"inputs: {len(self.inputs)} examples × {parameter_count(self.network.sizes)} parameters is "
                f"{values} values; the limit is {int(setting('max_minibatch_values'))}"
            )
        return self


class ExampleGradient(BaseModel):
    example: int
    cost: float = Field(description="C_x.")
    deltas: list[list[float]] = Field(description="δ^{x,l} for l = 2..L.")
    nabla_w: list[Matrix] = Field(description="∂C_x/∂w^l = δ^{x,l} (a^{x,l−1})^T for l = 2..L.")
    nabla_b: list[list[float]] = Field(description="∂C_x/∂b^l = δ^{x,l}.")
    cosine: float = Field(description="Cosine between this example's whole gradient and the mean.")


class MiniBatchResponse(BaseModel):
    examples: list[ExampleGradient]
    nabla_w: list[Matrix] = Field(description="(1/m) Σ_x ∂C_x/∂w^l: the update's gradient.")
    nabla_b: list[list[float]]
    agreement_w: list[Matrix] = Field(description="Share of examples whose ∂C_x/∂w has the sign of the mean.")

    @classmethod
    def of(cls, b: MiniBatch) -> MiniBatchResponse:
        return cls(
            examples=[
                ExampleGradient(
                    example=x,
                    cost=float(b.costs[x]),
                    deltas=[d[x].tolist() for d in b.deltas],
                    nabla_w=[nw[x].tolist() for nw in b.nabla_w_x],
                    nabla_b=[nb[x].tolist() for nb in b.nabla_b_x],
                    cosine=float(b.cosine[x]),
                )
                for x in range(len(b.costs))
            ],
            nabla_w=[nw.tolist() for nw in b.nabla_w],
            nabla_b=[nb.tolist() for nb in b.nabla_b],
            agreement_w=[ag.tolist() for ag in b.agreement_w],
        )
