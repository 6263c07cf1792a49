"""The application factory: ``create_app(settings)``. Nothing connects at import time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import Response

from mainplatform import __version__
from mainplatform.api.common import json
from mainplatform.api.routes import routes
from mainplatform.config import Settings
from mainplatform.errors import APIError
from mainplatform.logs import AccessLog
from mainplatform.metrics import Metrics
from mainplatform.middleware import Observe
from mainplatform.platform import Platform, build

log = logging.getLogger("mainplatform")

GAUGE_INTERVAL = 5.0  # seconds between samples of the pool and of requests in flight


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, APIError)
    return json(exc.body(), status=exc.status, headers=exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    messages = {404: "No such resource.", 405: "This method is not allowed here."}
    code = codes.get(exc.status_code, "http_error")
    message = messages.get(exc.status_code, str(exc.detail))
    return json(
        {"error": {"code": code, "message": message}},
        status=exc.status_code,
        headers=dict(exc.headers or {}),
    )


async def _server_error(request: Request, exc: Exception) -> Response:
    log.error("unhandled error", exc_info=exc)
    return json(
        {"error": {"code": "internal", "message": "Something went wrong on our side."}}, 500
    )


def create_app(settings: Settings) -> Starlette:
    metrics = Metrics()
    metrics.info.labels(__version__).set(1)
    platform = build(settings, metrics)
    route_table = routes()
    templates: dict[Any, str] = {r.endpoint: r.path for r in route_table}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await platform.db.open()
        stats = asyncio.create_task(_sample_gauges(platform))
        # Each worker process delivers the outbox (rows are claimed with SKIP LOCKED).
        mail = asyncio.create_task(platform.mail.run()) if settings.mail_enabled else None
        try:
            yield
        finally:
            stats.cancel()
            if mail is not None:
                mail.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await mail
            await platform.db.close()
            await platform.cache.client.aclose()
            Metrics.worker_exit(os.getpid())

    middleware = [
        Middleware(
            Observe,
            metrics=metrics,
            routes=templates.get,
            max_body=settings.max_body_bytes,
            access_log=AccessLog() if settings.access_log else None,
        )
    ]
    if settings.oidc_enabled:
        # Holds the OIDC state, nonce and PKCE verifier between login and callback only.
        middleware.append(
            Middleware(
                SessionMiddleware,
                secret_key=settings.session_key(),
                session_cookie="mp_oidc",
                path="/api/auth/oidc",
                max_age=600,
                same_site="lax",  # the provider's redirect back is a cross-site navigation
                https_only=settings.cookie_secure,
            )
        )
    if settings.allowed_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.allowed_origins),
                allow_credentials=True,
                allow_methods=["GET", "POST", "PATCH", "DELETE"],
                allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
                expose_headers=["X-Request-ID", "Retry-After"],
                max_age=600,
            )
        )
    app = Starlette(
        routes=route_table,
        middleware=middleware,
        exception_handlers={
            APIError: _api_error,
            HTTPException: _http_error,
            Exception: _server_error,
        },
        lifespan=lifespan,
    )
    app.state.platform = platform
    return app


async def _sample_gauges(platform: Platform) -> None:
    while True:
        platform.metrics.pool_stats(platform.db.pool.get_stats())
        platform.metrics.sample()
        await asyncio.sleep(GAUGE_INTERVAL)
