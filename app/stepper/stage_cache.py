"""Rendered steps, once per run: a bounded cache of the inside of ``#stage`` at step k of a run, and of patches.

A class playing the same network asks for the same steps: the first request renders a step, every
other one (also a request that arrives while it renders) is served its text. The cache is per
process, bounded by characters (``stage_cache_bytes``; a step of eight layers of 16 is about
550 000 characters, one of 4-8-8-3 about 70 000), least recently used first out. A run's steps
never change, so nothing is ever stale: the key is the run id, the root path and the step (and
``"patch"`` for the stream's patch from step k-1 to step k, ``app.stepper.view.patch``, a few KB).

Left out: sharing rendered steps between processes; each renders a step once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from backprop_lens.app.core.lru import LRU

Key = tuple[str | int, ...]  # run id, root path, step (, "patch")


class StageCache:
    """Text by key, at most ``max_chars`` characters in all; safe to use from several threads."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self.renders = 0  # how many times ``get`` had to render (for tests and the bench)
        self._texts: LRU[Key, str] = LRU(max_weight=max_chars, weigh=len)
        self._pending: dict[Key, threading.Event] = {}
        self._lock = threading.Lock()

    def get(self, key: Key, render: Callable[[], str]) -> str:
        """The text of ``key``, rendered by ``render`` only when no other thread has it or is making it."""
        while True:
            with self._lock:
                text = self._texts.get(key)
                if text is not None:
                    return text
                waiting = self._pending.get(key)
                if waiting is None:
                    done = self._pending[key] = threading.Event()
                    break
            waiting.wait()  # another thread renders it; then read it (or render, had that failed)
        try:
            text = render()
            with self._lock:
                self.renders += 1
            self._texts.put(key, text)  # one longer than max_chars on its own is not kept
            return text
        finally:
            with self._lock:
                del self._pending[key]
            done.set()

    def __len__(self) -> int:
        return len(self._texts)
