"""What an operations team scrapes: ``/metrics`` in Prometheus's text format, one registry per app.

Counted as requests pass (``MetricsMiddleware``): responses by status class, and the time to the start of each
response by route group (the first segment of the path: ``api``, ``runs``, ``sessions``, ``join``, ``train``,
``static``, …; an event stream counts until its headers, not for its whole life). Counted where they happen:
Redis errors by kind. Read when scraped, from the app's own objects (``create_app`` registers each reading):
open streams by kind, followers per session, sessions in use against their limit, the training queue's depth
and trainings by state. Every number is this process's; a deployment of several processes sums them.

Left out: a separate port (scrape the app's own port and keep ``/metrics`` from the outside at the proxy, as
docs/deploy.md's nginx configuration does), and per-URL labels (their number would have no bound).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PREFIX = "backprop_lens_"
ROUTE_GROUPS = frozenset({"api", "runs", "sessions", "join", "train", "static", "docs", "openapi.json", "metrics"})
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
Reading = Callable[[], Iterable[tuple[dict[str, str], float]]]
"""Labels and value of each sample of one gauge, read at scrape time."""


def route_group(path: str) -> str:
    """The label of a path: its first segment when it is one of the app's, ``page`` for /, else ``other``."""
    first = path.lstrip("/").split("/", 1)[0]
    if not first:
        return "page"
    return first if first in ROUTE_GROUPS else "other"


class _Gauges(Collector):
    def __init__(self, failed: Callable[[Exception], None]) -> None:
        self.readings: list[tuple[str, str, tuple[str, ...], Reading]] = []
        self.blocking: set[str] = set()  # readings that wait on Redis: read in a thread before each scrape
        self.read: dict[str, list[tuple[dict[str, str], float]] | Exception] = {}
        self.failed = failed

    def prefetch(self) -> None:
        """Read the blocking gauges (in a worker thread: a slow or absent Redis must not hold the event loop)."""
        for name, _, _, read in self.readings:
            if name in self.blocking:
                try:
                    self.read[name] = list(read())
                except Exception as e:  # counted when collected
                    self.read[name] = e

    def collect(self) -> Iterator[Metric]:
        for name, documentation, labels, read in self.readings:
            try:
                if name in self.blocking:
                    got = self.read.get(name)  # the last prefetch's
                    if isinstance(got, Exception):
                        raise got
                    samples = got or []
                else:
                    samples = list(read())
            except Exception as e:  # Redis away: the other metrics still answer, and the error is counted
                self.failed(e)
                continue
            family = GaugeMetricFamily(PREFIX + name, documentation, labels=list(labels))
            for values, value in samples:
                family.add_metric([values[label] for label in labels], value)
            yield family


class Metrics:
    """One app's metrics: its own registry, so two apps in one process count apart."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.responses = Counter(
            PREFIX + "responses", "Responses sent, by status class (2xx, 4xx, …).", ["status_class"],
            registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            PREFIX + "request_seconds", "Seconds from a request's arrival to its response's start, by route group.",
            ["route"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.redis_errors = Counter(
            PREFIX + "redis_errors", "Redis errors met while serving, by kind (the exception's class).", ["kind"],
            registry=self.registry,
        )  # fmt: skip
        self._gauges = _Gauges(self.count_error)
        self.registry.register(self._gauges)
        self._async: list[tuple[str, str, Callable[[], Awaitable[float]]]] = []

    def async_gauge(self, name: str, documentation: str, read: Callable[[], Awaitable[float]]) -> None:
        """A gauge whose reading awaits (a count kept in Redis), read when scraped."""
        self._async.append((name, documentation, read))

    def count_error(self, e: BaseException) -> None:
        """One more Redis error of ``e``'s kind (the error under a StateUnavailableError, when there is one)."""
        self.redis_errors.labels(type(e.__cause__ or e).__name__).inc()

    def gauge(
        self, name: str, documentation: str, labels: tuple[str, ...], read: Reading, blocking: bool = False
    ) -> None:
        """A gauge read from the app's objects when scraped; ``blocking``: its reading waits on Redis, so it is
        read in a worker thread."""
        self._gauges.readings.append((name, documentation, labels, read))
        if blocking:
            self._gauges.blocking.add(name)

    async def text(self) -> bytes:
        """Everything, in Prometheus's text format; a reading that fails is left out (its error is counted)."""
        values: list[tuple[str, str, float]] = []
        for name, documentation, read in self._async:
            try:
                values.append((name, documentation, await read()))
            except Exception as e:  # Redis away: the other metrics still answer, and the error is counted
                self.count_error(e)
        extra = b"".join(
            f"# HELP {PREFIX}{n} {d}\n# TYPE {PREFIX}{n} gauge\n{PREFIX}{n} {v}\n".encode() for n, d, v in values
        )
        await asyncio.to_thread(self._gauges.prefetch)
        return generate_latest(self.registry) + extra


class MetricsMiddleware:
    """Counts every HTTP response by status class and times it to its start, by route group."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        group = route_group(path[len(root) :] if root and path.startswith(root) else path)

        async def counting(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.metrics.latency.labels(group).observe(time.perf_counter() - start)
                self.metrics.responses.labels(f"{message['status'] // 100}xx").inc()
            await send(message)

        await self.app(scope, receive, counting)
