"""Off-host copies of what pgBackRest does not cover, with restic: the Redis snapshots and
dumps of ``mainplatform backup``, Grafana's SQLite database, Traefik's ACME store.

``mainplatform offsite`` copies each SQLite database consistently (SQLite's online backup
API, so a live Grafana is fine) into a staging directory, runs ``restic backup`` of the
staging directory and the other paths to the repository (sftp:, s3:, rest: or a local
path), ``restic forget --prune`` by count, and writes
``mainplatform_backup_last_success_timestamp_seconds{kind="offsite"}`` for BackupTooOld.
Secrets: the repository password is a file (``--password-file``); S3 keys come from
systemd credentials (``$CREDENTIALS_DIRECTORY/aws_access_key_id`` and
``aws_secret_access_key``), never from the command line or the store.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mainplatform.backup import METRIC, SIZE_METRIC, BackupError, write_textfile

TAG = "mainplatform"
# Credential file -> the variable restic reads it from.
CREDENTIALS = {
    "aws_access_key_id": "AWS_ACCESS_KEY_ID",
    "aws_secret_access_key": "AWS_SECRET_ACCESS_KEY",
}


@dataclass(frozen=True)
class Restic:
    repository: str
    password_file: Path
    options: tuple[str, ...] = ()  # -o key=value (e.g. sftp.command=...)
    program: str = "restic"
    cache_dir: Path | None = None
    env: dict[str, str] = field(default_factory=dict)

    def environment(self) -> dict[str, str]:
        env = {**os.environ, **self.env}
        creds = os.environ.get("CREDENTIALS_DIRECTORY")
        for name, variable in CREDENTIALS.items():
            path = Path(creds) / name if creds else None
            if path is not None and path.is_file():
                env[variable] = path.read_text(encoding="utf-8").strip()
        env["RESTIC_REPOSITORY"] = self.repository
        env["RESTIC_PASSWORD_FILE"] = str(self.password_file)
        if self.cache_dir is not None:
            env["RESTIC_CACHE_DIR"] = str(self.cache_dir)
        return env

    def run(self, *args: str, timeout: float = 6 * 3600) -> str:
        exe = shutil.which(self.program) or self.program
        argv = [exe, *(a for o in self.options for a in ("-o", o)), *args]
        try:
            proc = subprocess.run(  # noqa: S603 - our program, our arguments
                argv, env=self.environment(), capture_output=True, text=True,
                timeout=timeout, check=False,
            )  # fmt: skip
        except FileNotFoundError:
            raise BackupError(f"{self.program} is not installed (apt install restic)") from None
        if proc.returncode != 0:
            raise BackupError(f"restic {args[0]} failed: {proc.stderr.strip()[-800:]}")
        return proc.stdout

    def initialized(self) -> bool:
        try:
            self.run("cat", "config", timeout=600)
        except BackupError:
            return False
        return True


def stage_sqlite(sources: Sequence[Path], stage: Path) -> list[Path]:
    """A consistent copy of each SQLite database in `stage` (online backup API)."""
    stage.mkdir(parents=True, exist_ok=True, mode=0o700)
    copies = []
    for src in sources:
        if not src.is_file():
            raise BackupError(f"{src} does not exist")
        dest = stage / f"{src.parent.name}-{src.name}"
        dest.unlink(missing_ok=True)
        source = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
        target = sqlite3.connect(dest)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        copies.append(dest)
    return copies


@dataclass(frozen=True)
class Snapshot:
    id: str
    time: str
    paths: list[str]


def backup(
    restic: Restic,
    paths: Sequence[Path],
    *,
    sqlite: Sequence[Path] = (),
    stage: Path,
    keep_daily: int = 7,
    keep_weekly: int = 4,
    textfile_dir: Path | None = None,
) -> Snapshot:
    """One snapshot of `paths` and staged copies of `sqlite`, then retention by count."""
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise BackupError(f"nothing at {', '.join(missing)}")
    if not restic.initialized():
        restic.run("init")
    staged = stage_sqlite(sqlite, stage) if sqlite else []
    targets = [str(p) for p in paths] + ([str(stage)] if staged else [])
    out = restic.run("backup", "--json", "--tag", TAG, *targets)
    summary = next(
        (json.loads(ln) for ln in out.splitlines() if '"message_type":"summary"' in ln), None
    )
    if summary is None:
        raise BackupError("restic backup reported no summary")
    restic.run("forget", "--tag", TAG, "--prune",
               "--keep-daily", str(keep_daily), "--keep-weekly", str(keep_weekly))  # fmt: skip
    if textfile_dir is not None:
        size = float(summary.get("total_bytes_processed", 0))
        write_textfile(
            textfile_dir,
            "mainplatform_offsite.prom",
            {
                METRIC: (
                    "When the last successful backup of each kind finished.",
                    [({"kind": "offsite"}, time.time())],
                ),
                SIZE_METRIC: (
                    "Size of the last successful backup of each kind.",
                    [({"kind": "offsite"}, size)],
                ),
            },
        )
    return Snapshot(summary["snapshot_id"], time.strftime("%FT%TZ", time.gmtime()), targets)


def check(restic: Restic, *, read_data: bool = True) -> None:
    """`restic check` (with --read-data: every pack's content against its hash)."""
    restic.run("check", *(["--read-data"] if read_data else []))


def restore(restic: Restic, target: Path, snapshot: str = "latest") -> None:
    """Restore `snapshot` (default the newest) under `target` (paths keep their full names)."""
    restic.run("restore", snapshot, "--target", str(target))
