"""``mainplatform``: serve, migrate, create-admin, backup, pitr, offsite, check-config, dev."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from mainplatform import __version__
from mainplatform.backup import BackupError
from mainplatform.config import ConfigError, Settings, read_secret, read_setting

if TYPE_CHECKING:
    from mainplatform.pitr import PgBackRest


def _fail(message: str) -> int:
    print(f"mainplatform: {message}", file=sys.stderr)
    return 2


def _settings() -> Settings:
    return Settings.from_env()


APP = "mainplatform.asgi:app"


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from mainplatform import logs, server

    try:
        settings = _settings()
    except ConfigError as exc:
        return _fail(str(exc))
    workers = args.workers or settings.workers
    host = args.host or settings.host
    port = args.port if args.port is not None else settings.port
    logs.configure(settings.log_level)
    server.return_large_blocks()
    # Several processes share metrics through files that /metrics merges (metrics.py). Given
    # a directory, use it (with any worker count); else make a private one for N > 1.
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    metrics_dir: Path | None = None
    if given or workers > 1:
        base = os.environ.get("RUNTIME_DIRECTORY") or tempfile.gettempdir()
        metrics_dir = Path(given or Path(base) / f"mainplatform-metrics-{os.getpid()}")
        shutil.rmtree(metrics_dir, ignore_errors=True)  # samples of a previous run are stale
        metrics_dir.mkdir(parents=True, exist_ok=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    try:
        if workers == 1:
            uvicorn.run(APP, host=host, port=port, **server.uvicorn_options())
            return 0
        return server.run(APP, host, port, workers)
    except OSError as exc:
        return _fail(f"cannot listen on {host}:{port}: {exc.strerror}")
    finally:
        if metrics_dir is not None and not given:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def cmd_migrate(args: argparse.Namespace) -> int:
    from mainplatform.db import migrate

    url = read_secret(os.environ, "DATABASE_URL")
    if not url:
        return _fail(
            "DATABASE_URL is not set (give DATABASE_URL, DATABASE_URL_FILE or a credential)"
        )
    applied = migrate(url)
    print(f"applied: {', '.join(applied)}" if applied else "database is up to date")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from mainplatform.backup import backup

    url = read_secret(os.environ, "DATABASE_URL")
    if not url:
        return _fail(
            "DATABASE_URL is not set (give DATABASE_URL, DATABASE_URL_FILE or a credential)"
        )
    redis_url = None if args.no_redis else read_secret(os.environ, "REDIS_URL")
    try:
        results = backup(
            url,
            redis_url,
            Path(args.dir),
            keep_days=args.keep_days,
            textfile_dir=Path(args.textfile_dir) if args.textfile_dir else None,
        )
    except BackupError as exc:
        return _fail(str(exc))
    for r in results:
        print(f"{r.kind}: {r.path} ({r.size} bytes)")
    return 0


def _pgbackrest(args: argparse.Namespace) -> PgBackRest:
    from mainplatform.pitr import PgBackRest

    prefix = ("runuser", "-u", args.run_as, "--") if args.run_as else ()
    return PgBackRest(
        stanza=args.stanza, config=Path(args.config) if args.config else None, prefix=prefix
    )


def cmd_pitr(args: argparse.Namespace) -> int:
    """pgBackRest's integrity check, backup metrics, a restore, and the restore drill."""
    from mainplatform import pitr

    pgbr = _pgbackrest(args)
    textfiles = Path(args.textfile_dir) if getattr(args, "textfile_dir", None) else None
    try:
        if args.action == "verify":
            result = pitr.verify(pgbr, archive=not args.repository_only)
            print(result.report.strip())
        elif args.action == "metrics":
            assert textfiles is not None
            newest = pitr.write_backup_metrics(pgbr, textfiles)
            print(f"newest backup {newest.label} ({newest.type}), finished {newest.stopped:.0f}")
        elif args.action == "restore":
            took = pitr.restore(pgbr, Path(args.target_dir), target_time=args.time,
                                label=args.set)  # fmt: skip
            print(f"restored into {args.target_dir} in {took:.1f} s; start PostgreSQL on it")
        else:
            url = read_secret(os.environ, "DATABASE_URL")
            if not url:
                return _fail("DATABASE_URL (the live database) is not set")
            drill = pitr.restore_drill(
                pgbr,
                Path(args.scratch),
                url,
                database=args.database,
                tolerance=pitr.Tolerance(args.tolerance_rows, args.tolerance_ratio),
                textfile_dir=textfiles,
                port=args.port,
            )
            counts = ", ".join(f"{t} {r}/{n}" for t, (n, r) in drill.counts.items())
            print(
                f"restore drill passed: backup {drill.backup}, schema {drill.schema_version}, "
                f"rows restored/live {counts}, restored in {drill.restore_seconds:.1f} s"
            )
    except BackupError as exc:
        return _fail(str(exc))
    return 0


def cmd_offsite(args: argparse.Namespace) -> int:
    """restic: Redis dumps, Grafana's database and Traefik's ACME store off the host."""
    from mainplatform import offsite

    restic = offsite.Restic(
        args.repository,
        Path(args.password_file),
        options=tuple(args.option),
        cache_dir=Path(args.cache_dir) if args.cache_dir else None,
    )
    try:
        if args.action == "backup":
            snap = offsite.backup(
                restic,
                [Path(p) for p in args.path],
                sqlite=[Path(p) for p in args.sqlite],
                stage=Path(args.stage),
                keep_daily=args.keep_daily,
                keep_weekly=args.keep_weekly,
                textfile_dir=Path(args.textfile_dir) if args.textfile_dir else None,
            )
            print(f"snapshot {snap.id}: {', '.join(snap.paths)}")
        elif args.action == "check":
            offsite.check(restic, read_data=not args.metadata_only)
            print("repository checked: no errors")
        else:
            offsite.restore(restic, Path(args.target), args.snapshot)
            print(f"restored {args.snapshot} under {args.target}")
    except BackupError as exc:
        return _fail(str(exc))
    return 0


def _read_password(path: str | None) -> str:
    if path:
        return Path(path).read_text(encoding="utf-8").rstrip("\n")
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            raise ValueError("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\n")


def cmd_create_admin(args: argparse.Namespace) -> int:
    import psycopg

    from mainplatform.security.passwords import PasswordHasher, policy_violation
    from mainplatform.services.accounts import email_problem, normalize_email

    # Needs only the database: run it on the host as `mainplatform-admin create-admin EMAIL`.
    database_url = read_secret(os.environ, "DATABASE_URL")
    if not database_url:
        return _fail(
            "DATABASE_URL is not set (give DATABASE_URL, DATABASE_URL_FILE or a credential)"
        )
    try:
        min_length = int(read_setting("password_min_length", os.environ))
    except ValueError:
        return _fail("PASSWORD_MIN_LENGTH: expected a whole number")
    email = normalize_email(args.email)
    if problem := email_problem(email):
        return _fail(problem)
    try:
        password = _read_password(args.password_file)
    except (OSError, ValueError) as exc:
        return _fail(f"cannot read the password: {exc}")
    if reason := policy_violation(password, min_length=min_length, email=email):
        return _fail(reason)
    password_hash = asyncio.run(PasswordHasher().hash(password))
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "INSERT INTO users (email, password_hash, role) VALUES (%s, %s, 'admin')"
            " ON CONFLICT (lower(email)) DO UPDATE SET role = 'admin',"
            " password_hash = excluded.password_hash, disabled = false, updated_at = now()"
            " RETURNING id, (xmax = 0) AS created",
            (email, password_hash),
        ).fetchone()
    assert row is not None
    print(f"{'created' if row[1] else 'promoted'} admin {email} (id {row[0]})")
    _data_changed(row[0])
    return 0


def _data_changed(user_id: int) -> None:
    """What the app does after a write (``Cache.changed``); a warning when Redis is not
    there, since workers could keep answering from reads cached before the write."""
    from redis.exceptions import RedisError

    from mainplatform.cache import changed_sync

    redis_url = read_secret(os.environ, "REDIS_URL")
    try:
        if not redis_url:
            raise RedisError("REDIS_URL is not set")
        changed_sync(redis_url, user_id)
    except RedisError as exc:
        print(
            f"warning: Redis not reached ({exc}); run `mainplatform cache-reset` once it is,"
            " or restart the backend",
            file=sys.stderr,
        )


def cmd_cache_reset(args: argparse.Namespace) -> int:
    from redis.exceptions import RedisError

    from mainplatform.cache import reset_versions

    redis_url = read_secret(os.environ, "REDIS_URL")
    if not redis_url:
        return _fail("REDIS_URL is not set")
    try:
        reset = reset_versions(redis_url)
    except RedisError as exc:
        return _fail(f"Redis not reached: {exc}")
    print(
        "every worker's cached reads are stale now: they go to PostgreSQL again"
        if reset
        else "Redis is not seeded: the next request reseeds it, versions included"
    )
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    try:
        settings = _settings()
    except ConfigError as exc:
        return _fail(str(exc))
    values = settings.masked()
    width = max(len(k) for k in values)
    for key, value in values.items():
        print(f"{key.ljust(width)}  {value}")
    return 0


def cmd_settings(args: argparse.Namespace) -> int:
    """The declaration of every setting (one source for the README and the NixOS module)."""
    from mainplatform import config

    if args.format == "json":
        import json

        print(json.dumps(config.describe(), indent=2, ensure_ascii=False))
    else:
        print(config.markdown_table(), end="")
    return 0


def cmd_dev(rest: list[str]) -> int:
    """``mainplatform dev``: the local stack, which lives in the separate ``mainplatform-dev``
    package (``backend/dev``). It runs in a fresh interpreter, so the runtime imports nothing
    of it; production installs (the Nix package, the OCI image) do not have it at all."""
    if importlib.util.find_spec("mainplatform_dev") is None:
        return _fail(
            "the local stack is in the mainplatform-dev package, which is not installed: "
            "pip install -e backend/dev (from the repository root)"
        )
    # the same interpreter and a fixed module name: no shell, nothing from the user but args
    os.execv(sys.executable, [sys.executable, "-m", "mainplatform_dev", *rest])  # noqa: S606
    return 0  # not reached


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mainplatform", description="Main Platform API")
    p.add_argument("--version", action="version", version=f"mainplatform {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the API with uvicorn")
    s.add_argument("--workers", type=int, default=None, help="worker processes (default: WORKERS)")
    s.add_argument("--host", default=None, help="address to bind (default: HOST)")
    s.add_argument("--port", type=int, default=None, help="port to bind (default: PORT)")
    s.set_defaults(func=cmd_serve)

    m = sub.add_parser("migrate", help="apply the SQL migrations (safe to run concurrently)")
    m.set_defaults(func=cmd_migrate)

    a = sub.add_parser("create-admin", help="create or promote an admin; password from stdin")
    a.add_argument("email")
    a.add_argument("--password-file", help="read the password from this file instead of stdin")
    a.set_defaults(func=cmd_create_admin)

    b = sub.add_parser("backup", help="dump PostgreSQL and Redis, prune old backups")
    b.add_argument("--dir", required=True, help="where backups go (created 0700)")
    b.add_argument("--keep-days", type=float, default=7, help="retention in days (default 7)")
    b.add_argument("--textfile-dir", help="write node_exporter's textfile metric here")
    b.add_argument("--no-redis", action="store_true", help="skip the Redis snapshot")
    b.set_defaults(func=cmd_backup)

    r = sub.add_parser("pitr", help="pgBackRest: verify, metrics, restore, restore drill")
    r.add_argument("--stanza", default="default", help="pgBackRest stanza (default: default)")
    r.add_argument("--config", help="pgbackrest.conf (default: pgBackRest's own)")
    r.add_argument("--run-as", help="run pgbackrest and pg_ctl as this user (runuser)")
    acts = r.add_subparsers(dest="action", required=True)
    v = acts.add_parser("verify", help="check the archive, verify every backup's checksums")
    v.add_argument("--repository-only", action="store_true",
                   help="skip `check` (needs the live server): only the repository")  # fmt: skip
    mt = acts.add_parser("metrics", help="write the newest backup's age for node_exporter")
    mt.add_argument("--textfile-dir", required=True)
    rs = acts.add_parser("restore", help="restore into an empty data directory")
    rs.add_argument("--target-dir", required=True, help="the new data directory")
    rs.add_argument("--time", help="recover up to this time ('2026-01-02 03:04:05+00')")
    rs.add_argument("--set", help="restore this backup label (default: the newest)")
    d = acts.add_parser("drill", help="restore the newest backup into a scratch cluster, "
                        "compare it with DATABASE_URL, drop it, write metrics")  # fmt: skip
    d.add_argument("--scratch", required=True, help="directory for the scratch cluster")
    d.add_argument("--database", default="mainplatform", help="database to compare")
    d.add_argument("--port", type=int, default=5432, help="scratch cluster's socket port")
    d.add_argument("--tolerance-rows", type=int, default=10)
    d.add_argument("--tolerance-ratio", type=float, default=0.05)
    d.add_argument("--textfile-dir", help="write node_exporter's textfile metrics here")
    r.set_defaults(func=cmd_pitr)

    o = sub.add_parser("offsite", help="restic: copy Redis, Grafana, ACME state off the host")
    o.add_argument("--repository", required=True, help="restic repository (sftp:, s3:, path)")
    o.add_argument("--password-file", required=True, help="the repository's password")
    o.add_argument("--option", action="append", default=[], help="restic -o key=value")
    o.add_argument("--cache-dir", help="restic's cache directory")
    oa = o.add_subparsers(dest="action", required=True)
    ob = oa.add_parser("backup", help="one snapshot, then forget --prune by count")
    ob.add_argument("--path", action="append", default=[], help="a file or directory")
    ob.add_argument("--sqlite", action="append", default=[], help="a SQLite database")
    ob.add_argument("--stage", required=True, help="where SQLite copies are staged")
    ob.add_argument("--keep-daily", type=int, default=7)
    ob.add_argument("--keep-weekly", type=int, default=4)
    ob.add_argument("--textfile-dir", help="write node_exporter's textfile metric here")
    oc = oa.add_parser("check", help="restic check --read-data")
    oc.add_argument("--metadata-only", action="store_true", help="skip reading every pack")
    orr = oa.add_parser("restore", help="restore a snapshot under a directory")
    orr.add_argument("--target", required=True)
    orr.add_argument("--snapshot", default="latest")
    o.set_defaults(func=cmd_offsite)

    cr = sub.add_parser(
        "cache-reset", help="make every worker's cached reads stale (after editing data by hand)"
    )
    cr.set_defaults(func=cmd_cache_reset)
    c = sub.add_parser("check-config", help="validate the environment; print it, secrets masked")
    c.set_defaults(func=cmd_check_config)

    t = sub.add_parser("settings", help="print the declaration of every setting")
    t.add_argument("--format", choices=["json", "markdown"], default="markdown")
    t.set_defaults(func=cmd_settings)

    # Listed here for --help only: main() hands everything after "dev" to the dev tool.
    sub.add_parser(
        "dev",
        add_help=False,
        help="run the whole platform on loopback (needs the mainplatform-dev package)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["dev"]:  # everything after "dev" is the dev tool's (its --help too)
        return cmd_dev(argv[1:])
    args = parser().parse_args(argv)
    code: int = args.func(args)
    return code
