"""Limits that request models read from the app's settings while they validate.

``Field(le=...)`` would fix a limit when the module is imported; these markers read
``current_settings()`` at validation time instead, so ``create_app(Settings(max_layers=3))``
enforces 3. They raise pydantic's own error types and wording ("Input should be less than or
equal to 8"), so a message does not depend on where its limit came from. Each also leaves the
name of its setting in the JSON schema (``x-limits``), and ``document_limits`` writes the app's
values there, so the OpenAPI document of each app states the bounds that app enforces.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from backprop_lens.app.core.settings import Settings, current_settings


def limit(setting: str) -> float:
    """The value of ``setting`` for the app serving this request."""
    value: float = getattr(current_settings(), setting)
    return value


@dataclass(frozen=True)
class Limit:
    """An ``Annotated`` marker: the value's size must stay within a setting (plus ``offset``)."""

    setting: str
    kind: str  # "max" (a number), "abs" (a number's magnitude) or "len" (a list's or a text's length)
    offset: int = 0

    def bound(self, settings: Settings) -> float:
        value: float = getattr(settings, self.setting)
        return value + self.offset

    def check(self, v: Any) -> Any:
        most = self.bound(current_settings())
        if self.kind == "len":
            if len(v) > most:
                kind, unit = ("String", "characters") if isinstance(v, str) else ("List", "items after validation")
                raise PydanticCustomError(
                    "too_long",
                    f"{kind} should have at most {{max_length}} {unit}, not {{actual_length}}",
                    {"max_length": int(most), "actual_length": len(v)},
                )
            return v
        if v > most:
            raise PydanticCustomError("less_than_equal", "Input should be less than or equal to {le}", {"le": most})
        if self.kind == "abs" and v < -most:
            raise PydanticCustomError(
                "greater_than_equal", "Input should be greater than or equal to {ge}", {"ge": -most}
            )
        return v

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["x-limits"] = {"setting": self.setting, "kind": self.kind, "offset": self.offset}
        return json_schema


def at_most(setting: str, offset: int = 0) -> Limit:
    """A number no larger than the setting (plus ``offset``: an index below a count is ``max_batch``, −1)."""
    return Limit(setting, "max", offset)


def within(setting: str) -> Limit:
    """A number whose magnitude is no larger than the setting (−limit ≤ v ≤ limit)."""
    return Limit(setting, "abs")


def most_items(setting: str, offset: int = 0) -> Limit:
    """A list (or text) of at most the setting's number of items (plus ``offset``, which may be negative)."""
    return Limit(setting, "len", offset)


_KEYWORDS: dict[str, Callable[[float, dict[str, Any]], dict[str, float]]] = {
    "max": lambda v, _: {"maximum": v},
    "abs": lambda v, _: {"minimum": -v, "maximum": v},
    "len": lambda v, s: {"maxLength" if s.get("type") == "string" else "maxItems": int(v)},
}


def document_limits(schema: Any, settings: Settings) -> None:
    """Replace every ``x-limits`` marker of an OpenAPI document with the bound ``settings`` gives, in place."""
    if isinstance(schema, dict):
        marker = schema.pop("x-limits", None)
        if marker is not None:
            value = getattr(settings, marker["setting"]) + marker["offset"]
            schema.update(_KEYWORDS[marker["kind"]](value, schema))
        for v in schema.values():
            document_limits(v, settings)
    elif isinstance(schema, list):
        for v in schema:
            document_limits(v, settings)
