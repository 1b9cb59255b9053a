"""The API documentation at ``/docs``: Swagger UI served from ``static/vendor/``, started by ``static/js/docs.js``.

FastAPI's own ``/docs`` loads Swagger UI from a CDN and starts it with an inline
script; the Content-Security-Policy blocks both, and a classroom may have no
internet. This page references only this server's files, so it runs under the
app's policy unchanged and sends no request elsewhere.

Left out: ReDoc (``/redoc`` is turned off, not replaced) and the OAuth2 redirect
page (the API has no authentication).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from backprop_lens.app.core.templating import root_of, templates_of

router = APIRouter(tags=["docs"], include_in_schema=False)


@router.get("/docs", response_class=HTMLResponse)
def docs(request: Request) -> HTMLResponse:
    """Swagger UI on this app's OpenAPI document, whose URL the page reads from a ``data-*`` attribute."""
    # As FastAPI's own docs page does: behind a proxy that mounts the app on a sub-path, the schema
    # is under that path too.
    openapi_url = root_of(request) + str(request.app.openapi_url)
    return templates_of(request).TemplateResponse(request, "docs/page.html", {"openapi_url": openapi_url})
