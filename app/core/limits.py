"""Limits that request models read from the app's settings while they validate.

``Field(le=...)`` would fix a limit when the module is imported; these markers read
``current_settings()`` at validation time instead, so ``create_app(Settings(max_layers=3))``
enforces 3. They raise pydantic's own error types and wording ("Input should be less than or
equal to 8"), so a message does not depend on where its limit came from. Each also leaves the
name of its setting in the JSON schema (``x-limits``), and ``document_limits`` writes the app's
values there, so the OpenAPI document of each app states the bounds that app enforces.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler, GetJsonSchemaHandler, create_model
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema
from typing_extensions import TypeAliasType

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


def _bounded(marker: Limit, settings: Settings) -> list[Any]:
    """``marker`` as pydantic's own constraints at the bound ``settings`` give (checked in Rust, no Python call)."""
    most = marker.bound(settings)
    if marker.kind == "len":
        return [annotated_types.MaxLen(int(most))]
    if marker.kind == "abs":
        return [annotated_types.Ge(-most), annotated_types.Le(most)]
    return [annotated_types.Le(most)]


def _compiled_type(tp: Any, settings: Settings) -> Any:
    if isinstance(tp, TypeAliasType):
        return _compiled_type(tp.__value__, settings)
    origin, args = get_origin(tp), get_args(tp)
    if origin is Annotated:
        meta = [c for m in tp.__metadata__ for c in (_bounded(m, settings) if isinstance(m, Limit) else [m])]
        return Annotated[(_compiled_type(args[0], settings), *meta)]
    if origin in (Union, types.UnionType):
        return Union[tuple(_compiled_type(a, settings) for a in args)]  # noqa: UP007 (built from a tuple)
    if origin is list:
        return types.GenericAlias(list, (_compiled_type(args[0], settings),))
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return compiled(tp, settings)
    return tp  # a plain type or a Literal


@functools.lru_cache(maxsize=32)
def compiled(model: type[BaseModel], settings: Settings) -> type[BaseModel]:
    """``model``'s fields, types, defaults and strictness, with every limit marker turned into pydantic's own
    constraint at ``settings``' bound, and without the model's validators (nested models alike).

    The same body is accepted by both as far as fields go; a request model's cross-field rules (its validators)
    are its own to check. Made once per model and settings (``Settings`` is frozen): validating through it costs
    no Python call per number, which a body of megabytes needs (``app.api.fastlane``).
    """
    fields: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        meta = [c for m in field.metadata for c in (_bounded(m, settings) if isinstance(m, Limit) else [m])]
        annotation = _compiled_type(field.annotation, settings)
        if meta:
            annotation = Annotated[(annotation, *meta)]
        default = ... if field.is_required() else field.default
        fields[name] = (annotation, default)
    config = ConfigDict(strict=bool(model.model_config.get("strict")), extra=model.model_config.get("extra"))
    made: type[BaseModel] = create_model(f"Compiled{model.__name__}", __config__=config, **fields)
    return made
