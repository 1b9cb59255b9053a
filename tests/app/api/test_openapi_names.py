"""/openapi.json names things as a generated client should: every route's operationId is its short name
(``gradients``, ``trace``) and unique across the app, component schemas are not numbered, and the batch,
the network and a step are each one shared component schema, referenced by every request that uses it."""

from __future__ import annotations

import re
from typing import Any

from fastapi import routing
from fastapi.testclient import TestClient

from tests.default_app import app

SHORT = re.compile(r"[a-z][a-z_]{1,23}")


def operation_ids() -> list[str]:
    """The operationId of every route of the app, in or out of the document (pages, streams, classroom)."""
    ids = []
    for ctx in routing.iter_route_contexts(app.routes):
        if isinstance(ctx.original_route, routing.APIRoute):
            ids += [ctx.operation_id or ctx.unique_id] * len(ctx.methods or ())
    return ids


def test_every_route_has_a_short_unique_operation_id() -> None:
    ids = operation_ids()
    assert len(ids) > 40  # every route of every feature, not only the JSON API's
    assert len(set(ids)) == len(ids), sorted(i for i in ids if ids.count(i) > 1)
    long = [i for i in ids if not SHORT.fullmatch(i) or re.search(r"_api_|_(get|post|delete|put)$", i)]
    assert long == []


def test_the_document_uses_the_short_names(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    ops = {(path, method): op["operationId"] for path, item in doc["paths"].items() for method, op in item.items()}
    assert ops[("/api/gradients", "post")] == "gradients"
    assert ops[("/api/trace", "post")] == "trace"
    assert ops[("/api/trace/stream", "post")] == "trace_stream"
    assert ops[("/api/instruments/gradcheck", "post")] == "gradcheck"
    assert ops[("/api/instruments/demon", "post")] == "demon"
    assert set(ops.values()) <= set(operation_ids())


def refs(schema: Any) -> set[str]:
    if isinstance(schema, dict):
        found = {schema["$ref"].rsplit("/", 1)[1]} if "$ref" in schema else set()
        return found.union(*(refs(v) for v in schema.values()))
    if isinstance(schema, list):
        return set().union(*(refs(v) for v in schema))
    return set()


def test_component_schemas_are_named_not_numbered(client: TestClient) -> None:
    schemas: dict[str, Any] = client.get("/openapi.json").json()["components"]["schemas"]
    numbered = [n for n in schemas if re.search(r"\d$|-Input|-Output|Input\d", n)]
    assert numbered == []
    # One schema each for a batch, a network, a step and its values; requests refer to them rather than
    # repeating an inline copy (the copies are what a code generator numbers Input1 … Input10).
    assert {"Examples", "NetworkSpec", "Step", "StepValues", "StepScalars", "Activation", "CostFunction"} <= set(
        schemas
    )
    requests = [n for n in schemas if n.endswith("Request")]
    assert len(requests) >= 10
    for name in requests:
        props = schemas[name]["properties"]
        # a batch (rows), or one example as a flat list, as the library takes a 1-D x
        assert refs(props["inputs"]) == refs(props["targets"]) == {"Examples", "Example"}, name
        assert refs(props["network"]) == {"NetworkSpec"}, name
        assert refs(props["cost_function"]) == {"CostFunction"}, name
        assert "cost" not in props, name
    network = schemas["NetworkSpec"]["properties"]
    assert refs(network["activation"]) == {"Activation", "Activations"}
    assert schemas["NetworkSpec"]["title"] == "Network"
    steps = schemas["TraceResponse"]["properties"]["steps"]
    assert refs(steps) == {"Step"}
    assert refs(schemas["Step"]["properties"]["values"]) == {"StepValues"}
    # every $ref points at a schema the document holds
    assert refs(schemas) <= set(schemas)
