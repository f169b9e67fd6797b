"""The FastAPI application: routers, error handlers, fault injection, and the lifespan that
loads the engine and runs the background machinery."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from anyio import to_thread
from fastapi import FastAPI
from fastapi.routing import APIRoute

from vestis import __version__
from vestis.server import errors
from vestis.server.http import openapi
from vestis.server.http.bodycap import BodyCap
from vestis.server.http.deps import needs_token, token_is_valid
from vestis.server.http.routers import (
    auth,
    downloads,
    fashn,
    files,
    health,
    identities,
    jobs,
    notifications,
    products,
    projects,
    review,
    uploads,
    webhooks,
)
from vestis.server.http.status_reads import StatusReader
from vestis.server.process import faults
from vestis.server.process.runtime import Runtime
from vestis.server.process.state import ServerState
from vestis.server.settings import REQUEST_THREADS, ServerSettings

ROUTERS = (
    health,
    auth,
    projects,
    uploads,
    files,
    products,
    identities,
    jobs,
    review,
    notifications,
    webhooks,
    downloads,
    fashn,  # FASHN /v1 API (server/fashn/); its catch-all covers /v1/* only
)


#: Web apps served beside the API, loaded by import path: the server never imports them
#: (`studio -> server`, not the reverse). Each is a function that installs itself on the app.
WEB_APPS = ("vestis.studio:install",)


def _install_web_apps(app: FastAPI) -> None:
    for path in WEB_APPS:
        module, _, attr = path.partition(":")
        getattr(importlib.import_module(module), attr)(app)


def attach_engine(state: ServerState) -> None:
    """Load the engine chain of `state.settings` into `state` (server and worker processes),
    unless one is there already. Imported here: a command that only reads the API (the CLI's
    embedded server for `identities list`) starts without the engines' image libraries."""
    from vestis.engines.chain import EngineChain
    from vestis.server.process.engine_loader import load_chain

    settings = state.settings
    engine = state.engine or load_chain(settings.engine)
    if isinstance(engine, EngineChain):
        engine.garment_lock = settings.garment_lock
    state.engine, state.engine_name = engine, getattr(engine, "name", settings.engine)


def create_app(settings: ServerSettings, state: ServerState | None = None) -> FastAPI:
    """The app for `settings`. The data dir and database are opened now; the engine and the
    workers start with the app's lifespan."""
    state = state or ServerState.open(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        to_thread.current_default_thread_limiter().total_tokens = REQUEST_THREADS
        if settings.load_engine:
            attach_engine(state)
        runtime = Runtime(state)
        state.runtime = runtime
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()
            await app.state.status_reader.close()

    app = FastAPI(
        title="vestis On-Model v2 API",
        version=__version__,
        summary="Self-hosted On-Model v2 API: model swap, flat-to-model, identities.",
        lifespan=lifespan,
    )
    app.state.vestis = state
    #: The status polling fast path (`status_reads`): its own reader, beside the state.
    app.state.status_reader = StatusReader(state.db)
    errors.install(app)
    for module in ROUTERS:
        app.include_router(module.router)
    # every route, flat (FastAPI keeps included routers nested): for the OpenAPI document and
    # for the `Allow` header of a 405
    routes = [route for module in ROUTERS for route in module.router.routes]
    app.state.api_routes = routes
    bearer_paths = {
        (method, route.path)
        for route in routes
        if isinstance(route, APIRoute) and needs_token(route)
        for method in route.methods
    }
    openapi.install(app, bearer_paths)
    if settings.studio:
        _install_web_apps(app)
    app.add_middleware(BodyCap, token_check=partial(token_is_valid, state))
    app.add_middleware(errors.ErrorAnswers)  # outside every other middleware but the faults'
    if settings.faults:
        faults.install(app, settings.faults)
    return app
