"""The fast lane of ``POST /api/gradients``: a small, valid request answered without FastAPI's body handling.

The documented route (``app.api.routes.post_gradients``, its body a ``GradientRequest``) checks each number
of a request with a Python call (``app.core.limits``: the bounds are the app's settings, read while
validating) and costs FastAPI's body parsing and dependency solving; on the worked example that is most of
what the route costs beyond the server's floor. ``GradientRoute`` puts a lane in front of it:

1. the body, when it came with ``Content-Length`` (at most ``LANE_BYTES``) and ``Content-Type:
   application/json``, is validated by ``lean_request``: the same fields, types and strictness as
   ``GradientRequest``, with the app's limits compiled into pydantic's own constraints (``le``,
   ``max_length``; no Python call per number), one model per set of limits;
2. the cross-field rules of ``GradientRequest`` (parameter budget, activations per layer, weights with
   biases, shapes against sizes, examples × width, cross-entropy's targets) are checked on what that gives,
   the shapes by packing the network's [w | b] and the batch as arrays (``engine.fast``);
3. a request that passes, without ``trace`` and small enough for the event loop (``INLINE_WORK``), is
   answered by ``engine.fast`` and orjson.

Everything else goes the documented way, unchanged: any request the lane does not accept (so every 4xx is
worded by ``GradientRequest`` exactly as before), a trace, a large batch (computed in the thread pool), an
overflow. The lane accepts a body only if ``GradientRequest`` accepts it, and answers the bytes the
documented route answers; tests/app/api/test_fastlane.py checks both on valid and invalid bodies.

Left out: the other routes; they are not on a hot path.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from functools import lru_cache
from typing import Annotated, Any

import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.core.schemas import ActivationName, CostName, InitName
from app.core.settings import Settings
from engine.fast import FastNetwork, batch_rows, gradient_lists, packed_checked, shaped
from engine.network import Array, Network, parameter_count

INLINE_WORK = 20_000
"""Parameters × examples up to which a gradient is computed on the event loop (about 50 µs of engine time
at most on a slow core); above it, in the thread pool."""

LANE_BYTES = 512 * 1024
"""Bodies up to this size try the lane: a small gradient's body is smaller (its 20,000 numbers at most, as
JSON, about 400 KB), and a larger body would be parsed twice on the event loop before the thread pool gets it."""

_JSON = b"application/json"


class _Strict(BaseModel):
    # as app.core.schemas.Strict: a JSON `true` is not the integer 1, and "0.5" is not a number
    model_config = ConfigDict(strict=True, extra="forbid")


@lru_cache(maxsize=16)
def lean_request(max_layers: int, max_width: int, max_abs_value: float, max_batch: int) -> type[BaseModel]:
    """``GradientRequest``'s fields with these limits as pydantic constraints (checked without Python calls)."""
    number = Annotated[float, Field(allow_inf_nan=False, ge=-max_abs_value, le=max_abs_value)]
    row = Annotated[list[number], Field(min_length=1, max_length=max_width)]
    matrix = Annotated[list[row], Field(min_length=1, max_length=max_width)]
    width = Annotated[int, Field(ge=1, le=max_width)]
    layers = Field(min_length=1, max_length=max_layers)

    class LeanNetwork(_Strict):
        sizes: Annotated[list[width], Field(min_length=2, max_length=max_layers)]
        activation: ActivationName | Annotated[list[ActivationName], layers] = "sigmoid"
        weights: Annotated[list[matrix], layers] | None = None
        biases: Annotated[list[row], layers] | None = None
        seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = 0
        init: InitName = "standard"

    class LeanGradientRequest(_Strict):
        network: LeanNetwork
        cost: CostName = "quadratic"
        inputs: Annotated[list[row], Field(min_length=1, max_length=max_batch)]
        targets: Annotated[list[row], Field(min_length=1, max_length=max_batch)]
        trace: bool = False

    return LeanGradientRequest


def lean_request_for(settings: Settings) -> type[BaseModel]:
    return lean_request(settings.max_layers, settings.max_width, settings.max_abs_value, settings.max_batch)


def fast_reply(body: bytes, settings: Settings) -> bytes | None:
    """The JSON reply to ``body`` when the lane may answer it (see the module's docstring); None otherwise."""
    try:
        req: Any = lean_request_for(settings).model_validate_json(body)
    except ValidationError:
        return None
    if req.trace:
        return None
    spec = req.network
    sizes: list[int] = spec.sizes
    n_layers = len(sizes) - 1
    params = parameter_count(sizes)
    m = len(req.inputs)
    if (
        params > settings.max_parameters
        or params * m > INLINE_WORK
        or m * max(sizes) > settings.max_batch_values
        or len(req.targets) != m
        or (spec.weights is None) != (spec.biases is None)
    ):
        return None
    activations: list[str] = [spec.activation] * n_layers if isinstance(spec.activation, str) else spec.activation
    if len(activations) != n_layers or (req.cost == "cross_entropy" and activations[-1] != "sigmoid"):
        return None
    X = batch_rows(req.inputs, sizes[0])
    Y = batch_rows(req.targets, sizes[-1])
    if X is None or Y is None or (req.cost == "cross_entropy" and not (Y.min() >= 0.0 and Y.max() <= 1.0)):
        return None
    if spec.weights is None:
        packed = FastNetwork.of(Network(sizes, activation=activations, seed=spec.seed, init=spec.init), m).packed
    else:
        checked = packed_checked(sizes, spec.weights, spec.biases)
        if checked is None:
            return None
        packed = checked
    return gradient_json(sizes, activations, packed, X, Y, req.cost)


def gradient_json(
    sizes: Sequence[int],
    activations: Sequence[str],
    packed: Sequence[Array],
    x: Array | Sequence[Sequence[float]],
    y: Array | Sequence[Sequence[float]],
    cost: str,
) -> bytes | None:
    """``GradientResponse``'s JSON (no ``layers``) by the engine's fused path; None where anything overflowed."""
    result = gradient_lists(shaped(sizes, activations, len(x), packed), x, y, cost)
    if result is None:
        return None
    c, nabla_w, nabla_b = result
    return orjson.dumps({"cost": c, "nabla_w": nabla_w, "nabla_b": nabla_b, "layers": None})


def _for_the_lane(request: Request) -> bool:
    """True when the request gave its length, at most ``LANE_BYTES``, and exactly ``application/json`` as its
    type (else: the documented route, which also reads chunked bodies and words the 415)."""
    short = typed = False
    for name, value in request.scope["headers"]:
        if name == b"content-type":
            typed = value == _JSON
        elif name == b"content-length":
            short = value.isdigit() and int(value) <= LANE_BYTES
    return short and typed


class GradientRoute(APIRoute):
    """An ``APIRoute`` whose handler tries ``fast_reply`` first and otherwise runs FastAPI's own handler.

    The route's signature, and so its OpenAPI document and its 4xx answers, stay those of the endpoint.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        documented = super().get_route_handler()

        async def handler(request: Request) -> Response:
            if request.method == "POST" and _for_the_lane(request):
                reply = fast_reply(await request.body(), request.app.state.settings)
                if reply is not None:
                    return Response(reply, media_type="application/json")
            return await documented(request)  # reads the body Starlette kept

        return handler
