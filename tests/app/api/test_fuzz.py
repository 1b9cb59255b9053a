"""Schemathesis against the app's own OpenAPI document, in-process (ASGI), bounded and seeded.

Positive and negative data: no 5xx, every response conforms to its documented
schema and status, and data that breaks the schema is rejected. The one check
left out is "schema-valid data is accepted": JSON Schema cannot say that w^l
must be n_l × n_{l-1} or that a target has n_L numbers, so a schema-valid body
can still be (rightly) refused with a 422 that names the field.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

from tests.default_app import app

pytestmark = pytest.mark.slow  # about 40 s of CPU: the whole suite runs it, the fast tier does not

schema = schemathesis.openapi.from_asgi("/openapi.json", app)
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=30, deterministic=True
)


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
def test_api_conforms_to_its_schema(case: schemathesis.Case[Any]) -> None:
    pause = (case.query or {}).get("interval_ms")
    if isinstance(pause, int) and not isinstance(pause, bool) and pause > 5:
        case.query = {**(case.query or {}), "interval_ms": 5}  # a valid pause, kept short for the suite
    case.call_and_validate(excluded_checks=[positive_data_acceptance])
