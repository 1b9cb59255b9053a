"""Rich display hooks: how a notebook asks the engine's objects for HTML or SVG, with the drawing left to others.

The engine draws nothing. ``Network``, ``Gradients``, ``Step`` and ``Trace`` answer Jupyter's
``_repr_html_`` and ``_repr_svg_`` by asking this registry, which is empty by default (so they answer
None and a notebook prints their short text repr). ``backprop_lens.display.install()`` registers the
renderers, made by the same view code as the page.

A step is drawn with the trace it belongs to, so a trace makes itself known here (``adopt``): a weak
reference per step, which costs a few microseconds and keeps nothing alive.

Left out: any rendering, and any import of the web app or of Jinja2.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any

Renderer = Callable[[Any], str | None]
"""Draws one object as one MIME type's text; None when it cannot."""

_renderers: dict[tuple[str, str], Renderer] = {}
_owners: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()


def register(kind: str, mime: str, renderer: Renderer) -> None:
    """Draw objects of ``kind`` ("network", "gradients", "step", "trace") as ``mime`` with ``renderer``."""
    _renderers[(kind, mime)] = renderer


def unregister_all() -> None:
    """Forget every renderer: the engine's objects display as text again."""
    _renderers.clear()


def render(kind: str, mime: str, obj: object) -> str | None:
    """``obj`` drawn as ``mime`` by its registered renderer, or None if there is none."""
    renderer = _renderers.get((kind, mime))
    return None if renderer is None else renderer(obj)


def adopt(owner: object, steps: Sequence[object]) -> None:
    """Remember that ``steps`` belong to ``owner`` (a trace), for as long as the trace lives."""
    for step in steps:
        _owners[id(step)] = owner


def owner_of(step: object) -> Any:
    """The trace ``step`` belongs to, or None; an id reused by another object is caught by the identity check."""
    owner = _owners.get(id(step))
    if owner is None or not any(s is step for s in getattr(owner, "steps", ())):
        return None
    return owner
