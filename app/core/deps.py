"""Dependencies every feature shares: the app's settings, whether htmx asked, JSON bodies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from backprop_lens.app.core.settings import Settings


def settings_of(request: Request) -> Settings:
    """The settings of the app serving ``request`` (``create_app``'s, not the environment's)."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(settings_of)]


def is_htmx(request: Request) -> bool:
    """True when htmx made the request (it wants a fragment, not the whole page)."""
    return request.headers.get("hx-request") == "true"


async def require_json(request: Request) -> None:
    """POST bodies are JSON: another content type is a 415 that says what to send.

    ``async``, as it only reads a header: a plain ``def`` would cost every request a hop to the thread pool.
    """
    if request.method == "POST":
        media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media != "application/json":
            raise HTTPException(415, f"content-type: expected application/json, got {media or 'none'}")
