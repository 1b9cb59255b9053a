"""HTML form bodies: the pages' POSTs are urlencoded forms, read here once for every router.

Left out: multipart. No form of the app uploads a file as such (a CSV is pasted or read by the page's
script into a text field), so the app needs no multipart parser.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, HTTPException, Request

MAX_FORM_FIELDS = 64  # more than any form of the app has


async def form_fields(request: Request) -> dict[str, str]:
    """The fields of an urlencoded form; 415 for another content type, 422 for too many fields."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        raise HTTPException(
            415, f"body: expected a form (application/x-www-form-urlencoded), got {media or 'none'}"
        )
    text = (await request.body()).decode("utf-8", errors="replace")
    try:
        return dict(parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS))
    except ValueError:
        raise HTTPException(422, f"body: more than {MAX_FORM_FIELDS} form fields") from None


Form = Annotated[dict[str, str], Depends(form_fields)]
