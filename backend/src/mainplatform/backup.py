"""Backups: a PostgreSQL dump and a Redis snapshot, pruned by age, with a freshness metric.

``mainplatform backup`` runs ``pg_dump`` (custom format, compressed) and ``redis-cli --rdb``
(an RDB snapshot taken over the protocol, so no access to Redis's files is needed), writes
each file under a temporary name and renames it when complete, removes backups older than
the retention, and, when asked, writes node_exporter's textfile collector metric
``mainplatform_backup_last_success_timestamp_seconds{kind}`` that the BackupTooOld alert
watches. Restore: ``pg_restore --clean --if-exists -d DATABASE_URL FILE`` and, for Redis,
stop it, put the ``.rdb`` in its directory as ``dump.rdb`` and start it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from mainplatform.programs import find_program

METRIC = "mainplatform_backup_last_success_timestamp_seconds"
SIZE_METRIC = "mainplatform_backup_size_bytes"


class BackupError(RuntimeError):
    """A dump failed; the message carries the tool's own words."""


@dataclass(frozen=True)
class Result:
    kind: str
    path: Path
    size: int
    finished: float


def _run(cmd: list[str], env: dict[str, str] | None = None) -> None:
    proc = subprocess.run(  # noqa: S603 - fixed programs, arguments are ours
        cmd, capture_output=True, text=True, timeout=3600, env=env, check=False
    )
    if proc.returncode != 0:
        raise BackupError(f"{Path(cmd[0]).name} failed: {proc.stderr.strip()[-600:]}")


def _finish(tmp: Path, final: Path, kind: str) -> Result:
    if not tmp.exists() or tmp.stat().st_size == 0:
        raise BackupError(f"{kind} backup produced no data")
    tmp.chmod(0o600)
    tmp.rename(final)
    return Result(kind, final, final.stat().st_size, time.time())


def dump_postgres(database_url: str, directory: Path, stamp: str) -> Result:
    final = directory / f"postgres-{stamp}.dump"
    tmp = final.with_suffix(".dump.partial")
    _run([find_program("pg_dump"), "--format=custom", "--compress=6", "--no-owner",
          f"--file={tmp}", f"--dbname={database_url}"])  # fmt: skip
    return _finish(tmp, final, "postgres")


def dump_redis(redis_url: str, directory: Path, stamp: str) -> Result:
    final = directory / f"redis-{stamp}.rdb"
    tmp = final.with_suffix(".rdb.partial")
    cli = shutil.which("redis-cli")
    if cli is None:
        raise BackupError("redis-cli was not found on PATH")
    target, env = _redis_target(redis_url)
    _run([cli, *target, "--no-auth-warning", "--rdb", str(tmp)], env=env)
    return _finish(tmp, final, "redis")


def _redis_target(url: str) -> tuple[list[str], dict[str, str]]:
    """redis-cli arguments for a URL; a password travels in REDISCLI_AUTH, not in argv."""
    parts = urlsplit(url)
    env = dict(os.environ)
    if parts.password:
        env["REDISCLI_AUTH"] = unquote(parts.password)
    if parts.scheme == "unix":
        args = ["-s", parts.path]
    else:
        args = ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 6379)]
        if parts.scheme == "rediss":
            args.append("--tls")
    if parts.username and parts.username != "default":
        args += ["--user", unquote(parts.username)]
    return args, env


def prune(directory: Path, keep_days: float, now: float | None = None) -> list[Path]:
    cutoff = (now or time.time()) - keep_days * 86400
    removed = []
    for path in sorted(directory.glob("*")):
        if path.suffix in {".dump", ".rdb", ".partial"} and path.stat().st_mtime < cutoff:
            path.unlink()
            removed.append(path)
    return removed


Family = tuple[str, list[tuple[dict[str, str], float]]]


def write_textfile(textfile_dir: Path, name: str, families: dict[str, Family]) -> Path:
    """Gauges in node_exporter's textfile format ({metric: (help, [(labels, value)])}),
    written atomically (rename) as `name` in `textfile_dir`, readable by node_exporter."""
    lines = []
    for metric, (doc, samples) in families.items():
        lines += [f"# HELP {metric} {doc}", f"# TYPE {metric} gauge"]
        for labels, value in samples:
            text = ",".join(f'{k}="{v}"' for k, v in labels.items())
            lines.append(f"{metric}{{{text}}} {value:.3f}" if text else f"{metric} {value:.3f}")
    textfile_dir.mkdir(parents=True, exist_ok=True)
    target = textfile_dir / name
    tmp = target.with_suffix(".prom.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.chmod(0o644)
    tmp.rename(target)
    return target


def write_metrics(textfile_dir: Path, results: list[Result]) -> Path:
    """The freshness and size of each dump, for BackupTooOld."""
    return write_textfile(
        textfile_dir,
        "mainplatform_backup.prom",
        {
            METRIC: (
                "When the last successful backup of each kind finished.",
                [({"kind": r.kind}, r.finished) for r in results],
            ),
            SIZE_METRIC: (
                "Size of the last successful backup of each kind.",
                [({"kind": r.kind}, float(r.size)) for r in results],
            ),
        },
    )


def backup(
    database_url: str,
    redis_url: str | None,
    directory: Path,
    *,
    keep_days: float = 7,
    textfile_dir: Path | None = None,
) -> list[Result]:
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    results = [dump_postgres(database_url, directory, stamp)]
    if redis_url:
        results.append(dump_redis(redis_url, directory, stamp))
    prune(directory, keep_days)
    if textfile_dir is not None:
        write_metrics(textfile_dir, results)
    return results
