"""The Jinja2 environment of an app: every router renders its fragments through it.

``make_templates`` builds one per app (``create_app`` keeps it on ``app.state``)
with the filters every feature's templates share: numbers (``num``, ``detail``,
``exact``), sub- and superscripts and MathML. A feature that needs more registers
them from ``create_app``; nothing changes the environment on import. Autoescaping
is on (Starlette's default for Jinja2Templates), so text a person typed is escaped
wherever a template shows it.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.templating import Jinja2Templates

from app.core.format import detail, exact, fmt, sub, sup
from app.core.mathml import mathml, mathml_line, prose_math
from app.core.settings import Settings


def make_templates(settings: Settings) -> Jinja2Templates:
    """The app's environment over ``settings.templates_dir``, with the shared filters and globals."""
    templates = Jinja2Templates(directory=settings.templates_dir)
    env = templates.env
    env.filters.update(num=fmt, exact=exact, detail=detail, prose_math=prose_math)
    env.globals.update(sub=sub, sup=sup, mathml=mathml, mathml_line=mathml_line)
    return templates


def templates_of(request: Request) -> Jinja2Templates:
    """The environment of the app serving ``request``."""
    templates: Jinja2Templates = request.app.state.templates
    return templates
