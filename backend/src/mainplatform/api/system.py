"""Service information: ``/api``, liveness, readiness, and ``/metrics`` (outside ``/api``)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from mainplatform import __version__, schemas
from mainplatform.api.common import json, platform
from mainplatform.api.operations import Call, operation
from mainplatform.platform import Platform

READY_TIMEOUT = 1.0


@operation("GET", "/api", "Service name and version", tag="system")
async def index(call: Call[None]) -> schemas.ApiInfo:
    return schemas.ApiInfo(name="Main Platform API", version=__version__)


@operation("GET", "/api/health", "Liveness (touches no dependency)", tag="system")
async def health(call: Call[None]) -> schemas.Health:
    """Liveness: answers while the process runs; touches no dependency."""
    return schemas.Health(
        status="ok",
        uptime=round(time.time() - call.platform.started, 3),
        timestamp=datetime.now(UTC),
        version=__version__,
    )


async def _check_database(p: Platform) -> None:
    db = p.db
    if db.down:
        raise ConnectionRefusedError("the database refuses connections")
    async with db.pool.connection(timeout=READY_TIMEOUT) as conn:
        await conn.execute("SELECT 1")


@operation(
    "GET",
    "/api/ready",
    "Readiness of PostgreSQL and Redis",
    tag="system",
    response=schemas.Readiness,
    responses={503: schemas.Readiness},
)
async def ready(call: Call[None]) -> Response:
    """Readiness: PostgreSQL and Redis both answer within a short timeout."""
    p = call.platform
    checks = {"postgres": _check_database(p), "redis": p.cache.ping()}
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check, READY_TIMEOUT)
            results[name] = "ok"
        except Exception as exc:
            results[name] = f"down: {type(exc).__name__}"
    ok = all(v == "ok" for v in results.values())
    return json(
        schemas.Readiness(status="ready" if ok else "not_ready", checks=results),
        status=200 if ok else 503,
    )


async def metrics(request: Request) -> Response:
    p = platform(request)
    return Response(p.metrics.render(), media_type=p.metrics.content_type)
