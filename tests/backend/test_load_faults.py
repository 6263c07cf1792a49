"""A steady mixed load while Redis stops and starts, PostgreSQL restarts and a worker is
killed: no acknowledged write is lost, nothing answers 500, and service comes back by itself
within the stated times. Bounded: about 16 s of load at up to 250 requests per second."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx2 as httpx
import psycopg
import pytest

from tests.support import (
    STRONG_PASSWORD,
    Services,
    backend_env,
    start_backend,
    stop_process,
    throwaway_services,
)
from tests.support.processes import worker_pids

pytestmark = pytest.mark.slow

CLIENTS = 10
PAUSE = 0.04  # seconds between one client's requests: at most 250 requests per second in all
# Stated recovery targets: seconds from the dependency answering again (or the worker being
# killed) until the last failed request.
RECOVERY = {"redis": 1.0, "postgres": 1.0, "worker": 1.0}
# While PostgreSQL or Redis is down, requests that need it are refused quickly (503).
DOWN_ANSWER_MAX = 1.0


@dataclass
class Load:
    url: str
    events: list[tuple[float, str, int, float]] = field(default_factory=list)
    acked: dict[int, str] = field(default_factory=dict)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def client(self, index: int) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as c:
            email = f"load{index}@example.org"
            await c.post("/api/auth/register", json={"email": email, "password": STRONG_PASSWORD})
            r = await c.post("/api/auth/login", json={"email": email, "password": STRONG_PASSWORD})
            assert r.status_code == 200, r.text
            auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
            n = 0
            while not self.stop.is_set():
                n += 1
                op = ("write", "write", "list", "me")[n % 4]
                start = time.monotonic()
                title = f"c{index}-{n}"
                try:
                    if op == "write":
                        r = await c.post("/api/notes", json={"title": title}, headers=auth)
                        if r.status_code == 201:
                            self.acked[r.json()["id"]] = title
                    elif op == "list":
                        r = await c.get("/api/notes?limit=5", headers=auth)
                    else:
                        r = await c.get("/api/users/me", headers=auth)
                    status = r.status_code
                except httpx.TransportError:
                    status = 0  # the connection broke (a killed worker): not acknowledged
                end = time.monotonic()
                self.events.append((end, op, status, end - start))
                await asyncio.sleep(PAUSE)

    def failures(self, since: float, until: float) -> list[tuple[float, str, int, float]]:
        return [e for e in self.events if since <= e[0] < until and not 200 <= e[2] < 300]


@pytest.fixture
def own_services() -> Iterator[Services]:
    with throwaway_services("mainplatform-load-faults-") as svc:
        yield svc


def test_no_acknowledged_write_is_lost_and_service_recovers(own_services: Services) -> None:
    env = backend_env(own_services, RATE_LIMIT_API="1000000/minute", DB_POOL_MIN="2")
    proc, url = start_backend(env, workers=2)
    try:
        load, marks = asyncio.run(_run(url, own_services, proc.pid))
    finally:
        stop_process(proc)

    with psycopg.connect(own_services.database_url) as conn:
        stored = dict(conn.execute("SELECT id, title FROM notes").fetchall())
    lost = {i: t for i, t in load.acked.items() if stored.get(i) != t}
    statuses: dict[int, int] = {}
    for _, _, status, _ in load.events:
        statuses[status] = statuses.get(status, 0) + 1
    recovery = {
        "redis": _recovery(load, marks["redis_back"], marks["pg_stop"]),
        "postgres": _recovery(load, marks["pg_back"], marks["kill"]),
        "worker": _recovery(load, marks["kill"], marks["end"]),
    }
    # requests that started while a dependency was down (an event is (end, op, status, duration))
    pg_down = [e for e in load.events if marks["pg_stop"] < e[0] - e[3] < marks["pg_back"]]
    slowest_down = max((e[3] for e in pg_down), default=0.0)
    redis_down = [e for e in load.events if marks["redis_stop"] < e[0] - e[3] < marks["redis_back"]]
    slowest_redis_down = max((e[3] for e in redis_down), default=0.0)
    elapsed = marks["end"] - marks["start"]
    print(
        f"\nload with faults: {len(load.events)} requests in {elapsed:.1f} s "
        f"({len(load.events) / elapsed:.0f}/s), statuses {dict(sorted(statuses.items()))}; "
        f"{len(load.acked)} writes acknowledged, {len(lost)} lost; recovery "
        + ", ".join(f"{k} {v:.2f} s" for k, v in recovery.items())
        + f"; slowest answer while PostgreSQL was down {slowest_down:.2f} s, "
        + f"while Redis was down {slowest_redis_down:.2f} s"
    )
    assert not lost, f"acknowledged writes missing or changed: {sorted(lost.items())[:10]}"
    assert statuses.get(500, 0) == 0, "a fault was answered as an internal error"
    assert set(statuses) <= {0, 200, 201, 503}, statuses
    # Before the first fault and after the last recovery, everything succeeded.
    assert not load.failures(marks["start"] + 1.0, marks["redis_stop"])
    for name, seconds in recovery.items():
        assert seconds <= RECOVERY[name], f"{name}: failures {seconds:.2f} s after recovery"
    assert slowest_down <= DOWN_ANSWER_MAX, f"answers took {slowest_down:.2f} s during the outage"
    assert slowest_redis_down <= DOWN_ANSWER_MAX, f"answers took {slowest_redis_down:.2f} s"
    assert len(load.acked) > 500, "the load was too small to mean anything"


def _recovery(load: Load, back: float, next_fault: float) -> float:
    """Seconds from ``back`` to the last failed request before the next fault (0 if none)."""
    failed = load.failures(back, next_fault)
    return max((e[0] - back for e in failed), default=0.0)


async def _run(url: str, services: Services, supervisor: int) -> tuple[Load, dict[str, float]]:
    load = Load(url)
    marks: dict[str, float] = {"start": time.monotonic()}
    clients = [asyncio.create_task(load.client(i)) for i in range(CLIENTS)]

    async def at(offset: float) -> None:
        await asyncio.sleep(max(0.0, marks["start"] + offset - time.monotonic()))

    await at(3.0)
    marks["redis_stop"] = time.monotonic()
    await asyncio.to_thread(services.redis.stop)
    await at(5.0)
    await asyncio.to_thread(services.redis.start)
    marks["redis_back"] = time.monotonic()

    await at(7.0)
    marks["pg_stop"] = time.monotonic()
    await asyncio.to_thread(services.postgres.stop, "fast")
    await asyncio.sleep(0.5)
    await asyncio.to_thread(services.postgres.start)
    marks["pg_back"] = time.monotonic()

    await at(11.0)
    marks["kill"] = time.monotonic()
    workers = worker_pids(supervisor)
    assert len(workers) == 2, workers
    os.kill(workers[0], signal.SIGKILL)

    await at(16.0)
    marks["end"] = time.monotonic()
    load.stop.set()
    await asyncio.gather(*clients)
    # the supervisor replaced the killed worker by itself
    deadline = time.monotonic() + 10
    while (now := worker_pids(supervisor)) == [] or len(now) < 2 or workers[0] in now:
        assert time.monotonic() < deadline, f"the killed worker was not replaced: {now}"
        await asyncio.sleep(0.2)
    return load, marks
