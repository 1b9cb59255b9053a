"""The one HTTP client of the measurements (``bench.server`` and ``scripts/load.py``): httpx on loopback.

``pool`` is one ``httpx.AsyncClient`` holding up to C keep-alive connections to 127.0.0.1; C tasks that
each await their answer before sending again keep exactly C connections busy, each reused request after
request. ``read_events`` reads a Server-Sent Events answer line by line up to a named event: the final
``done`` (a stream held to its end) or the first ``step`` (the time to the first event).

One client serves many connections because making one costs tens of milliseconds (its TLS context), and
the client shares the machine's cores with the server it measures.

Left out: any address but 127.0.0.1, the environment's proxies (``trust_env=False``), TLS, HTTP/2.
"""

from __future__ import annotations

import httpx

HOST = "127.0.0.1"
READ_TIMEOUT = 30.0
JSON = {"Content-Type": "application/json"}
CLOSE = {"Connection": "close"}  # the server closes the connection after its answer: the next one opens anew


def pool(port: int, connections: int, timeout: float = READ_TIMEOUT) -> httpx.AsyncClient:
    """Up to ``connections`` keep-alive connections to the server on ``port``, opened as needed and kept."""
    return httpx.AsyncClient(
        base_url=f"http://{HOST}:{port}",
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        timeout=timeout,
        trust_env=False,
    )


def answers(port: int, path: str, timeout: float = 1.0) -> int | None:
    """The status of ``GET path`` on a connection of its own; None while nothing listens on ``port``."""
    try:
        return httpx.get(f"http://{HOST}:{port}{path}", headers=CLOSE, timeout=timeout, trust_env=False).status_code
    except httpx.TransportError:
        return None


async def read_events(response: httpx.Response, until: str) -> int:
    """Reads the stream ``response`` up to and including its first event named ``until``: the events read.

    Raises ``EOFError`` when the stream ends before that event.
    """
    events = 0
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            events += 1
            if line.removeprefix("event:").strip() == until:
                return events
    raise EOFError(f"the stream ended before its {until!r} event")
