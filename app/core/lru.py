"""One bounded, thread-safe, least-recently-used map for every cache and bounded store of the app.

Bounded by a count, by a weight (such as the characters of rendered text), by a time since last use, or by
any of these together; the least recently used entry goes first. ``get`` counts as a use (and restarts the
entry's time to live), ``peek`` does not. ``on_evict`` hears of every entry the bounds push out (not of
those taken out with ``pop``), called outside the lock so that it may take its time or lock something else.

Left out: sharing between processes (that is ``app.core.state``'s Redis), and any notion of staleness
besides age: what is cached here never changes once made.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRU(Generic[K, V]):
    """At most ``max_items`` entries, ``max_weight`` in all by ``weigh``, each ``ttl_seconds`` past its last use."""

    def __init__(
        self,
        max_items: int | None = None,
        *,
        max_weight: int | None = None,
        weigh: Callable[[V], int] | None = None,
        ttl_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_evict: Callable[[K, V], None] | None = None,
    ) -> None:
        if (max_weight is None) != (weigh is None):
            raise ValueError("max_weight and weigh: give both or neither")
        self.max_items = max_items
        self.max_weight = max_weight
        self.ttl_seconds = ttl_seconds
        self._weigh = weigh
        self._clock = clock
        self._on_evict = on_evict
        self._entries: OrderedDict[K, tuple[V, float, int]] = OrderedDict()  # value, last use, weight
        self._weight = 0
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The value, now the most recently used (its time to live restarted); None when absent or expired."""
        with self._lock:
            evicted = self._expire()
            entry = self._entries.get(key)
            if entry is not None:
                self._entries[key] = (entry[0], self._clock(), entry[2])
                self._entries.move_to_end(key)
        self._evicted(evicted)
        return None if entry is None else entry[0]

    def peek(self, key: K) -> V | None:
        """The value without counting a use; None when absent or expired."""
        with self._lock:
            evicted = self._expire()
            entry = self._entries.get(key)
        self._evicted(evicted)
        return None if entry is None else entry[0]

    def put(self, key: K, value: V) -> None:
        """Keep ``value`` as the most recently used; a value heavier than ``max_weight`` on its own is not kept."""
        weight = self._weigh(value) if self._weigh is not None else 0
        with self._lock:
            evicted = self._expire()
            old = self._entries.pop(key, None)
            if old is not None:
                self._weight -= old[2]
            if self.max_weight is None or weight <= self.max_weight:
                self._entries[key] = (value, self._clock(), weight)
                self._weight += weight
            evicted += self._trim()
        self._evicted(evicted)

    def pop(self, key: K) -> V | None:
        """Take the value out (no ``on_evict``); None when absent."""
        with self._lock:
            entry = self._entries.pop(key, None)
            if entry is not None:
                self._weight -= entry[2]
        return None if entry is None else entry[0]

    def values(self) -> list[V]:
        """The values kept now, least recently used first (a copy)."""
        with self._lock:
            evicted = self._expire()
            found = [v for v, _, _ in self._entries.values()]
        self._evicted(evicted)
        return found

    @property
    def weight(self) -> int:
        with self._lock:
            return self._weight

    def __len__(self) -> int:
        with self._lock:
            evicted = self._expire()
            n = len(self._entries)
        self._evicted(evicted)
        return n

    def __contains__(self, key: object) -> bool:
        return self.peek(key) is not None  # type: ignore[arg-type]

    def _expire(self) -> list[tuple[K, V]]:
        # Entries are in order of last use, so the expired ones are at the front.
        if self.ttl_seconds is None:
            return []
        cutoff = self._clock() - self.ttl_seconds
        out: list[tuple[K, V]] = []
        while self._entries:
            key, (value, used, weight) = next(iter(self._entries.items()))
            if used > cutoff:
                break
            self._entries.popitem(last=False)
            self._weight -= weight
            out.append((key, value))
        return out

    def _trim(self) -> list[tuple[K, V]]:
        out: list[tuple[K, V]] = []
        while self._entries and (
            (self.max_items is not None and len(self._entries) > self.max_items)
            or (self.max_weight is not None and self._weight > self.max_weight)
        ):
            key, (value, _, weight) = self._entries.popitem(last=False)
            self._weight -= weight
            out.append((key, value))
        return out

    def _evicted(self, evicted: list[tuple[K, V]]) -> None:
        if self._on_evict is not None:
            for key, value in evicted:
                self._on_evict(key, value)
