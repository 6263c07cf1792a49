"""Helpers shared by the test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx2 as httpx
import psycopg
import redis
from mainplatform_dev.services import Postgres, Redis, free_port
from starlette.testclient import TestClient

from mainplatform.config import RateLimit, Settings
from mainplatform.db import migrate

ROOT = Path(__file__).resolve().parent.parent
STRONG_PASSWORD = "correct horse battery staple 42"
TABLES = "users, refresh_families, refresh_tokens, notes, user_identities"


@dataclass
class Services:
    postgres: Postgres
    redis: Redis
    database_url: str

    def reset(self) -> None:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            conn.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
        redis.Redis.from_url(self.redis.url).flushdb()


def start_services(base: Path) -> Services:
    pg = Postgres(base / "postgres").start()
    rd = Redis(base / "redis").start()
    url = pg.create_database("mainplatform_test")
    migrate(url)
    return Services(pg, rd, url)


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


class User:
    """A registered, signed-in user with helpers for authenticated calls."""

    def __init__(self, client: TestClient, email: str, password: str = STRONG_PASSWORD) -> None:
        self.client = client
        self.email = email
        self.password = password
        r = client.post("/api/auth/register", json={"email": email, "password": password})
        assert r.status_code == 201, r.text
        self.id: int = r.json()["id"]
        self.login()

    def login(self) -> httpx.Response:
        r = self.client.post(
            "/api/auth/login", json={"email": self.email, "password": self.password}
        )
        assert r.status_code == 200, r.text
        self.token: str = r.json()["access_token"]
        self.refresh_token: str = r.cookies["mp_refresh"]
        return r

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {**self.headers, **kw.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kw)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("POST", path, **kw)

    def patch(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("DELETE", path, **kw)


def make_admin(services: Services, user: User) -> None:
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        conn.execute("UPDATE users SET role = 'admin' WHERE id = %s", (user.id,))


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


def wait_http(url: str, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def start_backend(env: dict[str, str], workers: int = 1) -> tuple[subprocess.Popen[bytes], str]:
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


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """TERM, then KILL after `timeout`; the whole process group when it has its own session."""
    if proc.poll() is not None:
        return
    group = os.getpgid(proc.pid) == proc.pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM) if group else proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL) if group else proc.kill()
        proc.wait(10)


@contextlib.contextmanager
def running(
    argv: list[str], *, log: Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a child process in its own session; always stop it (TERM, then KILL) and reap it."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
        try:
            yield proc
        finally:
            stop_process(proc, timeout=10)
