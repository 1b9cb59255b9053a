"""HTML form bodies: the pages' POSTs are urlencoded forms, read here once for every router.

Left out: multipart. No form of the app uploads a file as such (a CSV is pasted or read by the page's
script into a text field), so the app needs no multipart parser.
"""

from __future__ import annotations

import math
import re
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, HTTPException, Request

MAX_FORM_FIELDS = 64  # more than any form of the app has


async def form_fields(request: Request) -> dict[str, str]:
    """The fields of an urlencoded form; 415 for another content type, 422 for too many fields."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        raise HTTPException(415, f"body: expected a form (application/x-www-form-urlencoded), got {media or 'none'}")
    text = (await request.body()).decode("utf-8", errors="replace")
    try:
        return dict(parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS))
    except ValueError:
        raise HTTPException(422, f"body: more than {MAX_FORM_FIELDS} form fields") from None


Form = Annotated[dict[str, str], Depends(form_fields)]


# --- numbers typed into a form ---------------------------------------------------

_SEPARATORS = re.compile(r"[\s,;]+")
_MINUS_SIGNS = str.maketrans({"\u2212": "-", "\u2013": "-", "\u2012": "-", "\ufe63": "-", "\uff0d": "-"})
"""The minus signs a person may paste: U+2212 (the one the page itself prints), the en dash and figure
dash that word processors substitute, and the small and full-width hyphen-minus."""


def ascii_minus(text: str) -> str:
    """``text`` with every minus sign a person may paste made ASCII, for a field a model parses itself."""
    return text.translate(_MINUS_SIGNS)


def number_tokens(text: str) -> list[str]:
    """The numbers of a field separated by spaces, commas or semicolons, minus signs made ASCII."""
    return [t for t in _SEPARATORS.split(text.translate(_MINUS_SIGNS).strip()) if t]


def read_number(field: str, token: str) -> float:
    """One finite number of a form field; ValueError names the field and the token.

    Accepts the page's own minus sign (U+2212). Rejects nan and inf, which ``float`` would take.
    """
    text = token.translate(_MINUS_SIGNS).strip()
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{field}: {token[:24]!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{field}: {token[:24]!r} is not a finite number")
    return value


def read_numbers(field: str, text: str) -> list[float]:
    """Every number of a field, in order (see ``number_tokens`` and ``read_number``)."""
    return [read_number(field, t) for t in number_tokens(text)]
