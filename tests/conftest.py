"""Suite-wide order: the browser tests run last.

Playwright's sync API keeps an event loop running in the main thread for as long as its browser is
open (one per session); tests that start their own asyncio loop must not come after it.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)  # stable: order kept otherwise
