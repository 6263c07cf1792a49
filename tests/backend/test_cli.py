"""The console script: migrate (idempotent, concurrent-safe), create-admin, check-config."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from tests.support import STRONG_PASSWORD, Services, mainplatform

JWT = "a-test-secret-that-is-long-enough-0123456789"


def run(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return mainplatform(*args, env=env, stdin=stdin, timeout=60)


def test_migrate_is_idempotent_and_safe_concurrently(services: Services) -> None:
    url = services.postgres.create_database("migrate_concurrent")
    env = {"DATABASE_URL": url}
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: run("migrate", env=env), range(4)))
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    applied = [r.stdout for r in results if r.stdout.startswith("applied")]
    assert len(applied) == 1  # exactly one run did the work; the others waited on the lock
    again = run("migrate", env=env)
    assert again.returncode == 0 and "up to date" in again.stdout
    with psycopg.connect(url) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
    from mainplatform.db import migrations

    assert versions == [name for name, _ in migrations()]
    assert versions[0] == "0001_init"


def test_create_admin_reads_password_from_stdin(services: Services) -> None:
    services.reset()
    env = {
        "DATABASE_URL": services.database_url,
        "REDIS_URL": services.redis.url,
        "JWT_SECRET": JWT,
    }
    r = run("create-admin", "Root@Example.org", env=env, stdin=STRONG_PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    assert "created admin" in r.stdout
    r = run("create-admin", "root@example.org", env=env, stdin=STRONG_PASSWORD + "\n")
    assert "promoted admin" in r.stdout
    with psycopg.connect(services.database_url) as conn:
        rows = conn.execute("SELECT email, role FROM users").fetchall()
    assert rows == [("Root@Example.org", "admin")]
    weak = run("create-admin", "weak@example.org", env=env, stdin="password1234\n")
    assert weak.returncode != 0 and "commonly used" in weak.stderr


def test_create_admin_password_file(services: Services, tmp_path: Path) -> None:
    services.reset()
    pw = tmp_path / "pw"
    pw.write_text(STRONG_PASSWORD + "\n")
    env = {
        "DATABASE_URL": services.database_url,
        "REDIS_URL": services.redis.url,
        "JWT_SECRET": JWT,
    }
    r = run("create-admin", "file@example.org", "--password-file", str(pw), env=env)
    assert r.returncode == 0, r.stderr


def test_check_config_masks_secrets() -> None:
    env = {
        "DATABASE_URL": "postgresql://app:hunter2hunter2@db/app",
        "REDIS_URL": "redis://:redispass@127.0.0.1:6379/0",
        "JWT_SECRET": JWT,
        "RATE_LIMIT_LOGIN_IP": "5/minute",
    }
    r = run("check-config", env=env)
    assert r.returncode == 0, r.stderr
    assert "hunter2" not in r.stdout and "redispass" not in r.stdout and JWT not in r.stdout
    assert "postgresql://app:********@db/app" in r.stdout
    assert "RATE_LIMIT_LOGIN_IP" in r.stdout and "5/60s" in r.stdout


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "DATABASE_URL is not set"),
        ({"DATABASE_URL": "postgresql:///x", "REDIS_URL": "redis://x"}, "JWT_SECRET is not set"),
        (
            {"DATABASE_URL": "postgresql:///x", "REDIS_URL": "redis://x", "JWT_SECRET": "short"},
            "JWT_SECRET is too weak",
        ),
    ],
)
def test_bad_config_is_one_clear_line(env: dict[str, str], message: str) -> None:
    clean = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "JWT_SECRET"}
    }
    r = subprocess.run(
        [sys.executable, "-m", "mainplatform", "serve"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr
