"""The Jinja2 environment of an app: every router renders its fragments through it.

``make_templates`` builds one per app (``create_app`` keeps it on ``app.state``)
with the filters every feature's templates share: numbers (``num``, ``detail``,
``exact``), sub- and superscripts and MathML. A feature that needs more registers
them from ``create_app``; nothing changes the environment on import. Autoescaping
is on (Starlette's default for Jinja2Templates), so text a person typed is escaped
wherever a template shows it.

Every URL a template writes starts with ``{{ root }}``: the root path the app is
served under (``uvicorn --root-path /backprop`` behind a proxy that strips the
prefix), empty at the server's root. ``templates_of(request)`` gives the
environment at the request's root path, so a fragment rendered without the
request (a stream's steps, a region swapped in) carries it too; redirects and
other URLs built in Python start with ``root_of(request)``.

Left out: Starlette's ``url_for`` in templates, which writes absolute URLs with the
scheme and host a proxy may have changed; the root-relative path is enough.
"""

from __future__ import annotations

from collections import ChainMap
from os import PathLike
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates

from backprop_lens.app.core.format import detail, exact, fmt, sub, sup
from backprop_lens.app.core.mathml import mathml, mathml_line, prose_math
from backprop_lens.app.core.settings import Settings

CACHED_TEMPLATES = 400  # Jinja's default cache size, for each root path's environment
ROOT_PATHS_KEPT = 8  # a deployment has one; tests use two or three


class Templates(Jinja2Templates):
    """Jinja2Templates with ``{{ root }}``: empty here, the root path in the environments ``at`` gives."""

    def __init__(self, directory: str | PathLike[str]) -> None:
        super().__init__(directory=directory)
        self.env.globals["root"] = ""
        self._at: dict[str, Jinja2Templates] = {}

    def at(self, root: str) -> Jinja2Templates:
        """The same templates, filters and globals with ``root`` set: an overlay made once per root path."""
        if not root:
            return self
        templates = self._at.get(root)
        if templates is None:
            # Its own cache (the shared one holds templates bound to the empty root) and its own globals over
            # the shared ones, so that filters and globals a feature registers later are seen here too.
            env = self.env.overlay(cache_size=CACHED_TEMPLATES)
            overlay: ChainMap[str, Any] = ChainMap({"root": root}, self.env.globals)
            env.globals = overlay  # type: ignore[assignment]  # Jinja reads globals as a mapping
            templates = Jinja2Templates(env=env)
            if len(self._at) >= ROOT_PATHS_KEPT:
                self._at.pop(next(iter(self._at)))
            self._at[root] = templates
        return templates


def make_templates(settings: Settings) -> Templates:
    """The app's environment over ``settings.templates_dir``, with the shared filters and globals."""
    templates = Templates(directory=settings.templates_dir)
    env = templates.env
    env.filters.update(num=fmt, exact=exact, detail=detail, prose_math=prose_math)
    env.globals.update(sub=sub, sup=sup, mathml=mathml, mathml_line=mathml_line)
    return templates


def root_of(request: Request) -> str:
    """The root path the app serves ``request`` under, without a trailing slash: ``""`` or e.g. ``/backprop``."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def templates_of(request: Request) -> Jinja2Templates:
    """The environment of the app serving ``request``, at its root path."""
    templates: Templates = request.app.state.templates
    return templates.at(root_of(request))
