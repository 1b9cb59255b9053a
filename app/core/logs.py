"""Logs an operations team can read: timestamps, a request id on every line of a request, one access line per
request, and text or JSON lines.

``configure(fmt)`` sets the process's logging (``backprop-lens serve`` and ``worker`` call it; uvicorn gets the
same handlers through ``uvicorn_config``). ``AccessLogMiddleware`` gives each request an id (the client's
``X-Request-ID`` when it is a short token, else a new one), returns it in ``X-Request-ID``, puts it on every log
line written while the request is served, and writes one access line when the response has started: method,
path, status, the milliseconds to the response's start, and the client's address (the proxy's X-Forwarded-For
once uvicorn trusts the proxy).

Left out: shipping logs anywhere (systemd's journal or the container's collector takes standard error), and
sampling.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import secrets
import time
from typing import Any, Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

Format = Literal["text", "json"]
REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_TOKEN = re.compile(r"[A-Za-z0-9._-]{1,64}")
TEXT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
access = logging.getLogger("backprop_lens.access")


class RequestIdFilter(logging.Filter):
    """Puts the id of the request being served (or ``-``) on every record, as ``request_id``."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (ISO 8601, UTC), level, logger, message, request id, and any ``fields``."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def uvicorn_config(fmt: Format) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for uvicorn and the app: one handler on standard error, our format."""
    formatter: dict[str, Any] = (
        {"()": JsonFormatter} if fmt == "json" else {"format": TEXT, "datefmt": "%Y-%m-%dT%H:%M:%S%z"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"default": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "default",
                "filters": ["request_id"],
            }
        },
        "loggers": {
            "backprop_lens": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
            "uvicorn.error": {"level": "WARNING"},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},  # ours is the access line
        },
    }


def configure(fmt: Format) -> None:
    """This process's logging, as ``uvicorn_config`` describes it."""
    import logging.config

    logging.config.dictConfig(uvicorn_config(fmt))


class AccessLogMiddleware:
    """A request id for every request and one access line for each, once its response has started."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-request-id"), "")
        request_id = given if _TOKEN.fullmatch(given) else secrets.token_hex(8)
        token = REQUEST_ID.set(request_id)
        start = time.perf_counter()

        async def logging_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
                ms = round((time.perf_counter() - start) * 1000, 1)
                client = scope.get("client")
                fields = {
                    "method": scope["method"],
                    "path": scope.get("path", ""),  # the whole path: ASGI puts the root path in it
                    "status": message["status"],
                    "ms": ms,
                    "client": client[0] if client else "-",
                }
                access.info(
                    "%s %s %s %.1f ms %s", fields["method"], fields["path"], fields["status"], ms, fields["client"],
                    extra={"fields": fields},
                )  # fmt: skip
            await send(message)

        try:
            await self.app(scope, receive, logging_send)
        finally:
            REQUEST_ID.reset(token)
