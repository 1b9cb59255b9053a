"""One app on the environment's settings, made once for the test modules that share it (the package itself makes
none at import: ``backprop_lens.app.main.create_app`` is the factory)."""

from __future__ import annotations

from backprop_lens.app.main import create_app

app = create_app()
