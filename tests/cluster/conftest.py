"""The cluster tests: slow (Redis, two web processes and two workers, all real), so they have a marker of their
own; ``-m "not cluster"`` leaves them out."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cluster: starts Redis, two web processes and two workers (slow)")
