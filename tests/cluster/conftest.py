"""The cluster tests: slow (Redis, two web processes and two workers, all real), so they have a marker of their
own (declared in pyproject.toml); ``-m "not cluster"`` leaves them out."""

from __future__ import annotations
