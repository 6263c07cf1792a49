"""The floor under an authenticated request: client-side CPU time of one PostgreSQL query
(psycopg 3, async, through the pool and alone) and of one Redis script call (redis-py,
async), over TCP on loopback and over Unix sockets. Prints figures, asserts nothing.

    .venv/bin/python -m tests.benchmarks.drivers [--n 5000]

Every authenticated API request makes one Redis call (revocation and rate limits, which
must stay exact across workers) and at least one query; together with the HTTP server's
own cost (the bare Starlette row of tests.benchmarks.backend) this bounds how cheap such a
request can get without changing driver or server.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import redis.asyncio as aredis
import uvloop
from mainplatform_dev.services import Postgres, Redis
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from mainplatform.db import migrate


async def measure(pg: Postgres, rd: Redis, n: int) -> None:
    print(f"client-side CPU per call, µs (median of 3 runs of {n} sequential calls)")
    for transport, url in (("tcp", pg.url_for("bench")), ("unix", pg.socket_url_for("bench"))):
        pool: AsyncConnectionPool = AsyncConnectionPool(
            url,
            min_size=1,
            max_size=1,
            open=False,
            kwargs={"row_factory": dict_row, "autocommit": True},
        )
        await pool.open(wait=True)
        pooled, alone = [], []
        for _ in range(3):
            t = time.process_time()
            for i in range(n):
                async with pool.connection() as conn:
                    await (await conn.execute("SELECT %s::int AS x", (i,))).fetchone()
            pooled.append((time.process_time() - t) / n * 1e6)
            async with pool.connection() as conn:
                t = time.process_time()
                for i in range(n):
                    await (await conn.execute("SELECT %s::int AS x", (i,))).fetchone()
                alone.append((time.process_time() - t) / n * 1e6)
        await pool.close()
        print(f"  PostgreSQL query via the pool ({transport}): {sorted(pooled)[1]:6.1f}")
        print(f"  PostgreSQL query, one connection ({transport}): {sorted(alone)[1]:6.1f}")
    for transport, url in (("tcp", rd.url), ("unix", rd.socket_url)):
        client = aredis.from_url(url)
        script = client.register_script("return redis.call('INCR', KEYS[1])")
        await script(keys=["k"])
        runs = []
        for _ in range(3):
            t = time.process_time()
            for _ in range(n):
                await script(keys=["k"])
            runs.append((time.process_time() - t) / n * 1e6)
        await client.aclose()
        print(f"  Redis script ({transport}): {sorted(runs)[1]:6.1f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=5000)
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="mainplatform-drivers-"))
    base.chmod(0o711)
    pg = Postgres(base / "pg").start()
    rd = Redis(base / "redis").start()
    try:
        migrate(pg.create_database("bench"))
        uvloop.run(measure(pg, rd, args.n))
    finally:
        rd.stop()
        pg.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
