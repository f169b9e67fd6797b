"""The studio's Jinja2 templates and how a page is rendered (with the user and the CSRF token
every form needs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from vestis.server.services import review
from vestis.studio.auth import page_csrf

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals["low_score"] = review.LOW_SCORE


def context(request: Request, **values: Any) -> dict[str, Any]:
    values.setdefault("csrf", page_csrf(request, request.app.state.vestis))
    values.setdefault("user", None)
    return values


def page(request: Request, name: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    return templates.TemplateResponse(
        request, name, context(request, **values), status_code=status_code
    )


def fragment(request: Request, name: str, **values: Any) -> str:
    """A template rendered to a string (an htmx or SSE fragment)."""
    values = context(request, **values)
    return templates.get_template(name).render(request=request, **values)
