"""The review studio: a web app served by the server at `/studio` (server-rendered Jinja2 pages,
htmx vendored in `static/`, no JavaScript build step).

Imports `server` (never the other way: the server installs it by import path), quality, contract.

The server loads it by name (`vestis.studio:install`) so that imports go one way only:
`studio -> server`.
"""

from __future__ import annotations

import inspect
from functools import partial

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from vestis.contract.jobs import MAX_JOB_IMAGES
from vestis.server.errors import ApiError
from vestis.server.http.bodycap import MULTIPART_UPLOAD_BYTES
from vestis.studio import auth
from vestis.studio.templating import HERE, page

PREFIX = "/studio"


def _error_page(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    return page(
        request, "error.html", status_code=status, status=status, title=title, message=message
    )


def _signed_out(request: Request, exc: auth.SignInRequired) -> Response:
    target = auth.sign_in_url(exc.next_path if request.method == "GET" else PREFIX + "/")
    if request.headers.get("hx-request"):
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def _install_error_pages(app: FastAPI) -> None:
    """The studio's errors as pages: sign-in redirects, a refused CSRF token (403), and the
    API's errors (404 for another user's job, 422, 429...) with their message. API paths keep
    their JSON errors."""
    api_handler = app.exception_handlers[ApiError]

    async def signed_out(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, auth.SignInRequired)
        return _signed_out(request, exc)

    async def csrf_refused(request: Request, exc: Exception) -> Response:
        message = (
            "This form did not come from a studio page (missing or wrong CSRF token). "
            "Reload the page and try again."
        )
        return _error_page(request, 403, "Refused", message)

    async def api_error(request: Request, exc: Exception) -> Response:
        if not request.url.path.startswith(PREFIX + "/"):
            answer = api_handler(request, exc)
            return await answer if inspect.isawaitable(answer) else answer  # type: ignore[no-any-return]
        assert isinstance(exc, ApiError)
        title = "Not found" if exc.status_code == 404 else exc.error
        return _error_page(request, exc.status_code, title, exc.message)

    app.add_exception_handler(auth.SignInRequired, signed_out)
    app.add_exception_handler(auth.CsrfRejected, csrf_refused)
    app.add_exception_handler(ApiError, api_error)


def router() -> APIRouter:
    from vestis.studio import identities, jobs, new_job, runs, signin

    studio = APIRouter(prefix=PREFIX, include_in_schema=False)
    for module in (signin, runs, jobs, identities, new_job):
        studio.include_router(module.router)
    return studio


def install(app: FastAPI) -> None:
    """Serve the studio's pages and static files on `app`."""
    app.mount(PREFIX + "/static", StaticFiles(directory=HERE / "static"), name="studio-static")
    app.include_router(router())
    _install_error_pages(app)
    state = app.state.vestis
    signed_in = partial(auth.has_session, state)
    large = dict(getattr(app.state, "large_bodies", {}))
    large[PREFIX + "/identities"] = (MULTIPART_UPLOAD_BYTES, signed_in)
    large[PREFIX + "/new"] = (MAX_JOB_IMAGES * MULTIPART_UPLOAD_BYTES, signed_in)  # a folder
    app.state.large_bodies = large
