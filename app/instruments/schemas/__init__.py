"""Request and response models of the instruments' JSON API (``/api/instruments``).

Requests extend the gradient request of ``app.core.schemas`` (network, cost, inputs,
targets) with what each instrument needs, every field bounded by ``Settings``.
Layers are numbered as in the book (l = 2..L); neurons are counted from 1, as
in the book's w^l_jk, so ``neuron`` is j and ``input`` is k. Responses are built
from the engine's results by the ``of`` class methods: conversion only, no
arithmetic.

The models are split by topic: ``base`` (what every request shares), ``chapter`` (the thought
experiments) and ``exercises``; this package exports them all.
"""

from backprop_lens.app.instruments.schemas.base import InstrumentRequest, SingleExampleRequest
from backprop_lens.app.instruments.schemas.chapter import (
    DemonRequest,
    DemonResponse,
    GradcheckRequest,
    GradcheckResponse,
    MatrixFormRequest,
    MatrixFormResponse,
    MiniBatchRequest,
    MiniBatchResponse,
    PathsRequest,
    PathsResponse,
    SaturationRequest,
    SaturationResponse,
)
from backprop_lens.app.instruments.schemas.exercises import (
    CostComparisonRequest,
    CostComparisonResponse,
    LinearNetworkRequest,
    LinearNetworkResponse,
    ModifiedNeuronRequest,
    ModifiedNeuronResponse,
)

__all__ = [
    "CostComparisonRequest",
    "CostComparisonResponse",
    "DemonRequest",
    "DemonResponse",
    "GradcheckRequest",
    "GradcheckResponse",
    "InstrumentRequest",
    "LinearNetworkRequest",
    "LinearNetworkResponse",
    "MatrixFormRequest",
    "MatrixFormResponse",
    "MiniBatchRequest",
    "MiniBatchResponse",
    "ModifiedNeuronRequest",
    "ModifiedNeuronResponse",
    "PathsRequest",
    "PathsResponse",
    "SaturationRequest",
    "SaturationResponse",
    "SingleExampleRequest",
]
