"""The fast lane of ``POST /api/gradients``: a valid request validated without FastAPI's body handling.

The documented route (``app.api.routes.post_gradients``, its body a ``GradientRequest``) checks each number
of a request with a Python call (``app.core.limits``: the bounds are the app's settings, read while
validating) and costs FastAPI's body parsing and dependency solving; on the worked example that is most of
what the route costs beyond the server's floor, and on a body of megabytes it holds the event loop for
a tenth of a second or more. ``GradientRoute`` puts a lane in front of it:

1. the body, when it came with ``Content-Length`` and ``Content-Type: application/json``, is validated by
   ``lean_request_for``: ``GradientRequest`` itself, generated anew by ``app.core.limits.compiled`` with the
   app's limits as pydantic's own constraints (``le``, ``max_length``; no Python call per number), one model
   per set of limits, so the lane has no fields, types or strictness of its own to keep equal;
2. the cross-field rules of ``GradientRequest`` (parameter budget, activations per layer, weights with
   biases, shapes against sizes, examples × width, cross-entropy's targets) are checked on what that gives,
   the shapes by packing the network's [w | b] and the batch as arrays (``engine.network.packed_checked``);
3. a request that passes, without ``trace`` and small enough for the event loop (``INLINE_WORK``), is
   answered by the engine's ``backprop`` and orjson; another that passes goes to the endpoint as the
   ``GradientRequest`` it would have got, and the endpoint computes it (a trace; large work in the
   thread pool).

Everything else goes the documented way, unchanged: any body the lane does not accept (so every 4xx is
worded by ``GradientRequest`` exactly as before), an overflow, another content type, a chunked body. The
lane accepts a body only if ``GradientRequest`` accepts it, and answers the bytes the documented route
answers; tests/app/api/test_fastlane.py checks both on valid and invalid bodies.

Left out: the other routes; they are not on a hot path.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from backprop_lens.app.core.deps import settings_of
from backprop_lens.app.core.limits import compiled
from backprop_lens.app.core.schemas import ErrorBody, GradientRequest, NetworkSpec
from backprop_lens.app.core.settings import Settings
from backprop_lens.app.core.slots import client_of
from backprop_lens.engine.activations import get_activation
from backprop_lens.engine.backprop import backprop
from backprop_lens.engine.network import Array, Network, batch_rows, packed_checked, parameter_count

INLINE_WORK = 20_000
"""Parameters × examples up to which a gradient is computed on the event loop (about 50 µs of engine time
at most on a slow core); above it, in the thread pool."""

_JSON = b"application/json"


def lean_request_for(settings: Settings) -> type[BaseModel]:
    """``GradientRequest`` generated anew with the limits of ``settings`` as pydantic's own constraints, and without
    its cross-field rules (``checked`` applies them to the arrays); made once per settings."""
    return compiled(GradientRequest, settings)


@dataclass(frozen=True)
class Checked:
    """A body the lane validated: the lean model's values and the arrays its checks made."""

    req: Any  # the lean model
    activations: list[str]
    packed: list[Array]  # [w | b] of every layer
    X: Array
    Y: Array
    work: int  # parameters × examples

    def request(self) -> GradientRequest:
        """The ``GradientRequest`` that validating the same body would give (its values, unvalidated again)."""
        r, spec = self.req, self.req.network
        network = NetworkSpec.model_construct(
            sizes=spec.sizes,
            activation=spec.activation,
            weights=spec.weights,
            biases=spec.biases,
            seed=spec.seed,
            init=spec.init,
        )
        return GradientRequest.model_construct(
            network=network, cost_function=r.cost_function, inputs=r.inputs, targets=r.targets, trace=r.trace
        )


def checked(body: bytes, settings: Settings) -> Checked | None:
    """``body`` validated as ``GradientRequest`` would validate it under ``settings``; None where it would not
    validate (or might not: the documented route then says why)."""
    try:
        req: Any = lean_request_for(settings).model_validate_json(body)
    except ValidationError:
        return None
    spec = req.network
    sizes: list[int] = spec.sizes
    n_layers = len(sizes) - 1
    params = parameter_count(sizes)
    m = len(req.inputs)
    if (
        params > settings.max_parameters
        or m * max(sizes) > settings.max_batch_values
        or len(req.targets) != m
        or (spec.weights is None) != (spec.biases is None)
    ):
        return None
    activations: list[str] = [spec.activation] * n_layers if isinstance(spec.activation, str) else spec.activation
    if len(activations) != n_layers or (req.cost_function == "cross_entropy" and activations[-1] != "sigmoid"):
        return None
    X = batch_rows(req.inputs, sizes[0])
    Y = batch_rows(req.targets, sizes[-1])
    if X is None or Y is None or (req.cost_function == "cross_entropy" and not (Y.min() >= 0.0 and Y.max() <= 1.0)):
        return None
    if spec.weights is None:
        packed = Network(sizes, activation=activations, seed=spec.seed, init=spec.init).packed
    else:
        shaped_right = packed_checked(sizes, spec.weights, spec.biases)
        if shaped_right is None:
            return None
        packed = shaped_right
    return Checked(req, activations, packed, X, Y, params * m)


def small(c: Checked) -> bool:
    """Whether the lane computes ``c`` itself: no trace, and little enough work for the event loop."""
    return not c.req.trace and c.work <= INLINE_WORK


def fast_reply(body: bytes, settings: Settings) -> bytes | None:
    """The JSON reply to ``body`` when it is valid, small and without trace (computed on the caller's thread);
    None otherwise."""
    c = checked(body, settings)
    if c is None or not small(c):
        return None
    return gradient_json(lane_network(c), c.X, c.Y, c.req.cost_function)


def gradient_json(
    net: Network, x: Array | Sequence[Sequence[float]], y: Array | Sequence[Sequence[float]], cost: str
) -> bytes | None:
    """``GradientResponse``'s JSON (no ``layers``) by the engine's ``backprop``; None where anything overflowed."""
    g = backprop(net, x, y, cost)
    if not g.finite:
        return None
    nabla_w, nabla_b = [w.tolist() for w in g.nabla_w], [b.tolist() for b in g.nabla_b]
    return orjson.dumps({"cost": g.cost, "nabla_w": nabla_w, "nabla_b": nabla_b, "layers": None})


def lane_network(c: Checked) -> Network:
    """The network of a checked request: its packed parameters as they are (the lane made them)."""
    return Network.of_packed(c.req.network.sizes, c.packed, [get_activation(name) for name in c.activations])


def _for_the_lane(request: Request) -> bool:
    """True when the request gave its length and exactly ``application/json`` as its type (else: the documented
    route, which also reads chunked bodies and words the 415)."""
    length = typed = False
    for name, value in request.scope["headers"]:
        if name == b"content-type":
            typed = value == _JSON
        elif name == b"content-length":
            length = True
    return length and typed


class GradientRoute(APIRoute):
    """An ``APIRoute`` whose handler validates the body by ``checked`` first, and otherwise runs FastAPI's own.

    A small request without trace is answered here; another valid one is handed to the endpoint as the
    ``GradientRequest`` it would have got (so a trace, or large work in the thread pool, is the endpoint's).
    The route's signature, and so its OpenAPI document and its 4xx answers, stay those of the endpoint.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        documented = super().get_route_handler()
        endpoint = self.endpoint

        async def handler(request: Request) -> Response:
            if request.method == "POST" and not request.app.state.gradient_rate.allow(client_of(request)):
                per_second = settings_of(request).max_gradients_per_second_per_client
                message = (
                    f"gradients: this address sent more than {per_second:g} requests in a second, the most one "
                    "client may (max_gradients_per_second_per_client); slow down and retry"
                )
                body = ErrorBody(message=message, detail=message).model_dump_json()
                return Response(body, status_code=429, media_type="application/json", headers={"Retry-After": "1"})
            if request.method == "POST" and _for_the_lane(request):
                c = checked(await request.body(), settings_of(request))  # a route class: no Depends here
                if c is not None:
                    if not small(c):
                        response: Response = await endpoint(c.request())
                        return response
                    reply = gradient_json(lane_network(c), c.X, c.Y, c.req.cost_function)
                    if reply is not None:
                        return Response(reply, media_type="application/json")
            return await documented(request)  # reads the body Starlette kept; words every 4xx

        return handler
