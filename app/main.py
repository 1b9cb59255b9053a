"""Create the app: routers, static files, error handlers, body limit and security headers."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from app import __version__
from app.api import docs
from app.api import routes as api
from app.core.errors import InputError, on_http_error, on_input_error, on_validation_error
from app.core.middleware import BodyLimitMiddleware, SecurityHeadersMiddleware
from app.core.settings import Settings, get_settings
from app.core.slots import StreamSlots
from app.instruments import routes as instruments
from app.stepper import routes as pages
from app.stepper import stream
from app.training import routes as training


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="backprop-lens",
        version=__version__,
        description=(
            "Exact gradients and the step-by-step trace of backpropagation, as in chapter 2 of "
            "Michael Nielsen's *Neural Networks and Deep Learning*. Matrices are lists of rows; "
            "examples in a batch are rows."
        ),
        # app.api.docs serves /docs from static/ under the CSP; FastAPI's own pages load Swagger UI and ReDoc from CDNs.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.streams = StreamSlots(settings.max_streams)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(InputError, on_input_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(stream.router)
    app.include_router(instruments.router)
    app.include_router(instruments.page_router)
    app.include_router(training.router)
    app.include_router(docs.router)
    app.mount("/static", StaticFiles(directory=settings.static_dir), name="static")
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeadersMiddleware)
    return app


app = create_app()
