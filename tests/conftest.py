"""Suite-wide: the tiers, and the order (the browser tests run last).

The fast tier is ``python -m pytest -m "not browser and not cluster and not slow"``. A test that starts Chromium
is marked ``browser``; one that starts Redis, a server process, a worker, nginx, a kernel, a venv or the bench is
marked ``slow`` (or ``cluster``), and so is a test that takes seconds of CPU on its own: by hand where it starts one
itself, and here for every test under tests/browser/ and every test that uses a fixture that starts one, so that a
new test cannot slip into the fast tier that way.

Playwright's sync API keeps an event loop running in the main thread for as long as its browser is
open (one per session); tests that start their own asyncio loop must not come after it.
"""

from __future__ import annotations

import pytest

PROCESS_FIXTURES = frozenset(
    {
        "redis_url", "own_redis", "two_apps", "cluster",  # a real redis-server (and workers)
        "quick", "port",  # the bench, and the server it measures
        "wheel", "installed", "served",  # pip, a venv and the installed server
    }
)  # fmt: skip
"""Fixtures that start a process: every test that uses one (directly or through another) is ``slow``."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "browser" in item.path.parts and item.get_closest_marker("browser") is None:
            item.add_marker(pytest.mark.browser)  # everything under tests/browser/ drives Chromium
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & PROCESS_FIXTURES and item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.slow)
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)  # stable: order kept otherwise
