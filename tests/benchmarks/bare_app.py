"""A bare Starlette app: the yardstick for our overhead. ``GET /api/health`` answers the same
health JSON; ``POST /api/notes`` makes the round trips ours cannot do without, with the same
drivers and nothing else (no middleware, token, limit or validation): one Redis script and
one INSERT, answering the row. Its CPU per request is the floor under ours on this machine."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import redis.asyncio as aioredis
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

STARTED = time.time()
INSERT = (
    "INSERT INTO notes (owner_id, title, body) VALUES ((SELECT min(id) FROM users), %s, %s)"
    " RETURNING id, title, body, created_at, updated_at"
)


async def health(request: Request) -> JSONResponse:
    return JSONResponse(
        {
            "status": "ok",
            "uptime": round(time.time() - STARTED, 3),
            "timestamp": datetime.now(UTC).isoformat(),
            "version": "0.1.0",
        }
    )


async def post_note(request: Request) -> JSONResponse:
    data = json.loads(await request.body())
    state = request.app.state
    await state.script(keys=["bare:floor"], args=[1])
    async with state.pool.connection() as conn:
        row = await (await conn.execute(INSERT, (data["title"], data["body"]))).fetchone()
    assert row is not None
    row["created_at"] = row["created_at"].isoformat()
    row["updated_at"] = row["updated_at"].isoformat()
    return JSONResponse(row, status_code=201)


def app() -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pool: AsyncConnectionPool[AsyncConnection[DictRow]] = AsyncConnectionPool(
            os.environ["DATABASE_URL"],
            min_size=2,
            max_size=10,
            open=False,
            connection_class=AsyncConnection[DictRow],
            kwargs={"row_factory": dict_row, "autocommit": True},
        )
        await pool.open()
        client = aioredis.Redis.from_url(os.environ["REDIS_URL"])
        app.state.pool = pool
        app.state.script = client.register_script("return redis.call('INCR', KEYS[1])")
        try:
            yield
        finally:
            await pool.close()
            await client.aclose()

    return Starlette(
        routes=[Route("/api/health", health), Route("/api/notes", post_note, methods=["POST"])],
        lifespan=lifespan,
    )
