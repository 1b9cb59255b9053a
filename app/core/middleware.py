"""ASGI middleware: the request body limit, the security headers of every response, compression, and the
refusal of cross-site requests that would change state.

All are plain ASGI so they also wrap streaming responses and static files. ``accepted_encoding`` and
``compressor`` are the one choice of encoding and the one compressor: ``CompressionMiddleware`` compresses a
whole reply with them, and the page's event stream (``app.stepper.stream``) each event as it is sent.

Left out: compressing a streamed reply (event streams and files sent in chunks pass through unchanged; the page's
stream compresses itself, with a window that spans its events), and zstd or deflate.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Callable

import anyio
import brotli  # type: ignore[import-untyped]
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backprop_lens.app.core.settings import Settings, using

log = logging.getLogger("backprop_lens")

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


BROTLI_QUALITY, BROTLI_WINDOW_BITS = 5, 24  # quality 5: about 0.5 ms per 4-8-8-3 step; a 16 MB window spans steps
INLINE_BYTES = 64_000  # larger events are compressed in the thread pool, off the event loop


def accepted_encoding(accept_encoding: str | None) -> str | None:
    """``br``, ``gzip`` or None (identity): the best the client accepts (a ``q=0`` refuses)."""
    accepted = set()
    for part in (accept_encoding or "").lower().split(","):
        name, _, params = part.strip().partition(";")
        q = params.strip().removeprefix("q=")
        if params and q.replace(".", "", 1).isdigit() and float(q) == 0:
            continue
        accepted.add(name.strip())
    for name in ("br", "gzip"):
        if name in accepted:
            return name
    return None


def compressor(encoding: str) -> tuple[Callable[[bytes], bytes], Callable[[], bytes]]:
    """(compress a chunk and flush it, finish the stream) for ``encoding``; state spans the chunks."""
    if encoding == "br":
        br = brotli.Compressor(quality=BROTLI_QUALITY, lgwin=BROTLI_WINDOW_BITS)
        return (lambda chunk: bytes(br.process(chunk)) + bytes(br.flush())), lambda: bytes(br.finish())
    gz = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: the gzip format
    return (lambda chunk: gz.compress(chunk) + gz.flush(zlib.Z_SYNC_FLUSH)), gz.flush


class CompressionMiddleware:
    """``Content-Encoding: br`` or ``gzip`` for a whole reply of at least ``min_bytes`` when the client accepts it.

    Only a reply sent in one piece is compressed; one that is streamed (an event stream, a file in chunks)
    or already encoded passes through as it is.
    """

    def __init__(self, app: ASGIApp, min_bytes: int) -> None:
        self.app = app
        self.min_bytes = min_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        encoding = None
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"accept-encoding":
                    encoding = accepted_encoding(value.decode("latin-1"))
        if encoding is None:
            await self.app(scope, receive, send)
            return
        start: Message | None = None

        async def compressing(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message  # held until the body shows whether the reply comes in one piece
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            held, start = start, None
            headers = list(held.get("headers", []))
            body = bytes(message.get("body", b""))
            names = {k.lower() for k, _ in headers}
            if message.get("more_body", False) or b"content-encoding" in names or len(body) < self.min_bytes:
                await send(held)
                await send(message)
                return
            compress, finish = compressor(encoding)
            if len(body) > INLINE_BYTES:
                body = await anyio.to_thread.run_sync(lambda: compress(body) + finish())
            else:
                body = compress(body) + finish()
            headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
            headers += [
                (b"content-encoding", encoding.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"vary", b"Accept-Encoding"),
            ]
            await send({**held, "headers": headers})
            await send({**message, "body": body})

        await self.app(scope, receive, compressing)


class SecurityHeadersMiddleware:
    """Adds the Content-Security-Policy and friends to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in names]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            # The last resort: the traceback goes to the log, never to the client.
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await _send_json(send, 500, "internal error: the request could not be computed")


async def _send_json(send: Send, status: int, message: str) -> None:
    """An ErrorBody-shaped JSON response, sent from below the app."""
    body = json.dumps({"message": message, "detail": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": [*headers, *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})


async def _reject(send: Send, max_bytes: int) -> None:
    await _send_json(send, 413, f"body: larger than the limit of {max_bytes} bytes")


class BodyLimitMiddleware:
    """413 for a body over ``max_bytes``: by Content-Length before reading, else while reading (chunked)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = self.max_bytes + 1
                if declared > self.max_bytes:
                    await _reject(send, self.max_bytes)
                    return

        received = 0
        started = False  # by the app
        rejected = False  # by us, with a 413

        async def limited_receive() -> Message:
            nonlocal received, rejected
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Answer now and tell the app the client is gone, so it stops reading;
                    # whatever the app sends afterwards is dropped.
                    if not started and not rejected:
                        rejected = True
                        await _reject(send, self.max_bytes)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if rejected:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, limited_receive, guarded_send)


UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL, lower-cased; None for what is no such URL (``null``, garbage)."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        return None
    host = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rsplit("@", 1)[-1].lower()
    return f"{scheme.lower()}://{host}" if host else None


def _host_of(origin: str) -> str:
    return origin.partition("://")[2]


class OriginMiddleware:
    """403, in words, for a state-changing request that another site's page sent (cross-site request forgery).

    A browser names the page a request comes from in ``Origin`` (and ``Referer``). A POST, PUT, PATCH or DELETE
    whose Origin, or else whose Referer, is not this site is refused: "this site" is the host the request was
    sent to (its ``Host``, which a proxy passes on), or one of ``trusted_origins``. The scheme is not compared,
    as a proxy that ends TLS may hand the app plain http. Same-site forms (htmx sends Origin) pass, and so do API
    clients, which send neither header.
    """

    def __init__(self, app: ASGIApp, trusted_origins: tuple[str, ...] = ()) -> None:
        self.app = app
        self.trusted = {o for o in (_origin_of(t) for t in trusted_origins) if o is not None}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope.get("headers", [])}
        claimed = headers.get("origin") or headers.get("referer")
        if claimed is None:
            await self.app(scope, receive, send)
            return
        host = headers.get("host", "").lower()
        origin = _origin_of(claimed)
        if origin is not None and (_host_of(origin) == host or origin in self.trusted):
            await self.app(scope, receive, send)
            return
        which = "Origin" if "origin" in headers else "Referer"
        shown = claimed if len(claimed) <= 100 else claimed[:100] + "…"
        await _send_json(
            send,
            403,
            f"{which.lower()}: a request from another site ({which} {shown!r}) may not change anything here "
            f"({host or 'this site'}); send it from this site's own page, or without {which} as an API client",
        )


class SettingsMiddleware:
    """Runs each request with ``current_settings()`` pointing at the app's own settings.

    Request models read their limits there while FastAPI validates a body, so two apps with
    different settings in one process each enforce their own.
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with using(self.settings):
            await self.app(scope, receive, send)
