"""PostgreSQL: the connection pool and the migration runner."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import TypeVar

import psycopg
from psycopg import AsyncConnection, AsyncCursor
from psycopg.rows import DictRow, class_row, dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from mainplatform.errors import ServiceUnavailable

log = logging.getLogger("mainplatform.db")

T = TypeVar("T")

MIGRATION_LOCK = 0x6D61696E  # "main": pg_advisory_lock key shared by every migrate run


def unavailable() -> ServiceUnavailable:
    return ServiceUnavailable(
        "The database is unavailable; try again shortly.", code="database_unavailable"
    )


CHECK_AFTER_IDLE = 2.0  # seconds since its last checkout after which a connection is pinged
PROBE_INTERVAL = 0.2  # seconds between connection attempts while the server is down
PROBE_CONNECT_TIMEOUT = 2  # libpq's minimum


class Database:
    """A psycopg pool of autocommit connections that heals itself after a server restart.

    A connection that rested in the pool for a while is pinged before it is handed out, so
    after an outage stale connections are replaced instead of failing a request; a busy
    connection is not pinged, which keeps the hot path at one round trip per statement.

    When a connection breaks, a watcher connects to the server every ``PROBE_INTERVAL``
    seconds. While the server refuses, requests get a 503 at once instead of queueing for a
    pool connection; as soon as it answers, a fresh pool replaces the old one, whose own
    reconnection backs off exponentially (1 s, 2 s, ...) and would leave service stalled for
    seconds after the server is back.
    """

    def __init__(self, url: str, *, min_size: int, max_size: int, timeout: float = 3.0) -> None:
        self._url = url
        self._sizes = (min_size, max_size)
        self._timeout = timeout
        self._last_checkout: weakref.WeakKeyDictionary[AsyncConnection[DictRow], float] = (
            weakref.WeakKeyDictionary()
        )
        self._down = False
        self._watcher: asyncio.Task[None] | None = None
        self.pool = self._new_pool()

    def _new_pool(self) -> AsyncConnectionPool[AsyncConnection[DictRow]]:
        min_size, max_size = self._sizes
        return AsyncConnectionPool(
            self._url,
            min_size=min_size,
            max_size=max_size,
            timeout=self._timeout,
            open=False,
            check=self._check,
            connection_class=AsyncConnection[DictRow],
            kwargs={"row_factory": dict_row, "autocommit": True, "connect_timeout": 3},
            reconnect_timeout=0,  # a failed reconnection gives up; the pool grows on demand
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
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        await self.pool.close()

    @property
    def down(self) -> bool:
        """True while the server is known to refuse connections."""
        return self._down

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection[DictRow]]:
        """An autocommit connection: each statement commits alone. Faults become 503."""
        if self._down:
            raise unavailable()
        try:
            async with self.pool.connection() as conn:
                try:
                    yield conn
                except psycopg.errors.QueryCanceled:
                    raise  # a statement timeout: the server is fine
                except (psycopg.OperationalError, psycopg.InterfaceError):
                    # A lost connection, or the server shutting down (class 57: the error can
                    # come before libpq marks the connection broken).
                    self._watch()
                    raise
        except PoolTimeout:
            log.warning("database unavailable: PoolTimeout")
            self._watch()
            raise unavailable() from None
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            log.warning("database unavailable: %s", type(exc).__name__)
            raise unavailable() from None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection[DictRow]]:
        """A connection inside one transaction, committed when the block ends without error."""
        async with self.connection() as conn, conn.transaction():
            yield conn

    def _watch(self) -> None:
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.get_running_loop().create_task(self._wait_for_server())

    async def _wait_for_server(self) -> None:
        while True:
            try:
                probe = await psycopg.AsyncConnection.connect(
                    self._url, connect_timeout=PROBE_CONNECT_TIMEOUT
                )
            except psycopg.OperationalError:
                if not self._down:
                    log.warning("database refuses connections; answering 503 until it is back")
                self._down = True
                await asyncio.sleep(PROBE_INTERVAL)
                continue
            await probe.close()
            break
        old, self.pool = self.pool, self._new_pool()
        await self.pool.open(wait=False)
        if self._down:
            log.warning("database answers again")
        self._down = False
        await old.close(timeout=5.0)


def typed(conn: AsyncConnection[DictRow], kind: type[T]) -> AsyncCursor[T]:
    """A cursor whose rows are ``kind`` instances (a dataclass or msgspec Struct whose
    fields are the selected columns), instead of dictionaries."""
    return conn.cursor(row_factory=class_row(kind))


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
