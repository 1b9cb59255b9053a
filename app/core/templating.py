"""The one Jinja2 environment of the app: every router renders its fragments through it.

Autoescaping is on (Starlette's default for Jinja2Templates), so text a person
typed is escaped wherever a template shows it. Routers register the filters
and globals their templates need on ``templates.env``.
"""

from __future__ import annotations

from fastapi.templating import Jinja2Templates

from app.core.settings import get_settings

templates = Jinja2Templates(directory=get_settings().templates_dir)
