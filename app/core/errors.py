"""Error bodies: every 4xx names the field and what was expected, and never echoes input.

Pydantic's own 422 body repeats the offending input, which may be NaN or a
megabyte of numbers; these handlers keep the location and the message only.
The one exception is an unknown name (an activation, a cost): a plain word,
cut to 24 characters, so that "unknown activation 'sigmod'" says which was meant.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from backprop_lens.app.core.schemas import ErrorBody, ErrorItem

OVERFLOW = "the numbers overflow to infinity in this network; use smaller weights, inputs or targets"

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The body could not be read as text (not UTF-8)."},
    413: {"model": ErrorBody, "description": "The body is larger than the limit."},
    415: {"model": ErrorBody, "description": "The body is not JSON."},
    422: {"model": ErrorBody, "description": "A field is missing, malformed or out of bounds; the message names it."},
}
"""The error statuses of a JSON route, for its OpenAPI ``responses``."""


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """A JSON error whose message names the problem in words (and the field first, where there is one)."""
    return JSONResponse(ErrorBody(message=message, detail=message).model_dump(), status_code=status, headers=headers)


class InputError(Exception):
    """A request that validated but that the engine cannot compute (e.g. overflow)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _loc_text(loc: Sequence[str | int]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    text = ""
    for p in parts:
        text += f"[{p}]" if p.isdigit() else (f".{p}" if text else p)
    return text or "body"


_WORD = re.compile(r"[\w\-]+")


def unknown_name(what: str, given: object, choices: Sequence[str], where: str = "") -> str:
    """The words for a name that is not one of the choices: unknown activation 'sigmod'; choose sigmoid, … or linear."""
    options = ", ".join(choices[:-1]) + f" or {choices[-1]}" if len(choices) > 1 else "".join(choices)
    if not isinstance(given, str) or not _WORD.fullmatch(given):
        return f"choose {options}"  # only a plain word is worth showing again
    return f"unknown {what} {given[:24]!r}{where}; choose {options}"


def _is_branch(part: object) -> bool:
    # Pydantic names the members of a union in the location: "literal['sigmoid',…]", "list[literal[…]]".
    return isinstance(part, str) and "[" in part


def _wrong_branch(e: Any) -> bool:
    """An error that only says the input is not of this member's type (a name where a list may go)."""
    kind = str(e.get("type", ""))
    return kind.endswith("_type") or (kind == "literal_error" and not isinstance(e.get("input"), str))


def _choices(e: Any) -> list[str]:
    # ctx["expected"] of a literal_error reads "'sigmoid', 'tanh', 'relu' or 'linear'"
    expected = str((e.get("ctx") or {}).get("expected", ""))
    return [c.strip(" '") for c in expected.replace(" or ", ", ").split(",") if c.strip(" '")]


def clean_errors(errors: Sequence[Any]) -> list[ErrorItem]:
    """Location and message of each error, without the input; a union's members reported as one field."""
    raw = list(errors)
    fields = [tuple(p for p in e.get("loc", ()) if not _is_branch(p)) for e in raw]
    wrong = [any(_is_branch(p) for p in e.get("loc", ())) and _wrong_branch(e) for e in raw]
    said = [f for f, w in zip(fields, wrong, strict=True) if not w]
    items = []
    for e, field, w in zip(raw, fields, wrong, strict=True):
        if w and any(f[: len(field)] == field for f in said):
            continue  # another member of the union says what is wrong
        loc = [p if isinstance(p, int) else str(p) for p in field]
        msg = str(e.get("msg", "invalid value")).removeprefix("Value error, ")
        if e.get("type") == "literal_error":
            names = [n for n in (str(p) for p in field) if not n.isdigit()]
            msg = unknown_name(names[-1].replace("_", " ") if names else "value", e.get("input"), _choices(e))
        items.append(ErrorItem(loc=loc, msg=msg, type=str(e.get("type", "value_error"))))
    return items


def validation_message(item: ErrorItem) -> str:
    """The one-line message of an error: the field, then what was wrong."""
    if item.type == "json_invalid":
        return f"body: not valid JSON ({item.msg}) at character {item.loc[-1]}"
    head, sep, _ = item.msg.partition(": ")
    if item.type == "value_error" and sep and " " not in head:
        return item.msg  # our cross-field messages already start with the field's name
    return f"{_loc_text(item.loc)}: {item.msg}"


def first_message(exc: ValidationError) -> str:
    """The first error of a failed validation, worded as the API words it."""
    items = clean_errors(exc.errors())
    return validation_message(items[0]) if items else "form: invalid"


async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    items = clean_errors(exc.errors())
    if not items:
        items = [ErrorItem(loc=["body"], msg="invalid request", type="value_error")]
    body = ErrorBody(message=validation_message(items[0]), detail=items)
    return JSONResponse(body.model_dump(), status_code=422)


async def on_input_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InputError)
    item = ErrorItem(loc=["body", *exc.field.split(".")], msg=exc.message, type="value_error")
    body = ErrorBody(message=f"{exc.field}: {exc.message}", detail=[item])
    return JSONResponse(body.model_dump(), status_code=422)


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else "request failed"
    if exc.status_code == 400 and detail == "There was an error parsing the body":
        detail = "body: could not be read as JSON text (is it UTF-8?)"  # FastAPI's words name no field
    body = ErrorBody(message=detail, detail=detail)
    return JSONResponse(body.model_dump(), status_code=exc.status_code, headers=exc.headers)
