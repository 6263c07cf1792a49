"""PostgreSQL: the connection pool and the migration runner."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from mainplatform.errors import ServiceUnavailable

log = logging.getLogger("mainplatform.db")

MIGRATION_LOCK = 0x6D61696E  # "main": pg_advisory_lock key shared by every migrate run


def unavailable() -> ServiceUnavailable:
    return ServiceUnavailable(
        "The database is unavailable; try again shortly.", code="database_unavailable"
    )


class Database:
    """A psycopg pool that checks connections on checkout, so a restarted server heals itself."""

    def __init__(self, url: str, *, min_size: int, max_size: int, timeout: float = 3.0) -> None:
        self.pool: AsyncConnectionPool[AsyncConnection[DictRow]] = AsyncConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            open=False,
            check=AsyncConnectionPool.check_connection,
            connection_class=AsyncConnection[DictRow],
            kwargs={"row_factory": dict_row, "autocommit": False, "connect_timeout": 3},
            reconnect_timeout=0,  # keep trying for ever in the background
            name="mainplatform",
        )

    async def open(self) -> None:
        # Do not wait for the server: the app starts (and answers /health) while it is down.
        await self.pool.open(wait=False)

    async def close(self) -> None:
        await self.pool.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection[DictRow]]:
        """A connection inside one transaction; database faults become 503."""
        try:
            async with self.pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as exc:
            log.warning("database unavailable: %s", type(exc).__name__)
            raise unavailable() from None


def migrations() -> list[tuple[str, str]]:
    files = resources.files("mainplatform.migrations")
    names = sorted(f.name for f in files.iterdir() if f.name.endswith(".sql"))
    return [(name.removesuffix(".sql"), files.joinpath(name).read_text("utf-8")) for name in names]


def migrate(url: str) -> list[str]:
    """Apply pending migrations in order, each in its own transaction, under an advisory lock."""
    applied: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
            for version, sql in migrations():
                if version in done:
                    continue
                with conn.transaction():
                    conn.execute(sql.encode())
                    conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
                applied.append(version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
    return applied
