"""A bare Starlette app answering the same health JSON: the yardstick for our overhead."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

STARTED = time.time()


async def health(request: Request) -> JSONResponse:
    return JSONResponse(
        {
            "status": "ok",
            "uptime": round(time.time() - STARTED, 3),
            "timestamp": datetime.now(UTC).isoformat(),
            "version": "0.1.0",
        }
    )


def app() -> Starlette:
    return Starlette(routes=[Route("/api/health", health)])
