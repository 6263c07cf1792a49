"""The application factory: ``create_app(settings)``. Nothing connects at import time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import Response

from mainplatform import __version__
from mainplatform.api import oidc
from mainplatform.api.common import Platform, json
from mainplatform.api.routes import routes
from mainplatform.cache import Cache
from mainplatform.config import Settings
from mainplatform.db import Database
from mainplatform.errors import APIError
from mainplatform.logs import AccessLog
from mainplatform.metrics import Metrics
from mainplatform.middleware import Observe
from mainplatform.security.passwords import PasswordHasher
from mainplatform.security.tokens import AccessTokens
from mainplatform.services.auth import AuthService
from mainplatform.services.notes import NotesService
from mainplatform.services.oidc import OIDCAccounts
from mainplatform.services.users import UsersService

log = logging.getLogger("mainplatform")

POOL_STATS_INTERVAL = 5.0


def build_platform(settings: Settings, metrics: Metrics) -> Platform:
    db = Database(
        settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max
    )
    client = aioredis.Redis.from_url(
        settings.redis_url,
        socket_timeout=1.0,
        socket_connect_timeout=1.0,
        health_check_interval=30,
        retry_on_timeout=False,
    )
    cache = Cache(client)
    tokens = AccessTokens(
        settings.jwt_secret,
        previous_secret=settings.jwt_previous_secret,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl=settings.access_token_ttl,
    )
    hasher = PasswordHasher(settings.hash_concurrency)
    auth = AuthService(settings, db, cache, hasher, tokens, metrics)
    platform = Platform(
        settings=settings,
        db=db,
        cache=cache,
        tokens=tokens,
        metrics=metrics,
        auth=auth,
        users=UsersService(db, auth),
        notes=NotesService(db),
    )
    if settings.oidc_enabled:
        assert settings.oidc_issuer is not None
        platform.oauth = oidc.make_client(settings)
        platform.oidc = OIDCAccounts(db, settings.oidc_issuer)
    return platform


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
    platform = build_platform(settings, metrics)
    route_table = routes()
    templates: dict[Any, str] = {r.endpoint: r.path for r in route_table}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await platform.db.open()
        stats = asyncio.create_task(_pool_stats(platform))
        try:
            yield
        finally:
            stats.cancel()
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


async def _pool_stats(platform: Platform) -> None:
    while True:
        platform.metrics.pool_stats(platform.db.pool.get_stats())
        await asyncio.sleep(POOL_STATS_INTERVAL)
