"""The bench's optional dependencies: import one if it is there, else say which extra installs it.

Nothing the bench measures needs more than the engine to run; each of these only adds rows or details
(a baseline, the thread pools, the server's figures, the page in Chromium). Where one is missing, the row
it would have filled says so and names the ``pip install`` that brings it, and the rest of the bench runs.

Left out: installing anything.
"""

from __future__ import annotations

import importlib
from typing import Any

EXTRAS: dict[str, str] = {
    "orjson": "bench",
    "threadpoolctl": "bench",
    "httpx": "bench",
    "torch": "torch",
    "jax": "jax",
    "playwright": "test",  # with Debian's Chromium at bench.chromium.CHROMIUM
}
"""Each optional module and the extra of ``backprop-lens`` (pyproject.toml) that installs it."""


def install_hint(module: str) -> str:
    """``pip install 'backprop-lens[extra]'`` for the extra that brings ``module``."""
    return f"pip install 'backprop-lens[{EXTRAS[module.split('.')[0]]}]'"


def optional(module: str) -> Any:
    """The module if it can be imported, else None; typed Any, as it may have no stubs or be absent."""
    try:
        return importlib.import_module(module)
    except ImportError:  # not installed, or installed without what it needs (a missing shared library)
        return None


def missing(module: str) -> str | None:
    """None when ``module`` imports; else why not, and the pip install that brings it."""
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module.split(".")[0] != exc.name.split(".")[0]:
            return f"{module} cannot be imported ({exc}); {install_hint(module)}"
        return f"{module.split('.')[0]} is not installed: {install_hint(module)}"
    except ImportError as exc:
        return f"{module} cannot be imported ({exc}); {install_hint(module)}"
    return None
