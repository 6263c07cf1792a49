"""PostgreSQL: the connection pool and the migration runner."""

from __future__ import annotations

import logging
import time
import weakref
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


CHECK_AFTER_IDLE = 2.0  # seconds since its last checkout after which a connection is pinged


class Database:
    """A psycopg pool of autocommit connections that heals itself after a server restart.

    A connection that rested in the pool for a while is pinged before it is handed out, so
    after an outage stale connections are replaced instead of failing a request; a busy
    connection is not pinged, which keeps the hot path at one round trip per statement.
    """

    def __init__(self, url: str, *, min_size: int, max_size: int, timeout: float = 3.0) -> None:
        self._last_checkout: weakref.WeakKeyDictionary[AsyncConnection[DictRow], float] = (
            weakref.WeakKeyDictionary()
        )
        self.pool: AsyncConnectionPool[AsyncConnection[DictRow]] = AsyncConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            open=False,
            check=self._check,
            connection_class=AsyncConnection[DictRow],
            kwargs={"row_factory": dict_row, "autocommit": True, "connect_timeout": 3},
            reconnect_timeout=0,  # keep trying for ever in the background
            name="mainplatform",
        )

    async def _check(self, conn: AsyncConnection[DictRow]) -> None:
        now = time.monotonic()
        last = self._last_checkout.get(conn)
        self._last_checkout[conn] = now
        if last is None or now - last > CHECK_AFTER_IDLE:
            await AsyncConnectionPool.check_connection(conn)

    async def open(self) -> None:
        # Do not wait for the server: the app starts (and answers /health) while it is down.
        await self.pool.open(wait=False)

    async def close(self) -> None:
        await self.pool.close()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection[DictRow]]:
        """An autocommit connection: each statement commits alone. Faults become 503."""
        try:
            async with self.pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as exc:
            log.warning("database unavailable: %s", type(exc).__name__)
            raise unavailable() from None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection[DictRow]]:
        """A connection inside one transaction, committed when the block ends without error."""
        async with self.connection() as conn, conn.transaction():
            yield conn


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
