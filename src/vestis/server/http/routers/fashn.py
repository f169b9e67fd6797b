"""FASHN's prediction API on the vestis server: `POST /v1/run` (model-swap), `GET /v1/status/{id}`,
`GET /v1/credits`, and the signed, auth-free output links `/files/fashn/{id}/output_N.ext`.

Every answer of these routes is in FASHN's shape: errors are `{"error": <Name>, "message"}` with
FASHN's names and codes, whatever raised them (validation, the shared auth dependency, the
service). That is done by the route class, so the v2 API's own error handlers stay untouched.
Users, tokens, credits, engine and blob store are the v2 server's.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from vestis.contract.fashn import (
    CREDITS_USED_HEADER,
    INPUT_MODELS,
    OFFERED_MODELS,
    CreditsBalance,
    CreditsResponse,
    ErrorResponse,
    RunInputs,
    RunRequest,
    RunResponse,
    StatusResponse,
)
from vestis.server.errors import ApiError
from vestis.server.fashn.errors import FashnError, from_status
from vestis.server.fashn.service import FashnService, RunRequestFacts
from vestis.server.fashn.webhooks import check_webhook_url
from vestis.server.http.deps import DbDep, SessionRoute, StateDep, UserDep
from vestis.server.process.state import ServerState
from vestis.server.store.models import User

logger = logging.getLogger("vestis.server.fashn")

#: Largest request body accepted on these routes; below the server's own cap (`bodycap`, which
#: answers in the v2 shape), so that what these routes refuse is refused in FASHN's shape.
MAX_BODY_BYTES = 40 * 1024 * 1024


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(part) for part in loc if part not in ("body", "query", "path")]
    return ".".join(parts)


def validation_message(errors: list[Any], prefix: str = "") -> str:
    """`inputs.num_images: Input should be less than or equal to 4; ...`"""
    texts = []
    for error in errors:
        where = _location(tuple(error.get("loc", ())))
        where = f"{prefix}{where}" if where else prefix.rstrip(".")
        texts.append(f"{where}: {error.get('msg', 'invalid value')}" if where else error["msg"])
    return "; ".join(texts) or "Invalid request."


def _bad_request_from(exc: RequestValidationError) -> FashnError:
    errors = list(exc.errors())
    message = validation_message(errors)
    missing = {_location(tuple(e.get("loc", ()))) for e in errors if e.get("type") == "missing"}
    if {"model_name", "inputs"} & missing:
        message += (
            '. Send {"model_name": "model-swap", "inputs": {...}}; the flat legacy body is not '
            "accepted."
        )
    return FashnError("BadRequest", message)


class FashnRoute(SessionRoute):
    """Answers every error of its routes in FASHN's body, including errors raised by shared
    dependencies in the v2 shape (e.g. the 401 of the token check)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def fashn_handler(request: Request) -> Response:
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
                # Refused before the body is read.
                return FashnError(
                    "BadRequest",
                    f"The request body is {declared} bytes, more than {MAX_BODY_BYTES}; send "
                    "large images as URLs instead of base64.",
                ).response()
            try:
                return await handler(request)
            except FashnError as exc:
                return exc.response()
            except RequestValidationError as exc:
                return _bad_request_from(exc).response()
            except ApiError as exc:
                return from_status(exc.status_code, exc.message, exc.headers).response()
            except StarletteHTTPException as exc:
                headers = dict(exc.headers) if exc.headers else None
                return from_status(exc.status_code, str(exc.detail), headers).response()
            except Exception:
                logger.exception("FASHN route %s failed", request.url.path)
                return FashnError(
                    "InternalServerError", "The server failed to handle the request; try again."
                ).response()

        return fashn_handler


router = APIRouter(route_class=FashnRoute, tags=["fashn"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 404, 429, 500)
}


def get_service(request: Request, state: StateDep) -> FashnService:
    """The FASHN service of this process's runtime."""
    assert state.runtime is not None
    return state.runtime.fashn


def _rate_limit(state: ServerState, user: User) -> None:
    """FASHN's budget of `/v1/run` requests per user and minute (`--fashn-rate-limit`, 50 as
    on the hosted service), apart from the v2 job-creation window."""
    if state.runtime is None:
        return
    limiter = state.runtime.fashn_limiter
    wait = limiter.hit(user.id)
    if wait is not None:
        raise FashnError(
            "RateLimitExceeded",
            f"At most {limiter.per_minute} predictions per minute; retry in {wait} s.",
            headers={"Retry-After": str(wait)},
        )


def _inputs_for(model_name: str, inputs: dict[str, Any]) -> RunInputs:
    if model_name not in OFFERED_MODELS:
        raise FashnError(
            "BadRequest",
            f"This server does not offer model {model_name!r}; it offers: "
            f"{', '.join(OFFERED_MODELS)}.",
        )
    try:
        return INPUT_MODELS[model_name].model_validate(inputs)
    except ValidationError as exc:
        raise FashnError("BadRequest", validation_message(exc.errors(), "inputs.")) from exc


@router.post("/v1/run", response_model=RunResponse, responses=_ERRORS)
def run_prediction(
    request: Request,
    body: RunRequest,
    state: StateDep,
    user: UserDep,
    webhook_url: Annotated[str | None, Query(description="Receives the final status")] = None,
) -> RunResponse:
    """Start a prediction; poll `/v1/status/{id}` for the result."""
    service = get_service(request, state)
    inputs = _inputs_for(body.model_name, body.inputs)
    if webhook_url:
        problem = check_webhook_url(webhook_url, service.fetch_policy)
        if problem:
            raise FashnError("BadRequest", problem)
    _rate_limit(state, user)
    facts = RunRequestFacts(user_id=user.id, model_name=body.model_name, webhook_url=webhook_url)
    return RunResponse(id=service.accept(facts, inputs), error=None)


@router.get("/v1/status/{prediction_id}", response_model=StatusResponse, responses=_ERRORS)
def prediction_status(
    request: Request, prediction_id: str, state: StateDep, db: DbDep, user: UserDep
) -> JSONResponse:
    """The prediction's status; `output` once completed, `error` once failed (HTTP 200)."""
    service = get_service(request, state)
    prediction = service.find(db, user.id, prediction_id)
    status = service.status_of(prediction)
    headers = {}
    if status.is_terminal:
        headers[CREDITS_USED_HEADER] = str(math.ceil(prediction.credits_used))
    return JSONResponse(status.model_dump(mode="json"), headers=headers)


@router.get("/v1/credits", response_model=CreditsResponse, responses=_ERRORS)
def credits(user: UserDep) -> CreditsResponse:
    """The balance. vestis has one balance per user: it is reported as on-demand credits."""
    balance = max(0, math.floor(user.credits))
    return CreditsResponse(credits=CreditsBalance(total=balance, subscription=0, on_demand=balance))


@router.get(
    "/files/fashn/{prediction_id}/{name}",
    response_class=FileResponse,
    responses={404: {"model": ErrorResponse}, 401: {"model": ErrorResponse}},
)
def prediction_output(
    request: Request, prediction_id: str, name: str, state: StateDep
) -> FileResponse:
    """One output image; the signature in the query is the only credential."""
    problem = state.signer.check(
        "GET",
        request.url.path,
        request.query_params.get("expires"),
        request.query_params.get("signature"),
    )
    if problem:
        raise FashnError("UnauthorizedAccess", problem)
    stem = name.rsplit(".", 1)[0]
    index = stem.removeprefix("output_")
    found = None
    if stem.startswith("output_") and index.isdigit():
        found = get_service(request, state).output_blob(prediction_id, int(index))
    if found is None or not state.blobs.exists(found[0]):
        raise FashnError("NotFound", "That output does not exist (outputs are kept 72 hours).")
    blob_key, content_type = found
    if state.blobs.presigns:  # the bytes are in the bucket: fetch them there
        link = state.blobs.presigned_get(blob_key, 300, content_type, name)
        return RedirectResponse(link, status_code=307)  # type: ignore[return-value]
    return FileResponse(state.blobs.path(blob_key), media_type=content_type, filename=name)


@router.api_route(
    "/v1/{path:path}",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
    include_in_schema=False,
)
def unknown_v1_route(request: Request, path: str) -> Response:
    allowed = [
        method
        for route in getattr(request.app.state, "api_routes", ())
        if getattr(route, "include_in_schema", True)
        and route.matches(request.scope)[0] is not Match.NONE
        for method in sorted(getattr(route, "methods", None) or ())
    ]
    if allowed:  # a real route, another method
        raise FashnError(
            "MethodNotAllowed",
            f"{request.url.path} answers {', '.join(allowed)}, not {request.method}.",
            headers={"Allow": ", ".join(allowed)},
        )
    raise FashnError(
        "NotFound",
        f"No such endpoint: {request.method} /v1/{path}. This server offers POST /v1/run, "
        "GET /v1/status/{id} and GET /v1/credits.",
    )
