"""`mainplatform backup`: dumps that restore, a freshness metric, pruning by age."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import psycopg
from mainplatform_dev.services import find_program
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from mainplatform.backup import prune
from tests.support import Services, User, mainplatform


def run_backup(
    services: Services, target: Path, textfiles: Path
) -> subprocess.CompletedProcess[str]:
    env = {"DATABASE_URL": services.database_url, "REDIS_URL": services.redis.url}
    return mainplatform(
        "backup", "--dir", str(target), "--textfile-dir", str(textfiles), env=env, timeout=120
    )


def test_backup_restores_and_reports(
    client: TestClient, user: User, services: Services, tmp_path: Path
) -> None:
    user.post("/api/notes", json={"title": "back me up", "body": "please"})
    before = time.time()
    r = run_backup(services, tmp_path / "backups", tmp_path / "textfiles")
    assert r.returncode == 0, r.stderr
    dumps = sorted((tmp_path / "backups").glob("postgres-*.dump"))
    rdbs = sorted((tmp_path / "backups").glob("redis-*.rdb"))
    assert len(dumps) == 1 and len(rdbs) == 1
    assert rdbs[0].read_bytes().startswith(b"REDIS")
    assert oct((tmp_path / "backups").stat().st_mode & 0o777) == "0o700"
    assert not list((tmp_path / "backups").glob("*.partial"))

    # the dump restores into an empty database with the data intact
    restored = services.postgres.create_database("restored")
    subprocess.run(
        [find_program("pg_restore"), "--no-owner", "-d", restored, str(dumps[0])],
        check=True,
        capture_output=True,
        timeout=120,
    )
    with psycopg.connect(restored) as conn:
        rows = conn.execute(
            "SELECT u.email, n.title FROM notes n JOIN users u ON u.id = n.owner_id"
        ).fetchall()
    assert rows == [(user.email, "back me up")]

    # the freshness metric node_exporter will read
    text = (tmp_path / "textfiles" / "mainplatform_backup.prom").read_text()
    samples = {
        s.labels["kind"]: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "mainplatform_backup_last_success_timestamp_seconds"
    }
    assert set(samples) == {"postgres", "redis"}
    assert all(before <= v <= time.time() for v in samples.values())


def test_failed_backup_reports_and_keeps_no_metric(services: Services, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nope",
        "REDIS_URL": services.redis.url,
    }
    r = mainplatform(
        "backup", "--dir", str(tmp_path / "b"), "--textfile-dir", str(tmp_path / "t"),
        env=env, timeout=120,
    )  # fmt: skip
    assert r.returncode == 2
    assert "pg_dump failed" in r.stderr
    assert not (tmp_path / "t" / "mainplatform_backup.prom").exists()


def test_prune_removes_only_old_backups(tmp_path: Path) -> None:
    old = tmp_path / "postgres-old.dump"
    new = tmp_path / "postgres-new.dump"
    other = tmp_path / "notes.txt"
    for f in (old, new, other):
        f.write_bytes(b"x")
    ten_days_ago = time.time() - 10 * 86400
    os.utime(old, (ten_days_ago, ten_days_ago))
    os.utime(other, (ten_days_ago, ten_days_ago))
    assert prune(tmp_path, keep_days=7) == [old]
    assert new.exists() and other.exists()
