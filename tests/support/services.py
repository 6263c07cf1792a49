"""Throwaway PostgreSQL and Redis (mainplatform_dev.services, as `mainplatform dev` starts
them), the app's settings for them, and a real `mainplatform serve` process."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import psycopg
import redis
from mainplatform_dev.services import Postgres, Redis, free_port

from mainplatform.config import RateLimit, Settings
from mainplatform.db import migrate
from tests.support.processes import stop_process, wait_http

TABLES = (
    "users, refresh_families, refresh_tokens, notes, user_identities, account_tokens, mail_outbox"
)


@dataclass
class Services:
    postgres: Postgres
    redis: Redis
    database_url: str

    def reset(self) -> None:
        """Empty every table and Redis (rate-limit counters, revocations)."""
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            conn.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
        redis.Redis.from_url(self.redis.url).flushdb()


def start_services(base: Path) -> Services:
    pg = Postgres(base / "postgres").start()
    rd = Redis(base / "redis").start()
    url = pg.create_database("mainplatform_test")
    migrate(url)
    return Services(pg, rd, url)


@contextlib.contextmanager
def throwaway_services(prefix: str) -> Iterator[Services]:
    """A PostgreSQL cluster (migrated database) and a Redis of their own, in a temporary
    directory that is removed afterwards; stopping them disturbs nothing else."""
    base = Path(tempfile.mkdtemp(prefix=prefix))
    base.chmod(0o711)  # PostgreSQL may run as another user when the tests run as root
    svc = start_services(base)
    try:
        yield svc
    finally:
        svc.redis.stop()
        svc.postgres.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)


def make_settings(database_url: str, redis_url: str, **overrides: object) -> Settings:
    base = Settings(
        database_url=database_url,
        redis_url=redis_url,
        jwt_secret=secrets.token_urlsafe(48),
        cookie_secure=False,
        rate_limit_login_account=RateLimit(1000, 60),
        rate_limit_login_device=RateLimit(1000, 60),
        rate_limit_login_ip=RateLimit(1000, 60),
        rate_limit_register_ip=RateLimit(1000, 60),
        rate_limit_api=RateLimit(10000, 60),
        db_pool_min=1,
        db_pool_max=4,
        access_log=False,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


# -- a real uvicorn backend process, for browser, proxy and benchmark tests ---------------


def backend_env(services: Services, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=services.database_url,
        REDIS_URL=services.redis.url,
        JWT_SECRET=secrets.token_urlsafe(48),
        COOKIE_SECURE="false",
        LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


def start_backend(env: dict[str, str], workers: int = 1) -> tuple[subprocess.Popen[bytes], str]:
    """`mainplatform serve` on a free loopback port; returns the process and its base URL."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mainplatform",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/api/health", proc=proc)
    except RuntimeError:
        stop_process(proc)
        raise
    return proc, url
