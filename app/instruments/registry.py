"""One registry of the instruments: adding one is one entry here (and its template and engine function).

Each ``Instrument`` names its tab, its request model (shared by the JSON route and the page's
query string) and the handler that computes it, which is the JSON route's function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from backprop_lens.app.instruments import routes
from backprop_lens.app.instruments.schemas import (
    CostComparisonRequest,
    DemonRequest,
    GradcheckRequest,
    InstrumentRequest,
    LinearNetworkRequest,
    MatrixFormRequest,
    MiniBatchRequest,
    ModifiedNeuronRequest,
    PathsRequest,
    SaturationRequest,
)


@dataclass(frozen=True)
class Instrument:
    """A tab of the page's instruments panel: ``name`` in its URL and template, ``title`` on the tab."""

    name: str
    title: str
    model: type[InstrumentRequest]
    handler: Callable[[Any], BaseModel]


INSTRUMENTS: tuple[Instrument, ...] = (
    Instrument("speed", "Why it is fast", GradcheckRequest, routes.gradcheck),
    Instrument("demon", "The demon", DemonRequest, routes.demon_route),
    Instrument("saturation", "Saturation", SaturationRequest, routes.saturation_route),
    Instrument("paths", "Sum over paths", PathsRequest, routes.paths),
    Instrument("matrix-form", "Matrix form", MatrixFormRequest, routes.matrix_form_route),
    Instrument("minibatch", "Inside a mini-batch", MiniBatchRequest, routes.minibatch),
    Instrument("modified-neuron", "Modified neuron", ModifiedNeuronRequest, routes.modified_neuron_route),
    Instrument("linear-network", "Linear neurons", LinearNetworkRequest, routes.linear_network_route),
    Instrument("cost-comparison", "Cross-entropy", CostComparisonRequest, routes.cost_comparison),
)
BY_NAME = {i.name: i for i in INSTRUMENTS}
